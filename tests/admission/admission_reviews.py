"""Builders for VMIs and AdmissionReviews used by the decision tables."""

from __future__ import annotations

from typing import Any


def vmi(
    *,
    cpu: dict[str, Any] | None = None,
    memory: dict[str, Any] | None = None,
    requests: dict[str, Any] | None = None,
    limits: dict[str, Any] | None = None,
) -> dict[str, Any]:
    domain: dict[str, Any] = {"devices": {}}
    if cpu is not None:
        domain["cpu"] = cpu
    if memory is not None:
        domain["memory"] = memory
    resources: dict[str, Any] = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    if resources:
        domain["resources"] = resources
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"name": "vm", "namespace": "vms"},
        "spec": {"domain": domain},
    }


def large_dedicated(vcpus: int = 32, memory: str = "48Gi", page: str = "1Gi") -> dict[str, Any]:
    return vmi(
        cpu={"cores": vcpus, "dedicatedCpuPlacement": True},
        memory={"guest": memory, "hugepages": {"pageSize": page}},
        requests={"memory": memory},
    )


def review(
    obj: object,
    *,
    uid: str = "u-1",
    operation: str = "CREATE",
    kind: str = "VirtualMachineInstance",
    dry_run: bool = False,
) -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "kubevirt.io", "version": "v1", "kind": kind},
            "resource": {"group": "kubevirt.io", "version": "v1", "resource": "virtualmachineinstances"},
            "namespace": "vms",
            "operation": operation,
            "object": obj,
            "dryRun": dry_run,
        },
    }
