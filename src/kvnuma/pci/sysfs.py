"""Read what PCI placement needs from a sysfs root (``/sys`` or a tree that mirrors it).

This is the IO side; ``place_pci_devices`` only takes the plain values returned here.

* ``bus/pci/devices/<address>/numa_node``: the device's host node (-1 = no affinity; a device
  folder without the file counts as -1, as on kernels without NUMA);
* the target of the ``bus/pci/devices/<address>`` symlink, e.g.
  ``../../../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0/0000:3c:08.0/0000:3d:00.0``: the
  ``pci<domain>:<bus>`` component is the host root complex (host bridge), the components after
  it the bridge chain (root port, switch ports) down to the device;
* ``devices/system/node/node<N>/cpulist``: host CPU -> host node.

Standard library only (runs in KubeVirt's sidecar-shim image).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kvnuma.errors import InputError
from kvnuma.pci.values import parse_id_list

__all__ = ["HostPciFacts", "read_host_pci"]

_ROOT_COMPLEX = re.compile(r"^pci[0-9a-fA-F]{4}:[0-9a-fA-F]{2}$")
_BDF = re.compile(r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")
_NODE_DIR = re.compile(r"^node(\d+)$")


@dataclass(frozen=True)
class HostPciFacts:
    """``numa_node``: present devices only. ``root_complex``/``bridges``: where known."""

    numa_node: dict[str, int] = field(default_factory=dict)
    root_complex: dict[str, str] = field(default_factory=dict)
    bridges: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cpu_nodes: dict[int, int] = field(default_factory=dict)


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("ascii", "replace").replace("\x00", "").strip()
    except OSError as error:
        raise InputError(str(path), f"unreadable: {error.strerror or error}") from None


def _numa_node(device_dir: Path) -> int:
    path = device_dir / "numa_node"
    if not path.exists():
        return -1
    text = _read_text(path)
    try:
        return int(text)
    except ValueError:
        raise InputError(str(path), f"{text!r} is not a NUMA node number") from None


def _topology_path(root: Path, device_dir: Path) -> tuple[str | None, tuple[str, ...]]:
    if not device_dir.is_symlink():
        return None, ()
    parts = Path(os.path.realpath(device_dir)).relative_to(os.path.realpath(root)).parts
    for position, part in enumerate(parts):
        if _ROOT_COMPLEX.match(part):
            chain = tuple(p for p in parts[position + 1 :] if _BDF.match(p))
            return part, chain[:-1]
    return None, ()


def read_cpu_nodes(root: Path) -> dict[int, int]:
    node_root = root / "devices" / "system" / "node"
    cpu_nodes: dict[int, int] = {}
    if not node_root.is_dir():
        return cpu_nodes
    for entry in sorted(node_root.iterdir()):
        match = _NODE_DIR.match(entry.name)
        if match is None or not (entry / "cpulist").exists():
            continue
        cpulist = entry / "cpulist"
        for cpu in parse_id_list(_read_text(cpulist), source=str(cpulist)):
            cpu_nodes[cpu] = int(match.group(1))
    return cpu_nodes


def read_host_pci(root: Path | str, addresses: Iterable[str]) -> HostPciFacts:
    """The host facts for ``addresses`` (``dddd:bb:ss.f``); addresses not on the host are absent
    from ``numa_node``. InputError names the file if a value is unreadable or garbage."""
    root = Path(root)
    facts = HostPciFacts(cpu_nodes=read_cpu_nodes(root))
    for address in addresses:
        device_dir = root / "bus" / "pci" / "devices" / address
        if not device_dir.exists():
            continue
        facts.numa_node[address] = _numa_node(device_dir)
        complex_id, chain = _topology_path(root, device_dir)
        if complex_id is not None:
            facts.root_complex[address] = complex_id
            facts.bridges[address] = chain
    return facts
