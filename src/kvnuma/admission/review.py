"""AdmissionReview v1 in and out, checked field by field.

``ReviewRequest.parse`` raises ``InputError`` only when no well-formed answer is possible (not an
AdmissionReview v1, or no uid to echo): the server turns that into a 400 with the message.
Everything else wrong with the request (another kind, a malformed VMI) is answered by the
decision with an allowed response and a warning.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from kvnuma.errors import InputError

__all__ = ["API_VERSION", "ReviewRequest", "build_response"]

API_VERSION = "admission.k8s.io/v1"
_MAX_UID = 256


@dataclass(frozen=True, slots=True)
class ReviewRequest:
    uid: str
    operation: str
    group: str
    version: str
    kind: str
    obj: object
    dry_run: bool
    namespace: str
    name: str

    @property
    def is_vmi(self) -> bool:
        return self.group == "kubevirt.io" and self.kind == "VirtualMachineInstance"

    @classmethod
    def parse(cls, review: object, *, source: str = "AdmissionReview") -> ReviewRequest:
        if not isinstance(review, Mapping):
            raise InputError(source, f"expected a JSON object, got {_type(review)}")
        api_version = review.get("apiVersion")
        kind = review.get("kind")
        if kind != "AdmissionReview":
            raise InputError(f"{source}: kind", f"expected AdmissionReview, got {_short(kind)}")
        if api_version != API_VERSION:
            raise InputError(f"{source}: apiVersion", f"expected {API_VERSION}, got {_short(api_version)}")
        request = review.get("request")
        if not isinstance(request, Mapping):
            raise InputError(f"{source}: request", f"expected an object, got {_type(request)}")
        uid = request.get("uid")
        if not isinstance(uid, str) or not uid or len(uid) > _MAX_UID:
            raise InputError(f"{source}: request.uid", f"expected a non-empty string, got {_short(uid)}")
        gvk = request.get("kind")
        gvk = gvk if isinstance(gvk, Mapping) else {}
        return cls(
            uid=uid,
            operation=_text(request.get("operation")),
            group=_text(gvk.get("group")),
            version=_text(gvk.get("version")),
            kind=_text(gvk.get("kind")),
            obj=request.get("object"),
            dry_run=request.get("dryRun") is True,
            namespace=_text(request.get("namespace")),
            name=_text(request.get("name")),
        )


def build_response(
    uid: str,
    *,
    allowed: bool,
    patch: Sequence[Mapping[str, Any]] = (),
    warnings: Sequence[str] = (),
    audit: Mapping[str, str] | None = None,
    status_code: int | None = None,
    message: str = "",
) -> dict[str, Any]:
    """An AdmissionReview v1 response; the patch is base64 JSONPatch, as the API requires."""
    response: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(orjson.dumps(list(patch))).decode("ascii")
    if warnings:
        response["warnings"] = list(warnings)
    if audit:
        response["auditAnnotations"] = dict(audit)
    if status_code is not None:
        response["status"] = {"code": status_code, "message": message}
    return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": response}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _type(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
