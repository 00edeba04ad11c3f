"""What the nodes publish (VEP 135 annotations) and the cluster-wide minimum the decision reads.

The node agent writes, on each Node:

    kubevirt.io/max-single-numa-cpus: "20"                 online CPUs of the node's largest NUMA cell
    kubevirt.io/max-single-numa-memory: "128Gi"            memory of the node's largest NUMA cell
    kubevirt.io/max-single-numa-hugepages-2Mi: "16Gi"      per page size: the largest per-cell pool, in bytes

(VEP 135: each node reports the most one of its NUMA nodes can give; the decision compares a VMI
against the smallest of these values over the cluster, because the VMI may land on any node.)

``NodeCapacity.from_node`` reads them; a malformed value is left out (and reported in
``problems``) rather than failing the node, so one bad annotation never hides the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kvnuma.errors import InputError
from kvnuma.model.quantity import format_bytes, parse_bytes
from kvnuma.names import MAX_SINGLE_NUMA_CPUS, MAX_SINGLE_NUMA_HUGEPAGES_PREFIX, MAX_SINGLE_NUMA_MEMORY

__all__ = [
    "ClusterCapacity",
    "NodeCapacity",
]

_MAX_CPUS = 1 << 20
_MAX_BYTES = 1 << 62


@dataclass(frozen=True, slots=True)
class NodeCapacity:
    """One node's published single-NUMA capacity; None = not published (or malformed)."""

    cpus: int | None = None
    memory_bytes: int | None = None
    hugepages: Mapping[int, int] = field(default_factory=dict)
    """page size in bytes -> bytes of that page size in the node's largest per-cell pool."""
    problems: tuple[str, ...] = ()

    @property
    def publishes(self) -> bool:
        return self.cpus is not None or self.memory_bytes is not None or bool(self.hugepages)

    @classmethod
    def from_annotations(cls, annotations: Mapping[str, Any], *, source: str = "node") -> NodeCapacity:
        problems: list[str] = []
        cpus: int | None = None
        memory: int | None = None
        hugepages: dict[int, int] = {}
        raw_cpus = annotations.get(MAX_SINGLE_NUMA_CPUS)
        if raw_cpus is not None:
            text = str(raw_cpus).strip()
            if text.isdigit() and 0 < int(text) <= _MAX_CPUS:
                cpus = int(text)
            else:
                problems.append(f"{source}: {MAX_SINGLE_NUMA_CPUS}: expected a whole number 1..{_MAX_CPUS}")
        raw_memory = annotations.get(MAX_SINGLE_NUMA_MEMORY)
        if raw_memory is not None:
            memory = _positive_bytes(raw_memory, f"{source}: {MAX_SINGLE_NUMA_MEMORY}", problems)
        for key, value in annotations.items():
            if not isinstance(key, str) or not key.startswith(MAX_SINGLE_NUMA_HUGEPAGES_PREFIX):
                continue
            size = _positive_bytes(key[len(MAX_SINGLE_NUMA_HUGEPAGES_PREFIX) :], f"{source}: {key}", problems)
            amount = _positive_bytes(value, f"{source}: {key}", problems, allow_zero=True)
            if size is not None and amount is not None:
                hugepages[size] = amount
        return cls(cpus=cpus, memory_bytes=memory, hugepages=hugepages, problems=tuple(problems))

    @classmethod
    def from_node(cls, node: Mapping[str, Any]) -> NodeCapacity:
        metadata = node.get("metadata")
        metadata = metadata if isinstance(metadata, Mapping) else {}
        name = metadata.get("name")
        annotations = metadata.get("annotations")
        if not isinstance(annotations, Mapping):
            return cls()
        return cls.from_annotations(annotations, source=f"node {name}")


@dataclass(frozen=True, slots=True)
class ClusterCapacity:
    """The smallest published single-NUMA capacity over the cluster's nodes.

    ``nodes`` counts nodes that publish anything; each minimum is over the nodes that publish
    that value (None when none does). ``hugepages`` maps a page size in bytes to the smallest pool.
    ``scope``: which nodes, when the minimum is over the nodes a VMI can land on (the feasible-node
    threshold, ``kvnuma.admission.feasible``); "" for the whole cluster. ``source``: where the
    nodes' numbers came from when there is more than one source (the webhook's ``--nrt=on``:
    NodeResourceTopology objects or annotations, with counts); "" otherwise.
    """

    nodes: int = 0
    cpus: int | None = None
    memory_bytes: int | None = None
    hugepages: Mapping[int, int] = field(default_factory=dict)
    scope: str = ""
    source: str = ""

    @classmethod
    def of(cls, nodes: list[NodeCapacity]) -> ClusterCapacity:
        """The minimum over ``nodes`` by a plain scan (the reference the incremental cache matches)."""
        published = [node for node in nodes if node.publishes]
        cpus = [n.cpus for n in published if n.cpus is not None]
        memory = [n.memory_bytes for n in published if n.memory_bytes is not None]
        hugepages: dict[int, int] = {}
        for node in published:
            for size, amount in node.hugepages.items():
                hugepages[size] = min(amount, hugepages.get(size, amount))
        return cls(
            nodes=len(published),
            cpus=min(cpus) if cpus else None,
            memory_bytes=min(memory) if memory else None,
            hugepages=hugepages,
        )

    def describe(self) -> str:
        parts = [f"{self.nodes} {'node' if self.nodes == 1 else 'nodes'} publishing"]
        parts.extend(self.minima())
        return ", ".join(parts)

    def short(self) -> str:
        """'32 CPUs, 64Gi, 1Gi pages 64Gi': the minima in few characters (for a warning)."""
        parts = [f"{self.cpus} CPUs"] if self.cpus is not None else []
        if self.memory_bytes is not None:
            parts.append(format_bytes(self.memory_bytes))
        parts.extend(
            f"{format_bytes(size)} pages {format_bytes(self.hugepages[size])}"
            for size in sorted(self.hugepages)
        )
        return ", ".join(parts)

    def minima(self) -> list[str]:
        parts: list[str] = []
        if self.cpus is not None:
            parts.append(f"min cpus {self.cpus}")
        if self.memory_bytes is not None:
            parts.append(f"min memory {format_bytes(self.memory_bytes)}")
        for size in sorted(self.hugepages):
            parts.append(f"min hugepages-{format_bytes(size)} {format_bytes(self.hugepages[size])}")
        return parts


def _positive_bytes(
    value: object, source: str, problems: list[str], *, allow_zero: bool = False
) -> int | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        problems.append(f"{source}: expected a quantity, got {type(value).__name__}")
        return None
    try:
        amount = parse_bytes(value, source=source)
    except InputError as error:
        problems.append(error.one_line())
        return None
    if amount > _MAX_BYTES or (amount == 0 and not allow_zero):
        problems.append(f"{source}: {value!r} is out of range")
        return None
    return amount
