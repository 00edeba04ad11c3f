"""Reading the documents users hand to kvnuma (YAML or JSON files), with one-line errors.

A neutral shell module: the CLI and the webhook's file source both read through it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from kvnuma.errors import InputError

__all__ = ["STDIN", "name_of", "parse_documents", "read_document", "read_documents", "read_text"]

_MAX_BYTES = 16 << 20


STDIN = "-"
"""The path that means standard input (``--vmi -``)."""


def name_of(path: Path) -> str:
    """How errors name ``path``: ``<stdin>`` for ``-``."""
    return "<stdin>" if str(path) == STDIN else str(path)


def read_text(path: Path) -> str:
    if str(path) == STDIN:
        return _read_stdin()
    try:
        if path.stat().st_size > _MAX_BYTES:
            raise InputError(str(path), f"file is larger than {_MAX_BYTES >> 20} MiB")
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(str(path), "no such file") from None
    except IsADirectoryError:
        raise InputError(str(path), "is a directory, expected a file") from None
    except PermissionError:
        raise InputError(str(path), "permission denied") from None
    except UnicodeDecodeError as error:
        raise InputError(str(path), f"not UTF-8 text ({error.reason} at byte {error.start})") from None


def _read_stdin() -> str:
    """Standard input, at most ``_MAX_BYTES`` (a larger or endless pipe is an error)."""
    data = sys.stdin.buffer.read(_MAX_BYTES + 1)
    if len(data) > _MAX_BYTES:
        raise InputError("<stdin>", f"input is larger than {_MAX_BYTES >> 20} MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError("<stdin>", f"not UTF-8 text ({error.reason} at byte {error.start})") from None


def read_documents(path: Path) -> list[dict[str, Any]]:
    """Every non-empty YAML (or JSON) document in ``path``; each must be an object."""
    return parse_documents(read_text(path), source=name_of(path))


def parse_documents(text: str, *, source: str) -> list[dict[str, Any]]:
    """Every non-empty YAML (or JSON) document in ``text`` (read from ``source``)."""
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "malformed YAML"
        raise InputError(source, f"malformed YAML/JSON{where}: {problem}") from None
    for index, doc in enumerate(documents):
        if not isinstance(doc, dict):
            raise InputError(source, f"document {index + 1} is a {type(doc).__name__}, expected an object")
    return documents


def read_document(path: Path) -> dict[str, Any]:
    """The single YAML/JSON object in ``path``."""
    documents = read_documents(path)
    if len(documents) != 1:
        raise InputError(name_of(path), f"expected one document, found {len(documents)}")
    return documents[0]
