# ruff: noqa: E501
"""Test helpers playing kube-apiserver's part after a mutating webhook answers.

``apply_json_patch``: a strict RFC 6902 applier (add/remove/replace/test; ``add`` fails on a missing
parent, exactly where a sloppy patch would break a real apiserver).
``kubevirt_rejections``: KubeVirt virt-api's create-admitter rules that involve NUMA passthrough
(vmi-create-admitter ``validateNUMA`` and the dedicated-CPU thread rule), written independently
of kvnuma's own copy so a test fails if kvnuma ever produces a VMI that KubeVirt would reject.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

import orjson

__all__ = ["PatchError", "apply_json_patch", "decode_patch", "kubevirt_rejections"]


class PatchError(Exception):
    pass


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"bad pointer {pointer!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def _parent(doc: Any, pointer: str) -> tuple[Any, str]:
    parts = _tokens(pointer)
    if not parts:
        raise PatchError("the root cannot be patched here")
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise PatchError(f"{pointer}: parent {part!r} does not exist")
    if not isinstance(node, dict | list):
        raise PatchError(f"{pointer}: parent is not a container")
    return node, parts[-1]


def apply_json_patch(doc: Any, ops: list[dict[str, Any]]) -> Any:
    result = copy.deepcopy(doc)
    for op in ops:
        kind = op.get("op")
        parent, key = _parent(result, op["path"])
        if kind == "add":
            if isinstance(parent, list):
                index = len(parent) if key == "-" else int(key)
                parent.insert(index, copy.deepcopy(op["value"]))
            else:
                parent[key] = copy.deepcopy(op["value"])
        elif kind in ("remove", "replace", "test"):
            if isinstance(parent, dict) and key not in parent:
                raise PatchError(f"{op['path']}: does not exist")
            if kind == "remove":
                del parent[key if isinstance(parent, dict) else int(key)]
            elif kind == "replace":
                parent[key if isinstance(parent, dict) else int(key)] = copy.deepcopy(op["value"])
            elif parent[key if isinstance(parent, dict) else int(key)] != op["value"]:
                raise PatchError(f"{op['path']}: test failed")
        else:
            raise PatchError(f"unsupported op {kind!r}")
    return result


def decode_patch(response: dict[str, Any]) -> list[dict[str, Any]]:
    body = response["response"]
    if "patch" not in body:
        return []
    assert body["patchType"] == "JSONPatch"
    ops = orjson.loads(base64.b64decode(body["patch"]))
    assert isinstance(ops, list)
    return ops


def kubevirt_rejections(vmi: dict[str, Any]) -> list[str]:
    """The messages virt-api's create admitter would answer for ``vmi`` (NUMA-related rules only)."""
    domain = vmi.get("spec", {}).get("domain", {})
    cpu = domain.get("cpu") or {}
    memory = domain.get("memory") or {}
    causes = []
    numa = cpu.get("numa")
    if isinstance(numa, dict) and numa.get("guestMappingPassthrough") is not None:
        if cpu.get("dedicatedCpuPlacement") is not True:
            causes.append(
                "spec.domain.cpu.dedicatedCpuPlacement must be set to true when NUMA topology strategy is set "
                "in spec.domain.cpu.numa.guestMappingPassthrough"
            )
        if memory.get("hugepages") is None:
            causes.append(
                "spec.domain.memory.hugepages must be requested when NUMA topology strategy is set in "
                "spec.domain.cpu.numa.guestMappingPassthrough"
            )
    threads = cpu.get("threads") or 0
    if cpu.get("dedicatedCpuPlacement") is True and threads > 2:
        causes.append(
            f"Not more than two threads must be provided at spec.domain.cpu.threads (got {threads}) "
            "when DedicatedCPUPlacement is true"
        )
    if cpu.get("realtime") is not None and not (isinstance(numa, dict) and "guestMappingPassthrough" in numa):
        causes.append(
            "spec.domain.cpu.numa.guestMappingPassthrough must be defined when spec.domain.cpu.realtime is used"
        )
    return causes
