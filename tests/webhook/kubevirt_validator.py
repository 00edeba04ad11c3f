# ruff: noqa: E501
"""Test helpers playing kube-apiserver's part after a mutating webhook answers.

``decode_patch``: the JSONPatch of an AdmissionReview response (applied with the API test server's
own RFC 6902 applier, ``kubeapi.patches.json_patch``, which fails on a missing parent exactly where a
sloppy patch would break a real apiserver).
``kubevirt_rejections``: KubeVirt virt-api's create-admitter rules that involve NUMA passthrough
(vmi-create-admitter ``validateNUMA`` and the dedicated-CPU thread rule), written independently
of kvnuma's own copy so a test fails if kvnuma ever produces a VMI that KubeVirt would reject.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

__all__ = ["decode_patch", "kubevirt_rejections"]


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
