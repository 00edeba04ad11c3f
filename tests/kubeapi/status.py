"""Kubernetes ``Status`` objects (``kind: Status``) and the exception that carries one.

Every error the test server answers is a ``metav1.Status`` with ``code``, ``reason`` and
``message``, as kube-apiserver does; ``reason`` values are the ones apimachinery defines.
"""

from __future__ import annotations

from typing import Any

__all__ = ["REASONS", "ApiFailure", "status_body"]

REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def status_body(
    code: int, message: str, *, reason: str | None = None, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or REASONS.get(code, "Unknown"),
        "code": code,
    }
    if details:
        body["details"] = details
    return body


class ApiFailure(Exception):
    """Raised inside the server; turned into an HTTP response carrying a Status."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.body = status_body(code, message, reason=reason, details=details)
        self.headers = headers or {}

    @classmethod
    def not_found(cls, plural: str, name: str, group: str = "") -> ApiFailure:
        what = f"{plural}.{group}" if group else plural
        return cls(404, f'{what} "{name}" not found', details={"name": name, "group": group, "kind": plural})

    @classmethod
    def modified(cls, plural: str, name: str, group: str = "") -> ApiFailure:
        what = f"{plural}.{group}" if group else plural
        return cls(
            409,
            f'Operation cannot be fulfilled on {what} "{name}": the object has been modified; '
            "please apply your changes to the latest version and try again",
            details={"name": name, "group": group, "kind": plural},
        )

    @classmethod
    def expired(cls, resource_version: str, oldest: int) -> ApiFailure:
        return cls(410, f"too old resource version: {resource_version} ({oldest})", reason="Expired")
