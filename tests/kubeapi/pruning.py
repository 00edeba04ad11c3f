"""Structural pruning of custom resources, as kube-apiserver does it for a CRD's schema.

Following "Field pruning" in the CustomResourceDefinition documentation: on every write, fields a
structural schema does not specify are dropped, at any depth, unless the schema says
``x-kubernetes-preserve-unknown-fields: true`` there; ``additionalProperties`` specifies every key of
a map; ``items`` every element of a list. At the root, ``apiVersion``, ``kind`` and ``metadata`` are
kept as they are (metadata is the server's own). ``KubeApiServer.install_schema(kind, schema)`` turns
it on for a resource (a minimum for the KubeVirt CRD tests; the CRD API itself is issue 13 §2).
"""

from __future__ import annotations

from typing import Any

__all__ = ["prune_object"]

_ROOT_KEPT = ("apiVersion", "kind", "metadata")


def prune_object(obj: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if key in _ROOT_KEPT:
            out[key] = value
        elif key in properties:
            out[key] = _prune(value, properties[key])
        elif schema.get("x-kubernetes-preserve-unknown-fields") is True:
            out[key] = value
    return out


def _prune(value: Any, schema: dict[str, Any]) -> Any:
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    if isinstance(value, dict):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        if properties is not None:
            return {
                key: _prune(item, properties[key]) if key in properties else item
                for key, item in value.items()
                if key in properties or preserve
            }
        if isinstance(extra, dict):
            return {key: _prune(item, extra) for key, item in value.items()}
        return value if preserve or extra is True else {}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_prune(item, schema["items"]) for item in value]
    return value
