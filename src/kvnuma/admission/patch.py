"""The RFC 6902 JSONPatch that turns on ``spec.domain.cpu.numa.guestMappingPassthrough: {}``.

A JSON merge patch cannot carry this change reliably (an empty object is dropped by merge-style
tools), so the webhook always answers with ``add`` operations. ``add`` fails on a missing parent,
so the patch adds the first missing (or null) level with everything below it nested inside.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["PASSTHROUGH_PATH", "passthrough_patch"]

PASSTHROUGH_PATH = ("spec", "domain", "cpu", "numa", "guestMappingPassthrough")


def passthrough_patch(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ops that add guestMappingPassthrough to ``obj``; [] when it is already there."""
    node: Any = obj
    for depth, key in enumerate(PASSTHROUGH_PATH):
        child = node.get(key) if isinstance(node, Mapping) else None
        if child is None or not isinstance(child, Mapping):
            if depth == len(PASSTHROUGH_PATH) - 1 and child is not None:
                return []
            value: dict[str, Any] = {}
            for inner in reversed(PASSTHROUGH_PATH[depth + 1 :]):
                value = {inner: value}
            return [{"op": "add", "path": "/" + "/".join(PASSTHROUGH_PATH[: depth + 1]), "value": value}]
        node = child
    return []
