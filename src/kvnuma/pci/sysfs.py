"""Read what PCI placement needs from a sysfs root (``/sys`` or a tree that mirrors it).

This is the IO side; ``place_pci_devices`` only takes the plain values returned here.

* ``bus/pci/devices/<address>/numa_node``: the device's host node (-1 = no affinity; a device
  folder without the file counts as -1, as on kernels without NUMA);
* the target of the ``bus/pci/devices/<address>`` symlink, e.g.
  ``../../../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0/0000:3c:08.0/0000:3d:00.0``: the
  ``pci<domain>:<bus>`` component is the host root complex (host bridge), the components after
  it the bridge chain (root port, switch ports) down to the device;
* ``devices/system/node/node<N>/cpulist``: host CPU -> host node; ``node<N>/distance``: the
  host's distance matrix (for CPU-less device cells, ``kvnuma.pci.cpuless``).

Standard library only and quick to import (runs in KubeVirt's sidecar-shim image on every VM
start): ``os.path`` rather than ``pathlib``, string tests rather than ``re``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from kvnuma.cpulist import parse_cpulist
from kvnuma.pci.address import is_hex, is_mdev_uuid
from kvnuma.pci.host_facts import HostPciFacts
from kvnuma.sysfsfile import list_dir, parse_id, read_text

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["read_host_pci"]


def _is_root_complex(name: str) -> bool:
    """``pci0000:3a``."""
    return name.startswith("pci") and len(name) == 10 and name[7] == ":" and is_hex(name[3:7] + name[8:], 6)


def _is_bdf(name: str) -> bool:
    """``0000:3b:00.0``."""
    return (
        len(name) == 12
        and name[4] == name[7] == ":"
        and name[10] == "."
        and is_hex(name[:4] + name[5:7] + name[8:10], 8)
        and name[11] in "01234567"
    )


def _numa_node(device_dir: str) -> int:
    """The device's host node; -1 when the file says so or is missing (kernels without NUMA)."""
    path = os.path.join(device_dir, "numa_node")
    text = read_text(path)
    node = None if text is None else parse_id(text, source=path)
    return -1 if node is None else node


def _root_complex_and_chain(parts: list[str]) -> tuple[str | None, tuple[str, ...]]:
    for position, part in enumerate(parts):
        if _is_root_complex(part):
            chain = tuple(p for p in parts[position + 1 :] if _is_bdf(p))
            return part, chain[:-1]
    return None, ()


def _topology_path(root: str, device_dir: str) -> tuple[str | None, tuple[str, ...]]:
    try:
        target = os.readlink(device_dir)  # ../../../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0
    except OSError:  # not a symlink: no topology to learn
        return None, ()
    found = _root_complex_and_chain(target.split("/"))
    if found[0] is not None:
        return found
    # not sysfs's usual one-hop link: resolve it fully, inside the root only
    relative = os.path.relpath(os.path.realpath(device_dir), os.path.realpath(root))
    parts = [part for part in relative.split(os.sep) if part not in ("", ".")]
    return _root_complex_and_chain(parts) if parts[:1] != [".."] else (None, ())


def read_cpu_nodes(root: str | os.PathLike[str]) -> dict[int, int]:
    node_root = os.path.join(root, "devices", "system", "node")
    cpu_nodes: dict[int, int] = {}
    for name in sorted(list_dir(node_root) or []):
        number = name[4:]
        if not (name.startswith("node") and number.isdecimal()):
            continue
        cpulist = os.path.join(node_root, name, "cpulist")
        text = read_text(cpulist) or ""
        for cpu in parse_cpulist(text, source=cpulist):
            cpu_nodes[cpu] = int(number)
    return cpu_nodes


def _node_ids(root: str) -> list[int]:
    node_root = os.path.join(root, "devices", "system", "node")
    names = list_dir(node_root) or []
    return sorted(int(name[4:]) for name in names if name.startswith("node") and name[4:].isdecimal())


