"""Fault injection for the test server: failed requests, slow requests, dropped watch streams.

Rules match on the Kubernetes verb (``get``, ``list``, ``watch``, ``patch``, ``create``,
``update``, ``delete``, or ``*``) and a regular expression searched in the request path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from kubeapi.status import ApiFailure

__all__ = ["Faults"]


@dataclass
class _Rule:
    verb: str
    path: re.Pattern[str]
    remaining: int | None  # None: forever

    def take(self, verb: str, path: str) -> bool:
        if self.remaining == 0 or self.verb not in ("*", verb) or not self.path.search(path):
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True


@dataclass
class _Failure(_Rule):
    status: int
    retry_after: int | None
    message: str


@dataclass
class _Delay(_Rule):
    seconds: float


class Faults:
    def __init__(self, drop: Callable[[], None]) -> None:
        self._failures: list[_Failure] = []
        self._delays: list[_Delay] = []
        self._drop = drop

    def fail_next(
        self,
        verb: str,
        path_regex: str,
        status: int,
        count: int = 1,
        *,
        retry_after: int | None = None,
        message: str = "injected failure",
    ) -> None:
        """The next ``count`` matching requests answer ``status`` with a Status body.
        A 429 carries ``Retry-After`` (``retry_after`` seconds, default 1)."""
        if status == 429 and retry_after is None:
            retry_after = 1
        self._failures.append(_Failure(verb, re.compile(path_regex), count, status, retry_after, message))

    def slow(self, verb: str, path_regex: str, seconds: float, count: int | None = None) -> None:
        """Matching requests wait ``seconds`` before being served (``count`` of them, or all)."""
        self._delays.append(_Delay(verb, re.compile(path_regex), count, seconds))

    def drop_watches(self) -> None:
        """Cut every open watch stream mid-flight (the connection closes, no final chunk)."""
        self._drop()

    def clear(self) -> None:
        self._failures.clear()
        self._delays.clear()

    def failure_for(self, verb: str, path: str) -> ApiFailure | None:
        for rule in self._failures:
            if rule.take(verb, path):
                headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else {}
                return ApiFailure(rule.status, rule.message, headers=headers)
        return None

    def delay_for(self, verb: str, path: str) -> float:
        return sum(rule.seconds for rule in self._delays if rule.take(verb, path))
