"""The VM size classes of the OpenShift live-migration table, with exact borders.

The table's words: small = fewer cores than half a NUMA node; large = more than half; extra
large = more than one node. kvnuma counts what the kubelet's Topology Manager aligns: the
virt-launcher pod's exclusive CPUs (vCPUs + supplemental IOThreads + the isolated emulator
thread(s)), against one cell's online CPUs. At the borders:

    2 x cpus <  cell            small
    2 x cpus >= cell, cpus <= cell   large        (exactly half and exactly one node are large)
    cpus > cell                 extra large

Exactly half is not "fewer than half", so not small; exactly one node still fits one node, so
it is not "more than one node".

Which cell, on a host whose cells differ (``reference_cell``)? The table speaks of the cells the
pod can use. "More than one node" means no cell can hold the pod: the Topology Manager's
single-NUMA-node hint and the guest plan's packing both look at the *largest* cell, so a pod is
extra large exactly when it exceeds the largest cell. Below that, the pod lands in one cell that
holds it, any of them; "small" promises it stays inside one cell even on a busy target, which
holds only if it is under half of *every* cell it may land on, so the reference is the smallest
cell that holds the pod (the smallest cell overall when the pod fits every cell). On a
symmetric host both are "the cell". A Node object publishes only its largest cell (VEP 135):
extra large and large are decided against it (a cell holding the pod has at most that many
CPUs), but "small" against the largest cell may be "large" on a smaller cell — not decidable.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kvnuma.migration.nodes import NODE_OBJECT_LIMIT, NodeLayout
from kvnuma.names import EMULATOR_PARITY_ANNOTATION
from kvnuma.vmi import VmiSpec

__all__ = ["SizeClass", "Sizing", "classify", "pod_cpus", "reference_cell", "size_on"]


class SizeClass(StrEnum):
    SMALL = "small"
    LARGE = "large"
    EXTRA_LARGE = "extra-large"


@dataclass(frozen=True, slots=True)
class Sizing:
    size: SizeClass
    cell_cpus: int
    """The reference cell's online CPUs."""
    reference: str
    """Which cell that is, in words."""
    undecided: str | None = None
    """Why the class could be another one (Node objects only); None when it is decided."""


def classify(cpus: int, cell_cpus: int) -> SizeClass:
    if cell_cpus <= 0:
        raise ValueError(f"a NUMA cell has at least one CPU, got {cell_cpus}")
    if 2 * cpus < cell_cpus:
        return SizeClass.SMALL
    if cpus <= cell_cpus:
        return SizeClass.LARGE
    return SizeClass.EXTRA_LARGE


def reference_cell(cpus: int, cell_cpus: tuple[int, ...]) -> int:
    """The smallest cell holding ``cpus``; the largest cell when none does."""
    holding = [size for size in cell_cpus if size >= cpus]
    return min(holding) if holding else max(cell_cpus)


def size_on(cpus: int, node: NodeLayout) -> Sizing:
    """The size class of a pod of ``cpus`` exclusive CPUs on ``node``, and its reference cell."""
    sizes = node.cell_cpus
    if sizes is not None:
        cell = reference_cell(cpus, sizes)
        which = "largest cell" if cell < cpus else "smallest cell holding the pod"
        return Sizing(classify(cpus, cell), cell, f"{which} on {node.name}: {cell} CPUs")
    largest = node.max_cell_cpus
    size = classify(cpus, largest)
    reference = f"largest cell on {node.name}: {largest} CPUs, the only cell a Node object gives"
    if size is not SizeClass.SMALL:
        return Sizing(size, largest, reference)
    undecided = (
        f"small against the largest cell ({largest} CPUs), but large if the pod lands on a cell of "
        f"{node.name} with {cpus} to {2 * cpus} CPUs; {NODE_OBJECT_LIMIT}"
    )
    return Sizing(size, largest, reference, undecided)


def pod_cpus(vmi: VmiSpec) -> int:
    """Exclusive CPUs of the virt-launcher pod (``WithCPUPinning``); vCPUs when not dedicated."""
    cpus = vmi.vcpus
    if not vmi.dedicated_cpu_placement:
        return cpus
    cpus += vmi.supplemental_pool_threads
    if vmi.isolate_emulator_thread:
        cpus += 1
        parity_base = vmi.vcpus + 2 * vmi.supplemental_pool_threads
        if EMULATOR_PARITY_ANNOTATION in vmi.annotations and parity_base % 2 == 0:
            cpus += 1
    return cpus