def read_node_distances(root: str | os.PathLike[str]) -> dict[int, dict[int, int]]:
    """Host node -> (host node -> distance): ``node<N>/distance`` lists the distances to every
    online node in ascending id order. A missing file, a row of the wrong length or a value that
    is not a number gives no distances at all (never a half matrix)."""
    root = os.fspath(root)
    ids = _node_ids(root)
    matrix: dict[int, dict[int, int]] = {}
    for node in ids:
        text = read_text(os.path.join(root, "devices", "system", "node", f"node{node}", "distance"))
        values = (text or "").split()
        if len(values) != len(ids) or not all(v.isdecimal() and 0 < int(v) < 256 for v in values):
            return {}
        matrix[node] = {other: int(value) for other, value in zip(ids, values)}  # noqa: B905 (same length, checked above; 3.9)
    return matrix


def read_node_sockets(root: str | os.PathLike[str], cpu_nodes: dict[int, int]) -> dict[int, int]:
    """Host node -> socket: the ``physical_package_id`` of the node's first CPU (one file per
    node; a CPU without the file, or ``-1``, leaves its node out)."""
    first_cpu: dict[int, int] = {}
    for cpu, node in sorted(cpu_nodes.items()):
        first_cpu.setdefault(node, cpu)
    sockets = {}
    for node, cpu in sorted(first_cpu.items()):
        path = os.path.join(root, "devices", "system", "cpu", f"cpu{cpu}", "topology", "physical_package_id")
        text = read_text(path)
        socket = None if text is None else parse_id(text, source=path)
        if socket is not None:
            sockets[node] = socket
    return sockets


def _read_mdev(root: str, uuid: str, facts: HostPciFacts) -> None:
    """A mediated device's facts are its parent PCI device's: ``/sys/bus/mdev/devices/<uuid>``
    links into the parent's folder (``…/pci0000:3a/0000:3a:00.0/0000:3b:00.0/<uuid>``). No
    entry: not on the host. A link that names no parent PCI device: a problem, one line."""
    link = os.path.join(root, "bus", "mdev", "devices", uuid)
    try:
        target = os.readlink(link)
    except FileNotFoundError:
        return
    except OSError as error:
        facts.problems[uuid] = f"mediated device {uuid}: bus/mdev/devices link: {error.strerror or error}"
        return
    parts = [part for part in target.split("/") if part not in ("", ".")]
    if parts[-1:] != [uuid] or len(parts) < 2 or not _is_bdf(parts[-2]):
        shown = target if len(target) <= 100 else "..." + target[-97:]
        facts.problems[uuid] = (
            f"mediated device {uuid}: bus/mdev/devices link {shown!r} does not end in <parent BDF>/<uuid>"
        )
        return
    parent = parts[-2]
    parent_dir = os.path.join(os.path.dirname(link), target[: target.rstrip("/").rindex("/")])
    if not os.path.isdir(parent_dir):
        facts.problems[uuid] = f"mediated device {uuid}: its parent {parent} is not in sysfs"
        return
    facts.numa_node[uuid] = _numa_node(parent_dir)
    complex_id, chain = _root_complex_and_chain(parts[:-1])
    if complex_id is not None:
        facts.root_complex[uuid] = complex_id
        facts.bridges[uuid] = chain


def read_host_pci(root: str | os.PathLike[str], addresses: Iterable[str]) -> HostPciFacts:
    """The host facts for ``addresses`` (``dddd:bb:ss.f``, or a mediated device's uuid: its
    parent's facts); addresses not on the host are absent from ``numa_node``. InputError names
    the file if a value is unreadable or garbage."""
    root = os.fspath(root)
    cpu_nodes = read_cpu_nodes(root)
    facts = HostPciFacts(
        cpu_nodes=cpu_nodes,
        node_sockets=read_node_sockets(root, cpu_nodes),
        node_distances=read_node_distances(root),
    )
    for address in addresses:
        if is_mdev_uuid(address):
            _read_mdev(root, address, facts)
            continue
        device_dir = os.path.join(root, "bus", "pci", "devices", address)
        if not os.path.exists(device_dir):
            continue
        facts.numa_node[address] = _numa_node(device_dir)
        complex_id, chain = _topology_path(root, device_dir)
        if complex_id is not None:
            facts.root_complex[address] = complex_id
            facts.bridges[address] = chain
    return facts
