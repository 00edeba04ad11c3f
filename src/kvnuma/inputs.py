"""Reading the documents users hand to kvnuma (YAML or JSON files), with one-line errors.

A neutral shell module: the CLI and the webhook's file source both read through it."""

from __future__ import annotations

import json
import os
import select
import stat
import sys
from pathlib import Path
from typing import Any

import yaml

from kvnuma.errors import InputError

__all__ = [
    "FIFO_WAIT_SECONDS",
    "MAX_INPUT_BYTES",
    "STDIN",
    "check_output_folder",
    "check_output_path",
    "check_shape",
    "name_of",
    "parse_documents",
    "read_document",
    "read_documents",
    "read_text",
]

MAX_INPUT_BYTES = 16 << 20
"""The largest input document (16 MiB), from a file, a FIFO or a pipe alike."""

FIFO_WAIT_SECONDS = 5.0
"""How long a FIFO or device named as an input may stay silent (no writer, no data) before it
is an error: a FIFO is read once, to its end, and never hangs a command."""

STDIN = "-"
"""The path that means standard input (``--vmi -``)."""


def name_of(path: Path) -> str:
    """How errors name ``path``: ``<stdin>`` for ``-``."""
    return "<stdin>" if str(path) == STDIN else str(path)


def read_text(path: Path) -> str:
    """The UTF-8 text of ``path`` (``-``: standard input), at most ``MAX_INPUT_BYTES``; any
    problem (missing, a folder, permission, a FIFO with no writer, an endless pipe, not UTF-8)
    is one InputError naming the path."""
    if str(path) == STDIN:
        data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)  # an endless pipe stops at the cap
        if len(data) > MAX_INPUT_BYTES:
            raise InputError("<stdin>", f"input is larger than {MAX_INPUT_BYTES >> 20} MiB")
        return _decode(data, "<stdin>")
    name = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except FileNotFoundError:
        raise InputError(name, "no such file") from None
    except PermissionError:
        raise InputError(name, "permission denied") from None
    except OSError as error:
        raise InputError(name, f"unreadable: {error.strerror or error}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(name, "is a directory, expected a file")
        if stat.S_ISREG(mode):
            os.set_blocking(fd, True)
            data = _read_fd(fd, name, wait=None)
        else:  # a FIFO, a character device, a socket: read once, with a bounded wait
            data = _read_fd(fd, name, wait=FIFO_WAIT_SECONDS)
    finally:
        os.close(fd)
    return _decode(data, name)


def _read_fd(fd: int, name: str, *, wait: float | None) -> bytes:
    """Up to ``MAX_INPUT_BYTES`` from ``fd`` to its end; more is an error (an endless pipe stops
    at the cap). With ``wait``, each silence longer than ``wait`` seconds is an error."""
    chunks: list[bytes] = []
    size = 0
    poller = None
    if wait is not None:
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP)
    while True:
        if poller is not None and wait is not None and not poller.poll(int(wait * 1000)):
            problem = "no writer" if not chunks else "the writer stopped sending"
            raise InputError(name, f"a FIFO or device: {problem} within {wait:g} s")
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            continue
        except OSError as error:
            raise InputError(name, f"unreadable: {error.strerror or error}") from None
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_INPUT_BYTES:
            raise InputError(name, f"input is larger than {MAX_INPUT_BYTES >> 20} MiB")
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(name, f"not UTF-8 text ({error.reason} at byte {error.start})") from None


def check_output_path(path: Path, *, option: str) -> None:
    """Before any work: ``path`` (an output file) must be writable where it is — its folder
    exists and is a folder, and ``path`` itself is not a folder. ``-`` (stdout) always is."""
    if str(path) == STDIN:
        return
    if path.is_dir():
        raise InputError(f"{option} {path}", "is a directory, expected a file")
    parent = path.parent
    if not parent.exists():
        raise InputError(f"{option} {path}", f"folder {parent} does not exist")
    if not parent.is_dir():
        raise InputError(f"{option} {path}", f"{parent} is not a folder")


def check_output_folder(path: Path, *, option: str) -> None:
    """Before any work: ``path`` must be an existing folder (or a new one in an existing folder)."""
    if path.exists() and not path.is_dir():
        raise InputError(f"{option} {path}", "is a file, expected a folder")
    if not path.exists() and not path.parent.is_dir():
        raise InputError(f"{option} {path}", f"folder {path.parent} does not exist")


def read_documents(path: Path) -> list[dict[str, Any]]:
    """Every non-empty YAML (or JSON) document in ``path``; each must be an object."""
    return parse_documents(read_text(path), source=name_of(path))


MAX_YAML_BYTES = 2 << 20
"""The largest YAML input (2 MiB: YAML parses at a few MB/s); JSON may be ``MAX_INPUT_BYTES``."""

MAX_DEPTH = 100
"""The deepest nesting of objects and lists a document may have (a VMI is about 10 deep)."""

MAX_VALUES = 1_000_000
"""The most values (objects, lists and scalars, counted through YAML aliases) a document may hold."""


def parse_documents(text: str, *, source: str) -> list[dict[str, Any]]:
    """Every non-empty YAML (or JSON) document in ``text`` (read from ``source``). JSON is parsed
    with ``json`` (fast, any size up to the input cap); YAML with PyYAML's safe loader, at most
    ``MAX_YAML_BYTES``. Too deep (``MAX_DEPTH``) or too many values (``MAX_VALUES``, which also
    stops YAML alias bombs) is one InputError."""
    documents: list[Any] | None = None
    if text.lstrip()[:1] in ("{", "["):
        try:
            documents = [json.loads(text)]
        except RecursionError:
            raise InputError(source, f"JSON nested too deeply (the limit is {MAX_DEPTH} levels)") from None
        except ValueError as error:
            if len(text) > MAX_YAML_BYTES:  # too big for YAML: report the JSON error
                raise InputError(source, f"malformed JSON: {error}") from None
    if documents is None:
        if len(text) > MAX_YAML_BYTES:
            raise InputError(
                source,
                f"YAML input larger than {MAX_YAML_BYTES >> 20} MiB (JSON up to {MAX_INPUT_BYTES >> 20} MiB)",
            )
        documents = _load_yaml(text, source)
    documents = [doc for doc in documents if doc is not None]
    for index, doc in enumerate(documents):
        if not isinstance(doc, dict):
            raise InputError(source, f"document {index + 1} is a {type(doc).__name__}, expected an object")
        check_shape(doc, source=source)
    return documents


def _load_yaml(text: str, source: str) -> list[Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return list(yaml.load_all(text, Loader=loader))
    except RecursionError:
        raise InputError(source, f"YAML nested too deeply (the limit is {MAX_DEPTH} levels)") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "malformed YAML"
        raise InputError(source, f"malformed YAML/JSON{where}: {problem}") from None


def check_shape(document: object, *, source: str) -> None:
    """InputError if ``document`` nests deeper than ``MAX_DEPTH`` or holds more than
    ``MAX_VALUES`` values (walked without recursion, so neither can exhaust the stack)."""
    stack: list[tuple[object, int]] = [(document, 1)]
    seen = 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise InputError(source, f"more than {MAX_VALUES} values (YAML aliases expanding?)")
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth >= MAX_DEPTH and children:
            raise InputError(source, f"nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children)


def read_document(path: Path) -> dict[str, Any]:
    """The single YAML/JSON object in ``path``."""
    documents = read_documents(path)
    if len(documents) != 1:
        raise InputError(name_of(path), f"expected one document, found {len(documents)}")
    return documents[0]
