"""The guest NUMA cells a passthrough VM has on a node, as KubeVirt would build them.

The pod's exclusive CPUs are assumed packed into the fewest host cells (what an aligning
Topology Manager and the CPU manager's NUMA-packed allocation give): the smallest ``k`` such
that the ``k`` largest cells hold them, those cells in host order. KubeVirt then pins vCPUs
draining the cells in host order; every host cell that receives a vCPU becomes one guest cell.
Memory is split by the engine's ``kvnuma.placement.split_memory`` (KubeVirt's ``numaMapping``
formula: equal shares in whole pages, the leftover pages to the first cells).

From a Node object only the largest cell is known (VEP 135). A pod that fits it is packed into
that one cell (the plan says so in ``assumptions``: the CPUs are taken as free). A larger pod
spans cells the Node object says nothing about, so the guest's cells are not known: the plan
has no cells and ``unknown`` says why (never a guess at the other cells' sizes).
"""

from __future__ import annotations

from dataclasses import dataclass

from kvnuma.errors import InputError, RuleError
from kvnuma.migration.nodes import NODE_OBJECT_LIMIT, NodeLayout
from kvnuma.migration.size_class import pod_cpus
from kvnuma.placement.memory import split_memory
from kvnuma.vmi import VmiSpec

__all__ = ["GuestCell", "GuestPlan", "pack", "plan_guest"]


@dataclass(frozen=True, slots=True)
class GuestCell:
    index: int
    vcpus: int
    memory_bytes: int


@dataclass(frozen=True, slots=True)
class GuestPlan:
    cells: tuple[GuestCell, ...]
    """Empty when the VM has no guest NUMA (no guestMappingPassthrough) or they are ``unknown``."""
    page_size_bytes: int | None
    pod_cpus: int
    assumptions: tuple[str, ...] = ()
    unknown: str | None = None
    """Why the VM's guest cells cannot be known from the source (None when they are)."""
    vcpus: int = 0
    least_cells: int = 0
    """When ``unknown``: the fewest guest cells the vCPUs can have (cells of at most the largest)."""

    @property
    def passthrough(self) -> bool:
        """The VM has guest NUMA cells (known or not)."""
        return bool(self.cells) or self.unknown is not None


def pack(cell_cpus: list[int], cpus: int) -> list[int] | None:
    """Indexes (host order) of the fewest cells holding ``cpus``; None when all cells cannot."""
    by_size = sorted(range(len(cell_cpus)), key=lambda i: (-cell_cpus[i], i))
    chosen: list[int] = []
    total = 0
    for index in by_size:
        if total >= cpus:
            break
        chosen.append(index)
        total += cell_cpus[index]
    return sorted(chosen) if total >= cpus else None


def plan_guest(vmi: VmiSpec, node: NodeLayout) -> GuestPlan:
    cpus = pod_cpus(vmi)
    if not (vmi.numa_passthrough and vmi.dedicated_cpu_placement):
        return GuestPlan((), None, cpus, vcpus=vmi.vcpus)
    if vmi.hugepage_size_bytes is None:
        raise InputError(
            "spec.domain.cpu.numa.guestMappingPassthrough",
            "spec.domain.memory.hugepages must be requested when NUMA topology strategy is set",
        )
    memory = vmi.engine_memory_bytes
    if memory is None:
        raise InputError("spec.domain.memory.guest", "no guest memory (memory.guest or resources.memory)")
    assumptions: tuple[str, ...] = ()
    page = vmi.hugepage_size_bytes
    if node.cell_cpus is not None:
        sizes = list(node.cell_cpus)
    elif cpus <= node.max_cell_cpus:
        sizes = [node.max_cell_cpus]
        assumptions = (
            f"{node.name}: {NODE_OBJECT_LIMIT}; the pod's {cpus} CPUs are taken as packed into that "
            f"cell ({node.max_cell_cpus} CPUs), assuming they are free",
        )
    else:
        unknown = (
            f"the guest's cells on {node.name} are unknown: the pod's {cpus} CPUs exceed its largest "
            f"cell ({node.max_cell_cpus} CPUs) and {NODE_OBJECT_LIMIT}; give the source as "
            "capabilities XML or a sysfs root"
        )
        least = -(-vmi.vcpus // node.max_cell_cpus)
        return GuestPlan((), page, cpus, unknown=unknown, vcpus=vmi.vcpus, least_cells=least)
    chosen = pack(sizes, cpus)
    if chosen is None:
        raise RuleError(
            "node-cpus",
            needed=cpus,
            available=sum(sizes),
            detail=f"{node.name} has fewer online CPUs than the VM's pod needs",
        )
    vcpu_counts = []
    remaining = vmi.vcpus
    for index in chosen:
        take = min(remaining, sizes[index])
        if take:
            vcpu_counts.append(take)
        remaining -= take
    shares = split_memory(memory, page, vcpu_counts)  # the engine's own split, KubeVirt's formula
    cells = tuple(GuestCell(i, n, shares[i]) for i, n in enumerate(vcpu_counts))
    return GuestPlan(cells, page, cpus, assumptions, vcpus=vmi.vcpus)
