"""Structural pruning of custom resources, as kube-apiserver does it for a CRD's schema.

Following "Field pruning" in the CustomResourceDefinition documentation and apiextensions-apiserver's
``schema/pruning``: on every write, fields a structural schema does not specify are dropped, at any
depth, unless the schema says ``x-kubernetes-preserve-unknown-fields: true`` there (declared
properties below it are still pruned); ``additionalProperties`` specifies every key of a map,
``items`` every element of a list. ``apiVersion``, ``kind`` and ``metadata`` are kept at the root
and in ``x-kubernetes-embedded-resource: true`` objects. ``prune`` reports the dotted paths it
dropped (the unknown fields that ``fieldValidation`` warns about or rejects).
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["META_KEPT", "prune", "prune_object"]

META_KEPT = ("apiVersion", "kind", "metadata")


def prune_object(obj: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A pruned copy of ``obj``."""
    out = copy.deepcopy(obj)
    prune(out, schema)
    return out


def prune(obj: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Drop from ``obj`` (in place) what ``schema`` does not declare; the dotted paths dropped."""
    dropped: list[str] = []
    _prune(obj, schema, "", dropped, root=True)
    return dropped


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _prune(value: Any, schema: Any, path: str, dropped: list[str], *, root: bool = False) -> None:
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
        embedded = root or schema.get("x-kubernetes-embedded-resource") is True
        for key in list(value):
            child_path = _join(path, key)
            if embedded and key in META_KEPT:
                continue
            if properties is not None and key in properties:
                _prune(value[key], properties[key], child_path, dropped)
            elif isinstance(additional, dict):
                _prune(value[key], additional, child_path, dropped)
            elif additional is True or preserve:
                continue
            else:
                del value[key]
                dropped.append(child_path)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            _prune(item, schema["items"], f"{path}[{index}]", dropped)
