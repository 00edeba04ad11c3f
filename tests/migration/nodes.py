"""Small test nodes for the migration check."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kvnuma.agent.desired import desired
from kvnuma.migration import NodeLayout
from kvnuma.model import Cell, Cpu, HostTopology, HugePagePool
from kvnuma.vmi import VmiSpec

MiB = 1 << 20
GiB = 1 << 30


def topology(
    cpus_per_cell: Sequence[int], *, pages_2m: int | Sequence[int] = 8192, free: int | None = None
) -> HostTopology:
    """One cell per entry; ``pages_2m`` for every cell, or one count per cell."""
    per_cell = [pages_2m] * len(cpus_per_cell) if isinstance(pages_2m, int) else list(pages_2m)
    cells = []
    next_id = 0
    for index, count in enumerate(cpus_per_cell):
        cpus = tuple(Cpu(next_id + i) for i in range(count))
        next_id += count
        pool = HugePagePool(2 * MiB, per_cell[index], free)
        cells.append(Cell(index, cpus, 64 * GiB, (pool,)))
    return HostTopology(cells=tuple(cells))


def layout(cpus_per_cell: Sequence[int], name: str = "node", **kwargs: Any) -> NodeLayout:
    return NodeLayout.from_topology(name, topology(cpus_per_cell, **kwargs))


def node_object(topology: HostTopology, name: str = "node") -> NodeLayout:
    """The Node the kvnuma agent would annotate for ``topology`` (its largest cell, VEP 135)."""
    annotations = dict(desired(topology, realtime=False).annotations)
    obj = {"kind": "Node", "metadata": {"name": name, "annotations": annotations}}
    return NodeLayout.from_node_object(obj, source=f"{name}.yaml")


def passthrough_vmi(
    vcpus: int, memory: str = "8Gi", *, isolate: bool = False, dedicated: bool = True, numa: bool = True
) -> VmiSpec:
    cpu: dict[str, Any] = {
        "sockets": vcpus,
        "dedicatedCpuPlacement": dedicated,
        "isolateEmulatorThread": isolate,
    }
    if numa:
        cpu["numa"] = {"guestMappingPassthrough": {}}
    domain = {"cpu": cpu, "memory": {"guest": memory, "hugepages": {"pageSize": "2Mi"}}}
    return VmiSpec.from_object({"metadata": {"name": "vm"}, "spec": {"domain": domain}})
