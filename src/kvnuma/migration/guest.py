"""The guest NUMA cells a passthrough VM has on a node, as the engine lays them out.

The pod's exclusive CPUs are taken as packed into the fewest host cells (what an aligning
Topology Manager and the CPU manager's NUMA-packed allocation give): the smallest ``k`` such
that the ``k`` largest cells hold them, those cells in host order, each filled before the next.
That cpuset and the node's topology go to the engine (``kvnuma.placement.plan_guest``), which
pins the vCPUs and splits the memory as KubeVirt does; its guest cells are the VM's.

From a Node object only the largest cell is known (VEP 135). A pod that fits it is packed into
that one cell (the layout says so in ``assumptions``: the CPUs are taken as free). A larger pod
spans cells the Node object says nothing about, so the guest's cells are not known: the layout
has no cells and ``unknown`` says why (never a guess at the other cells' sizes).
"""

from __future__ import annotations

from dataclasses import dataclass

from kvnuma.errors import InputError, RuleError
from kvnuma.migration.nodes import NODE_OBJECT_LIMIT, NodeLayout
from kvnuma.migration.size_class import pod_cpus
from kvnuma.model import Cell, Cpu, CpuSet, HostTopology
from kvnuma.placement import GuestCell, plan_guest
from kvnuma.vmi import VmiSpec

__all__ = ["GuestLayout", "guest_layout", "pack_pod"]


@dataclass(frozen=True, slots=True)
class GuestLayout:
    """The VM's guest NUMA cells on one node (the engine's cells) and the pod around them."""

    cells: tuple[GuestCell, ...]
    """Empty when the VM has no guest NUMA (no guestMappingPassthrough) or they are ``unknown``."""
    page_size_bytes: int | None
    pod_cpus: int
    assumptions: tuple[str, ...] = ()
    unknown: str | None = None
    """Why the VM's guest cells cannot be known from the node (None when they are)."""
    vcpus: int = 0
    least_cells: int = 0
    """When ``unknown``: the fewest guest cells the vCPUs can have (cells of at most the largest)."""

    @property
    def passthrough(self) -> bool:
        """The VM has guest NUMA cells (known or not)."""
        return bool(self.cells) or self.unknown is not None


def pack_pod(cell_cpus: list[int], cpus: int) -> list[int] | None:
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


def guest_layout(vmi: VmiSpec, node: NodeLayout) -> GuestLayout:
    """The VM's guest cells on ``node``; RuleError ``node-cpus`` when the node cannot hold the pod
    (and the engine's own errors when it cannot lay the guest out)."""
    cpus = pod_cpus(vmi)
    if not (vmi.numa_passthrough and vmi.dedicated_cpu_placement):
        return GuestLayout((), None, cpus, vcpus=vmi.vcpus)
    if vmi.hugepage_size_bytes is None:
        raise InputError(
            "spec.domain.cpu.numa.guestMappingPassthrough",
            "spec.domain.memory.hugepages must be requested when NUMA topology strategy is set",
        )
    if vmi.engine_memory_bytes is None:
        raise InputError("spec.domain.memory.guest", "no guest memory (memory.guest or resources.memory)")
    page = vmi.hugepage_size_bytes
    if node.topology is not None:
        host = node.topology
        assumptions: tuple[str, ...] = ()
    elif cpus <= node.max_cell_cpus:
        host = HostTopology((Cell(0, tuple(Cpu(i) for i in range(node.max_cell_cpus))),))
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
        return GuestLayout((), page, cpus, unknown=unknown, vcpus=vmi.vcpus, least_cells=least)
    plan = plan_guest(vmi, _packed_cpuset(host, cpus, node.name), host, check_hugepages=False)
    return GuestLayout(plan.cells, page, cpus, assumptions, vcpus=vmi.vcpus)


def _packed_cpuset(host: HostTopology, cpus: int, name: str) -> CpuSet:
    """The pod's ``cpus`` CPUs packed into the fewest cells with CPUs (whole cores first)."""
    cells = host.cells_with_cpus
    sizes = [len(cell.online_cpus) for cell in cells]
    chosen = pack_pod(sizes, cpus)
    if chosen is None:
        raise RuleError(
            "node-cpus",
            needed=cpus,
            available=sum(sizes),
            detail=f"{name} has fewer online CPUs than the VM's pod needs",
        )
    taken: list[int] = []
    for index in chosen:
        online = cells[index].online_cpus
        by_core = sorted(online, key=lambda cpu: (min(cpu.thread_group.ids), cpu.id))
        taken.extend(cpu.id for cpu in by_core[: cpus - len(taken)])
    return CpuSet.of(taken)
