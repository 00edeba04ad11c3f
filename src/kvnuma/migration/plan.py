"""The guest NUMA cells a passthrough VM has on a node, as KubeVirt would build them.

The pod's exclusive CPUs are assumed packed into the fewest host cells (what an aligning
Topology Manager and the CPU manager's NUMA-packed allocation give): the smallest ``k`` such
that the ``k`` largest cells hold them, those cells in host order. KubeVirt then pins vCPUs
draining the cells in host order; every host cell that receives a vCPU becomes one guest cell.
Memory is split as KubeVirt's ``numaMapping`` does: equal shares in whole pages, the leftover
pages to the first cells.

From a Node object only the smallest cell is known, so its cells are taken as all that size
(the plan says so in ``assumptions``).
"""

from __future__ import annotations

from dataclasses import dataclass

from kvnuma.errors import InputError, RuleError
from kvnuma.migration.nodes import NodeLayout
from kvnuma.migration.size_class import pod_cpus
from kvnuma.model.quantity import format_bytes
from kvnuma.vmi import VmiSpec

__all__ = ["GuestCell", "GuestPlan", "pack", "plan_guest", "split_memory"]


@dataclass(frozen=True, slots=True)
class GuestCell:
    index: int
    vcpus: int
    memory_bytes: int


@dataclass(frozen=True, slots=True)
class GuestPlan:
    cells: tuple[GuestCell, ...]
    """Empty when the VM has no guest NUMA (no guestMappingPassthrough)."""
    page_size_bytes: int | None
    pod_cpus: int
    assumptions: tuple[str, ...] = ()


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


def split_memory(memory: int, page: int, cells: int) -> list[int]:
    """KubeVirt's per-cell split; RuleError when it cannot be done."""
    if memory < cells * page:
        raise RuleError(
            "hugepages-per-cell",
            needed=format_bytes(cells * page),
            available=format_bytes(memory),
            detail="not enough memory requested to allocate at least one hugepage per numa node",
        )
    if memory % page:
        raise RuleError(
            "hugepages-per-cell",
            needed=f"a multiple of {format_bytes(page)}",
            available=format_bytes(memory),
            detail="requested memory can't be divided through the numa page size",
        )
    leftover = (memory % (page * cells)) // page
    base = (memory - leftover * page) // cells
    return [base + (page if i < leftover else 0) for i in range(cells)]


def plan_guest(vmi: VmiSpec, node: NodeLayout) -> GuestPlan:
    cpus = pod_cpus(vmi)
    if not (vmi.numa_passthrough and vmi.dedicated_cpu_placement):
        return GuestPlan((), None, cpus)
    if vmi.hugepage_size_bytes is None:
        raise InputError(
            "spec.domain.cpu.numa.guestMappingPassthrough",
            "spec.domain.memory.hugepages must be requested when NUMA topology strategy is set",
        )
    memory = vmi.engine_memory_bytes
    if memory is None:
        raise InputError("spec.domain.memory.guest", "no guest memory (memory.guest or resources.memory)")
    assumptions: tuple[str, ...] = ()
    if node.cells is not None:
        sizes = [cell.cpus for cell in node.cells]
    else:
        assert node.min_cell_cpus is not None
        count = -(-cpus // node.min_cell_cpus)
        sizes = [node.min_cell_cpus] * count
        assumptions = (f"{node.name}: only capacities known; cells taken as {node.min_cell_cpus} CPUs each",)
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
    page = vmi.hugepage_size_bytes
    shares = split_memory(memory, page, len(vcpu_counts))
    cells = tuple(GuestCell(i, n, shares[i]) for i, n in enumerate(vcpu_counts))
    return GuestPlan(cells, page, cpus, assumptions)
