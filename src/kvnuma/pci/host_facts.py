"""``HostPciFacts``: what PCI placement needs to know about the host, as plain values.

The core (``kvnuma.placement.pci_step``, ``kvnuma.pci.place``) takes these in; the shell reads
them (``kvnuma.pci.sysfs.read_host_pci`` from a sysfs root).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["HostPciFacts"]


@dataclass(frozen=True)
class HostPciFacts:
    """``numa_node``: present devices only. ``root_complex``/``bridges``: where known.
    ``cpu_nodes``: host CPU -> host node. ``node_sockets``: host node -> socket
    (``physical_package_id`` of its first CPU; nodes without CPUs are absent).
    (Not ``slots=True``: the hook bundle runs on 3.9.)"""

    numa_node: dict[str, int] = field(default_factory=dict)
    root_complex: dict[str, str] = field(default_factory=dict)
    bridges: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cpu_nodes: dict[int, int] = field(default_factory=dict)
    node_sockets: dict[int, int] = field(default_factory=dict)
    node_distances: dict[int, dict[int, int]] = field(default_factory=dict)
    """Host node -> (host node -> distance), from each node's ``distance`` file (empty when the
    host does not say, or says it inconsistently)."""
    problems: dict[str, str] = field(default_factory=dict)
    """Device -> why its facts could not be read (a mediated device whose sysfs link names no
    parent PCI device): placement leaves it in place with that reason."""
