"""What the agent wants on its Node, and the smallest patch that gets it there (pure).

Our keys, and only these, are ever written or removed:

    annotation kubevirt.io/max-single-numa-cpus           online CPUs of the largest cell ("20")
    annotation kubevirt.io/max-single-numa-memory         memory of the largest cell ("128Gi")
    annotation kubevirt.io/max-single-numa-hugepages-<s>  bytes of the largest per-cell pool of
                                                          huge pages of size <s> ("2Mi", "1Gi")
    label      kubevirt.io/realtime: "true"               only on a realtime-capable kernel
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kvnuma.errors import RuleError
from kvnuma.model.quantity import format_bytes
from kvnuma.model.topology import HostTopology
from kvnuma.names import (
    MAX_SINGLE_NUMA_CPUS,
    MAX_SINGLE_NUMA_HUGEPAGES_PREFIX,
    MAX_SINGLE_NUMA_MEMORY,
    REALTIME_LABEL,
    is_capacity_annotation,
)

__all__ = [
    "Published",
    "desired",
    "node_patch",
    "published_on",
]


@dataclass(frozen=True)
class Published:
    annotations: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)


def is_our_label(key: str) -> bool:
    return key == REALTIME_LABEL


def desired(topology: HostTopology, realtime: bool) -> Published:
    """The annotations and labels this topology and realtime flag call for.

    A topology without any online CPU or without memory is refused: publishing ``0`` would make
    every VM look larger than the cluster's smallest NUMA node."""
    cpus = topology.max_single_numa_cpus
    if cpus <= 0:
        raise RuleError("node-topology", needed="a NUMA cell with online CPUs", available="none")
    if topology.max_single_numa_memory_bytes <= 0:
        raise RuleError("node-topology", needed="a NUMA cell with known memory", available="0 bytes")
    annotations = {
        MAX_SINGLE_NUMA_CPUS: str(cpus),
        MAX_SINGLE_NUMA_MEMORY: format_bytes(topology.max_single_numa_memory_bytes),
    }
    for page_size, pool_bytes in topology.max_single_numa_hugepages_bytes().items():
        annotations[MAX_SINGLE_NUMA_HUGEPAGES_PREFIX + format_bytes(page_size)] = format_bytes(pool_bytes)
    labels = {REALTIME_LABEL: "true"} if realtime else {}
    return Published(annotations, labels)


def published_on(node: Mapping[str, Any]) -> Published:
    """Our keys as they are on ``node`` now."""
    meta = node.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    labels = meta.get("labels") or {}
    return Published(
        {k: v for k, v in annotations.items() if is_capacity_annotation(k)},
        {k: v for k, v in labels.items() if is_our_label(k)},
    )


def node_patch(node: Mapping[str, Any], want: Published) -> dict[str, Any] | None:
    """A JSON merge patch naming only our keys that differ (``null`` removes ours that no longer
    apply), or None when the Node already says what we want."""
    have = published_on(node)
    metadata: dict[str, Any] = {}
    for section, current, wanted in (
        ("annotations", have.annotations, want.annotations),
        ("labels", have.labels, want.labels),
    ):
        changes: dict[str, str | None] = {k: v for k, v in sorted(wanted.items()) if current.get(k) != v}
        changes.update({k: None for k in sorted(current) if k not in wanted})
        if changes:
            metadata[section] = changes
    return {"metadata": metadata} if metadata else None
