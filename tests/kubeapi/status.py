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

    @classmethod
    def too_large(cls, resource_version: str) -> ApiFailure:
        return cls(
            504,
            f"Too large resource version: {resource_version}, current: (waited for it)",
            reason="Timeout",
            details={
                "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                "retryAfterSeconds": 1,
            },
        )

    @classmethod
    def invalid_options(cls, field: str, value: str, detail: str) -> ApiFailure:
        """422 Invalid for ListOptions, as ValidateListOptions answers."""
        cause = {
            "reason": "FieldValueInvalid",
            "message": f"Invalid value: {value!r}: {detail}",
            "field": field,
        }
        return cls(
            422,
            f'ListOptions.meta.k8s.io "" is invalid: {field}: Invalid value: "{value}": {detail}',
            reason="Invalid",
            details={"group": "meta.k8s.io", "kind": "ListOptions", "causes": [cause]},
        )

    @classmethod
    def invalid(cls, kind: str, group: str, name: str, causes: list[dict[str, str]]) -> ApiFailure:
        """422 Invalid with one cause per field, as apimachinery's NewInvalid answers."""
        what = f"{kind}.{group}" if group else kind
        listed = ", ".join(f"{c['field']}: {c['message']}" for c in causes)
        if len(causes) > 1:
            listed = "[" + listed + "]"
        return cls(
            422,
            f'{what} "{name}" is invalid: {listed}',
            reason="Invalid",
            details={"name": name, "group": group, "kind": kind, "causes": causes},
        )
