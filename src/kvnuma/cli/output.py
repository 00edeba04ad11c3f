"""Printing for every kvnuma command: JSON, YAML and rich tables, to stdout.

* ``dumps_json``: sorted keys, two-space indent, a trailing newline — the same bytes for the same
  data on every run, so output can be diffed and committed. orjson's bytes: plain data (dicts
  with printable-ASCII keys, lists, tuples, printable-ASCII strings, 64-bit ints, bools, None) is
  written here without importing orjson (whose import pulls in dataclasses, uuid, platform,
  datetime and json: a third of ``kvnuma discover -o json``); anything else goes to orjson;
* ``dumps_yaml``: block style, keys in the order given (the JSON form's order reads well);
* ``console``: a rich Console on stdout; when stdout is not a terminal it prints plain text
  without colour and is wide enough that tables do not wrap;
* ``emit``: print a JSON-ready value as ``json`` or ``yaml``.

rich and PyYAML are imported only when used, so a command printing JSON starts fast.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from rich.console import Console

__all__ = ["DATA_FORMATS", "console", "dumps_json", "dumps_yaml", "emit", "write_text"]

DATA_FORMATS = ("json", "yaml")
_PIPE_WIDTH = 200


def dumps_json(data: Any) -> str:
    """Stable JSON text (sorted keys, indented, newline at the end)."""
    parts: list[str] = []
    try:
        _plain_json(data, "\n", parts)
    except _NotPlain:
        import orjson

        return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"
    parts.append("\n")
    return "".join(parts)


class _NotPlain(Exception):
    """The value needs orjson (a float, non-ASCII or escaped text, a big int, another type)."""


_INT_RANGE = range(-(1 << 63), 1 << 64)  # orjson's: wider ints are its error to raise
_MAX_DEPTH = 128  # deeper goes to orjson (its recursion limit is its error to raise)


def _plain_string(value: object) -> str:
    if type(value) is not str or not (value.isascii() and value.isprintable()):
        raise _NotPlain
    if '"' in value or "\\" in value:
        raise _NotPlain
    return f'"{value}"'


def _plain_json(value: object, newline: str, out: list[str]) -> None:
    """Append ``value`` as OPT_INDENT_2 | OPT_SORT_KEYS JSON; ``newline`` is "\\n" + the indent."""
    kind = type(value)
    if kind is str:
        out.append(_plain_string(value))
    elif kind is bool or value is None:
        out.append("true" if value is True else "false" if value is False else "null")
    elif kind is int:
        if value not in _INT_RANGE:
            raise _NotPlain
        out.append(str(value))
    elif kind is dict or kind is list or kind is tuple:
        if len(newline) > 2 * _MAX_DEPTH:
            raise _NotPlain
        assert isinstance(value, dict | list | tuple)
        if not value:
            out.append("{}" if kind is dict else "[]")
            return
        inner = newline + "  "
        if isinstance(value, dict):
            for key in value:
                _plain_string(key)
            out.append("{")
            for key in sorted(value):
                out.append(f'{inner}"{key}": ')
                _plain_json(value[key], inner, out)
                out.append(",")
        else:
            out.append("[")
            for item in value:
                out.append(inner)
                _plain_json(item, inner, out)
                out.append(",")
        out[-1] = newline + ("}" if kind is dict else "]")
    else:
        raise _NotPlain


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
