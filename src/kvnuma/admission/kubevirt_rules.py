"""Would KubeVirt's virt-api reject this VMI once it carries guestMappingPassthrough?

These mirror the create admitter's checks that the mutation can trip (``validateNUMA`` and the
dedicated-CPU thread rule): the webhook must never turn an admissible VMI into a rejected one.
``hugepages_required`` follows KubeVirt's current rule (VEP 134 proposes dropping it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kvnuma.vmi import VmiSpec

__all__ = ["create_admitter_causes", "passthrough_blockers"]

_MAX_DEDICATED_THREADS = 2


def passthrough_blockers(spec: VmiSpec, *, hugepages_required: bool = True) -> list[str]:
    """Short reasons KubeVirt would refuse passthrough on ``spec``; [] when it would accept it."""
    blockers: list[str] = []
    if not spec.dedicated_cpu_placement:
        blockers.append("no dedicatedCpuPlacement")
    if hugepages_required and not spec.has_hugepages:
        blockers.append("no memory.hugepages")
    if spec.dedicated_cpu_placement and spec.threads > _MAX_DEDICATED_THREADS:
        blockers.append(f"threads {spec.threads} > 2 with dedicated CPUs")
    return blockers


def create_admitter_causes(spec: VmiSpec, vmi: Mapping[str, Any]) -> list[str]:
    """The messages KubeVirt's VMI create admitter (virt-api) gives ``vmi`` for the CPU, NUMA,
    realtime and huge page rules, in its words; [] when it admits the VMI. ``spec`` is ``vmi``
    read by ``VmiSpec`` (after the mutator's defaults, when the caller applied them)."""
    causes: list[str] = []
    page = spec.hugepage_size_bytes
    if spec.has_hugepages and page:
        domain = (vmi.get("spec") or {}).get("domain") or {}
        written = ((domain.get("resources") or {}).get("requests") or {}).get("memory")
        if written is None:  # the mutator copies memory.guest into the request
            written = (domain.get("memory") or {}).get("guest")
        memory = spec.memory_request_bytes or spec.memory_guest_bytes
        if written is not None and memory is not None and memory % page:
            size = (domain.get("memory") or {}).get("hugepages", {}).get("pageSize")
            causes.append(
                f"spec.domain.resources.requests.memory '{written}' is not a multiple of the page size "
                f"spec.domain.hugepages.size '{size}'"
            )
    if spec.dedicated_cpu_placement and spec.threads > _MAX_DEDICATED_THREADS:
        causes.append(
            f"Not more than two threads must be provided at spec.domain.cpu.threads (got {spec.threads}) "
            "when DedicatedCPUPlacement is true"
        )
    passthrough = "spec.domain.cpu.numa.guestMappingPassthrough"
    if spec.numa_passthrough:
        if not spec.dedicated_cpu_placement:
            causes.append(
                "spec.domain.cpu.dedicatedCpuPlacement must be set to true when NUMA topology strategy "
                f"is set in {passthrough}"
            )
        if not spec.has_hugepages:
            causes.append(
                "spec.domain.memory.hugepages must be requested when NUMA topology strategy is set in "
                f"{passthrough}"
            )
    if spec.isolate_emulator_thread and not spec.dedicated_cpu_placement:
        causes.append("IsolateEmulatorThread should be only set in combination with DedicatedCPUPlacement")
    if spec.realtime:
        if not spec.dedicated_cpu_placement:
            causes.append(
                "spec.domain.cpu.dedicatedCpuPlacement must be set to true when "
                "spec.domain.cpu.realtime is used"
            )
        if not spec.numa_passthrough:
            causes.append(f"{passthrough} must be defined when spec.domain.cpu.realtime is used")
    if spec.max_sockets and spec.topology.sockets > spec.max_sockets:
        causes.append("Number of sockets in CPU topology is greater than the maximum sockets allowed")
    return causes
