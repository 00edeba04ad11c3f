"""Typed failures of the Kubernetes client.

    KubeError
    ├── ApiError         the API server answered with an error Status (code, reason, message)
    └── TransportError   no answer: connection refused, timed out, or the stream was cut

``kind`` names the failure for metrics and logs (``conflict``, ``throttled``, ``server``,
``expired``, ``refused``, ``timeout``, ``disconnected`` ...).
"""

from __future__ import annotations

from typing import Any

__all__ = ["RETRYABLE_CODES", "ApiError", "KubeError", "TransportError"]

RETRYABLE_CODES = frozenset({409, 429, 500, 502, 503, 504})

_KINDS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    409: "conflict",
    410: "expired",
    415: "unsupported-media-type",
    422: "invalid",
    429: "throttled",
}


class KubeError(Exception):
    kind = "error"

    @property
    def retryable(self) -> bool:
        return True


class ApiError(KubeError):
    def __init__(self, code: int, reason: str, message: str, *, retry_after: float | None = None) -> None:
        self.code = code
        self.reason = reason
        self.message = message
        self.retry_after = retry_after
        super().__init__(f"{code} {reason}: {message}")

    @classmethod
    def from_status(cls, code: int, body: Any, retry_after: str | None = None) -> ApiError:
        status = body if isinstance(body, dict) else {}
        delay: float | None = None
        if retry_after is not None:
            try:
                delay = max(0.0, float(retry_after))
            except ValueError:
                delay = None
        return cls(
            int(status.get("code") or code),
            str(status.get("reason") or "Unknown"),
            str(status.get("message") or f"HTTP {code}"),
            retry_after=delay,
        )

    @property
    def kind(self) -> str:  # type: ignore[override]
        if self.code >= 500:
            return "server"
        return _KINDS.get(self.code, f"http-{self.code}")

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE_CODES


class TransportError(KubeError):
    def __init__(self, kind: str, detail: str) -> None:
        self._kind = kind
        super().__init__(f"{kind}: {detail}")

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self._kind
