"""Structured logs: one JSON object a line on stderr (``ts``, ``level``, ``event``, fields)."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

import orjson

__all__ = ["JsonLog"]


class JsonLog:
    def __init__(self, stream: TextIO | None = None, **context: Any) -> None:
        self._stream = stream
        self._context = context

    def emit(self, level: str, event: str, **fields: Any) -> None:
        record = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "level": level,
            "event": event,
            **self._context,
            **fields,
        }
        stream = self._stream or sys.stderr
        stream.write(orjson.dumps(record, default=str).decode() + "\n")
        stream.flush()

    def info(self, event: str, **fields: Any) -> None:
        self.emit("info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self.emit("warning", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self.emit("error", event, **fields)
