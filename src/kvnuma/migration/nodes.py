"""What the migration check knows about a node: per-cell facts, or only published capacities.

A ``NodeLayout`` comes from a full ``HostTopology`` (capabilities XML, a sysfs tree) — then every
cell is known, with free huge pages when the source says (else the pool's total) — or from a
Node object carrying kvnuma's VEP 135 annotations, which publish only the node's *largest* cell:
its online CPUs, its memory, and per page size the largest per-cell pool (each may be a different
cell). The other cells may be smaller, so a Node object decides a check only when exceeding the
largest cell settles it (no cell can) or one cell is all that is asked for; checks that need the
other cells say so when ``cells`` is None.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kvnuma.admission.capacity import NodeCapacity
from kvnuma.errors import InputError
from kvnuma.model.topology import HostTopology
from kvnuma.names import MAX_SINGLE_NUMA_CPUS

__all__ = ["NODE_OBJECT_LIMIT", "CellLayout", "NodeLayout"]

NODE_OBJECT_LIMIT = "a Node object gives only its largest cell's capacity (VEP 135)"
"""The reason every check a Node object cannot decide gives."""


@dataclass(frozen=True, slots=True)
class CellLayout:
    id: int
    cpus: int
    """Online CPUs."""
    memory_bytes: int
    pages: Mapping[int, int] = field(default_factory=dict)
    """Page size in bytes -> pages available (free when known, else the pool's total)."""
    pages_are_free: bool = True


@dataclass(frozen=True, slots=True)
class NodeLayout:
    name: str
    cells: tuple[CellLayout, ...] | None
    """Cells with CPUs, in host order; None when only capacities are known (a Node object)."""
    max_cell_cpus: int
    """Online CPUs of the largest cell (all that a Node object tells about its cells' CPUs)."""
    max_cell_hugepages: Mapping[int, int] = field(default_factory=dict)
    """Page size -> bytes of the largest per-cell pool (Node objects only)."""
    topology: HostTopology | None = None
    """The whole topology the cells came from (None for a Node object): what the engine plans on."""

    @property
    def kind(self) -> str:
        return "topology" if self.cells is not None else "capacity"

    @property
    def cell_cpus(self) -> tuple[int, ...] | None:
        """Online CPUs per cell (host order), or None when only the largest cell is known."""
        return None if self.cells is None else tuple(cell.cpus for cell in self.cells)

    @classmethod
    def from_topology(cls, name: str, topology: HostTopology) -> NodeLayout:
        cells = []
        for cell in topology.cells_with_cpus:
            pages: dict[int, int] = {}
            free_known = True
            for pool in cell.hugepages:
                if pool.page_size_bytes <= 4096:
                    continue
                if pool.free is None:
                    free_known = False
                pages[pool.page_size_bytes] = pool.total if pool.free is None else pool.free
            cells.append(CellLayout(cell.id, len(cell.online_cpus), cell.memory_bytes, pages, free_known))
        if not cells:
            raise InputError(name, "the topology has no cell with online CPUs")
        return cls(name=name, cells=tuple(cells), max_cell_cpus=max(c.cpus for c in cells), topology=topology)

    @classmethod
    def from_node_object(cls, node: Mapping[str, Any], *, source: str) -> NodeLayout:
        """A Node with kvnuma's annotations; InputError when they are missing or malformed."""
        if node.get("kind") != "Node":
            raise InputError(source, f"expected a Node object, got kind {node.get('kind')!r}")
        metadata = node.get("metadata")
        metadata = metadata if isinstance(metadata, Mapping) else {}
        annotations = metadata.get("annotations")
        capacity = NodeCapacity.from_annotations(
            annotations if isinstance(annotations, Mapping) else {}, source=source
        )
        if capacity.problems:
            raise InputError(source, "; ".join(capacity.problems))
        if capacity.cpus is None:
            raise InputError(source, f"no {MAX_SINGLE_NUMA_CPUS} annotation (is the kvnuma agent running?)")
        return cls(
            name=str(metadata.get("name") or source),
            cells=None,
            max_cell_cpus=capacity.cpus,
            max_cell_hugepages=dict(capacity.hugepages),
        )
