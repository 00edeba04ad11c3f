"""Printing for every kvnuma command: JSON, YAML and rich tables, to stdout.

* ``dumps_json``: stdlib ``json`` with sorted keys, two-space indent and a trailing newline, so
  the same data gives the same bytes on every run (output can be diffed and committed);
* ``dumps_yaml``: block style, keys in the order given;
* ``console``: a rich Console on stdout; on a terminal it uses the terminal's width, on a pipe or
  a file plain text (no colour), tables unfolded and ``heading`` rules 80 columns wide;
* ``emit``: print a JSON-ready value as ``json`` or ``yaml``;
* ``human_bytes``: sizes in tables, one way (``4.96 GiB``, ``2 MiB``);
* ``count``: ``1 cell``, ``2 cells``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.rule import Rule

__all__ = [
    "DATA_FORMATS",
    "console",
    "count",
    "dumps_json",
    "dumps_yaml",
    "emit",
    "human_bytes",
    "write_file",
    "write_text",
]

DATA_FORMATS = ("json", "yaml")
_PIPE_TABLE_WIDTH = 160
_HEADING_WIDTH = 80


def dumps_json(data: Any) -> str:
    """Stable JSON text (sorted keys, indented, newline at the end)."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def dumps_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def write_text(text: str) -> None:
    """Write ``text`` to stdout as is (no rich markup, no wrapping); a failed write (other than
    a closed pipe) is an OSError naming ``<stdout>``."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as error:
        raise OSError(error.errno, error.strerror, "<stdout>") from error


def write_file(path: Path, text: str, *, mode: int | None = None) -> None:
    """Write ``text`` to the file ``path`` (then ``chmod`` it to ``mode``); a failure is an
    OSError naming ``path``."""
    try:
        path.write_text(text, encoding="utf-8")
        if mode is not None:
            path.chmod(mode)
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(path)) from error


def emit(data: Any, output: str) -> None:
    """Print ``data`` in a data format (``json`` or ``yaml``)."""
    if output == "json":
        write_text(dumps_json(data))
    elif output == "yaml":
        write_text(dumps_yaml(data))
    else:
        raise ValueError(f"unknown data format {output!r}")


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """rich ends the process with exit 1 on a closed pipe; the CLI's boundary ends it (0)."""
        raise BrokenPipeError


def console() -> Console:
    """A rich Console on stdout: the terminal's width on a terminal. On a pipe or a file: plain
    text, lines as long as they are (no wrapping), tables as wide as their cells need (up to
    ``_PIPE_TABLE_WIDTH``: no folded cells), headings ``_HEADING_WIDTH`` wide."""
    if sys.stdout.isatty():
        return _Console(highlight=False)
    return _Console(highlight=False, no_color=True, soft_wrap=True, width=_PIPE_TABLE_WIDTH)


def heading(out: Console, title: str) -> None:
    """A section heading: a rule with the title, as wide as the terminal (80 columns on a pipe)."""
    out.print(Rule(title), width=min(out.width, _HEADING_WIDTH) if not out.is_terminal else None)


_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_bytes(amount: int) -> str:
    """A size in binary units, one way for every table: exact in the largest unit that keeps it
    a whole number below 10,000 (``2 MiB``, ``1026 MiB``, ``128 GiB``), else two decimals of the
    largest unit (``7038712 KiB`` -> ``6.71 GiB``)."""
    if amount == 0:
        return "0 B"
    for power in range(len(_UNITS) - 1, -1, -1):
        whole, rest = divmod(amount, 1 << (10 * power))
        if rest == 0 and 0 < whole < 10_000:
            return f"{whole} {_UNITS[power]}"
    value = float(amount)
    unit = 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    return f"{value:.2f} {_UNITS[unit]}"


def count(number: int, noun: str, plural: str | None = None) -> str:
    """``1 cell``, ``2 cells`` (``plural`` for irregular nouns)."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"
