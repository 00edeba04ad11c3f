"""Would KubeVirt's virt-api reject this VMI once it carries guestMappingPassthrough?

These mirror the create admitter's checks that the mutation can trip (``validateNUMA`` and the
dedicated-CPU thread rule): the webhook must never turn an admissible VMI into a rejected one.
``hugepages_required`` follows KubeVirt's current rule (VEP 134 proposes dropping it).
"""

from __future__ import annotations

from kvnuma.vmi import VmiSpec

__all__ = ["passthrough_blockers"]

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
