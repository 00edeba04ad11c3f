"""Printing for every kvnuma command: JSON, YAML and rich tables, to stdout.

* ``dumps_json``: sorted keys, two-space indent, a trailing newline — the same bytes for the same
  data on every run, so output can be diffed and committed;
* ``dumps_yaml``: block style, keys in the order given (the JSON form's order reads well);
* ``console``: a rich Console on stdout; when stdout is not a terminal it prints plain text
  without colour and is wide enough that tables do not wrap;
* ``emit``: print a JSON-ready value as ``json`` or ``yaml``.

rich and PyYAML are imported only when used, so a command printing JSON starts fast.
"""

from __future__ import annotations

import sys

import orjson

TYPE_CHECKING = False  # not typing's: importing typing costs start-up time (mypy knows the name)
if TYPE_CHECKING:
    from typing import Any

    from rich.console import Console

__all__ = ["DATA_FORMATS", "console", "dumps_json", "dumps_yaml", "emit", "write_text"]

DATA_FORMATS = ("json", "yaml")
_PIPE_WIDTH = 200


def dumps_json(data: Any) -> str:
    """Stable JSON text (sorted keys, indented, newline at the end)."""
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"


def dumps_yaml(data: Any) -> str:
    import yaml  # imported when used: it costs ~14 ms of every command's start-up

    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def write_text(text: str) -> None:
    """Write ``text`` to stdout as is (no rich markup, no wrapping)."""
    sys.stdout.write(text)
    sys.stdout.flush()


def emit(data: Any, output: str) -> None:
    """Print ``data`` in a data format (``json`` or ``yaml``)."""
    if output == "json":
        write_text(dumps_json(data))
    elif output == "yaml":
        write_text(dumps_yaml(data))
    else:
        raise ValueError(f"unknown data format {output!r}")


def console() -> Console:
    """A rich Console on stdout; plain and wide when stdout is a pipe or a file."""
    from rich.console import Console  # imported when used: ~10 ms of start-up

    if sys.stdout.isatty():
        return Console(highlight=False)
    return Console(highlight=False, no_color=True, width=_PIPE_WIDTH, soft_wrap=False)
