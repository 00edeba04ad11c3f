"""Host topology from a Linux sysfs tree.

``parse_sysfs`` is pure: it sees the tree only through a ``SysfsReader`` (``read`` a file's text,
``listdir`` a folder; both answer None when the path is not there), so tests and other shells can
feed it anything. ``read_sysfs`` is the shell over a real folder (``/sys`` by default).

What it reads, relative to the root, and how it copes with real trees (see docs/discover.md):

* cells: ``devices/system/node/online`` (else the ``nodeN`` folders), in that order; no ``node/``
  folder means one cell 0 holding every present CPU, with ``MemTotal`` from the given meminfo text
  and huge pages from ``kernel/mm/hugepages``;
* per cell: ``nodeN/cpulist`` (empty = memory-only node), ``nodeN/meminfo`` (MemTotal),
  ``nodeN/hugepages/hugepages-<size>kB/{nr,free}_hugepages``, ``nodeN/distance`` (paired with the
  cell ids in order);
* per CPU: ``devices/system/cpu/online``, ``cpuN/topology/{physical_package_id,die_id,cluster_id,
  core_id,thread_siblings_list}``. Missing files and ``-1`` give 0 (siblings: the CPU itself), as
  libvirt does; an offline CPU keeps only its id. CPUs that the kernel groups (thread siblings,
  ``{package,die,cluster}_cpus_list``) share the group's ids, so each group is read once;
* PCI: ``bus/pci/devices/<address>/{numa_node,class,vendor,device}``.
"""

from __future__ import annotations

import logging
import os
from typing import Protocol

from kvnuma.cpulist import parse_cpulist
from kvnuma.errors import InputError
from kvnuma.model import Cell, Cpu, CpuSet, HostTopology, HugePagePool, PciDevice
from kvnuma.model.topology import NO_NUMA_NODE
from kvnuma.sysfsfile import list_dir, parse_id, read_text
from kvnuma.topology.checks import check_host
from kvnuma.topology.sysfs_values import (
    clean,
    parse_distances,
    parse_hex,
    parse_int,
    parse_meminfo_total,
)

__all__ = ["DirectoryReader", "parse_sysfs", "read_sysfs"]

NODE = "devices/system/node"
CPU = "devices/system/cpu"
PCI = "bus/pci/devices"
KERNEL_HUGEPAGES = "kernel/mm/hugepages"


class SysfsReader(Protocol):
    """Read-only access to a sysfs-like tree by path relative to its root."""

    def read(self, relpath: str) -> str | None:
        """The file's text, or None when it is missing; InputError when it is unreadable."""

    def listdir(self, relpath: str) -> list[str] | None:
        """The folder's entry names, or None when it is missing; InputError when unreadable."""


class DirectoryReader:
    """``SysfsReader`` over a real folder, through the one sysfs file reader (``kvnuma.sysfsfile``:
    missing is None; unreadable, a folder or FIFO for a file, binary or oversized is an error)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._prefix = os.fspath(root).rstrip("/") + "/"

    def read(self, relpath: str) -> str | None:
        return read_text(self._prefix + relpath, source=relpath)

    def listdir(self, relpath: str) -> list[str] | None:
        return list_dir(self._prefix + relpath, source=relpath)


def read_sysfs(root: str | os.PathLike[str] = "/sys") -> HostTopology:
    """Read the tree under ``root``; ``/proc/meminfo`` is read only when ``root`` is ``/sys``.

    What was assumed (see ``parse_sysfs``) is logged as a warning on the ``kvnuma.topology``
    logger (one line each; stderr when nothing configured logging)."""
    where = os.fspath(root)
    if not os.path.isdir(where):
        raise InputError(where, "no such folder" if not os.path.exists(where) else "not a folder")
    reader = DirectoryReader(root)
    warnings: list[str] = []
    try:
        meminfo = read_text("/proc/meminfo") if os.path.normpath(root) == "/sys" else None
        host = parse_sysfs(reader, meminfo=meminfo, warnings=warnings)
    except InputError as error:
        raise error.under(where) from None
    log = logging.getLogger("kvnuma.topology")
    for line in warnings:
        log.warning("%s: %s", where, line)
    return host


def parse_sysfs(
    reader: SysfsReader, *, meminfo: str | None = None, warnings: list[str] | None = None
) -> HostTopology:
    """The host topology the tree describes, all or error: InputError names the file and the
    problem (``kvnuma.topology.checks`` says what a topology must satisfy). What real kernels
    produce and libvirt accepts (no ``node/``, memory-only nodes, offline CPUs, ``-1`` ids, NUL
    padding, sparse node ids) gives the right topology; where a value had to be assumed, a line
    is appended to ``warnings``."""
    notes = [] if warnings is None else warnings
    cpu_entries = reader.listdir(CPU)
    if cpu_entries is None:
        raise InputError(CPU, "missing: not a sysfs tree (unreadable or empty root)")
    online = _optional_cpulist(reader, f"{CPU}/online")
    node_ids = _node_ids(reader)
    cpus = _CpuReader(reader, online, frozenset(_numbered(cpu_entries, "cpu")))
    if node_ids is None:
        cells: tuple[Cell, ...] = (_only_cell(reader, cpus, meminfo, notes),)
    else:
        cells = tuple(_cell(reader, cpus, node_id, node_ids) for node_id in node_ids)
    host = HostTopology(cells=cells, pci_devices=_pci_devices(reader))
    check_host(host, lambda what, cell, cpu: _locate(what, cell, cpu, node_ids is not None))
    if cpus.assumed:
        shown = CpuSet.of(cpus.assumed).format()
        notes.append(
            f"online CPUs {shown} have no topology files: socket, die, cluster and core ids assumed 0"
        )
    return host


_FILES = {
    "cpus": "cpulist",
    "memory": "meminfo",
    "hugepages": "hugepages",
    "distances": "distance",
}


def _locate(what: str, cell: int, cpu: int | None, nodes: bool) -> str:
    if what == "siblings" and cpu is not None:
        return f"{CPU}/cpu{cpu}/topology/thread_siblings_list"
    if not nodes:
        return {"memory": "meminfo", "hugepages": KERNEL_HUGEPAGES}.get(what, f"{CPU}/present")
    return f"{NODE}/node{cell}/{_FILES[what]}"


def _optional_cpulist(reader: SysfsReader, path: str) -> frozenset[int] | None:
    text = reader.read(path)
    return None if text is None else parse_cpulist(text, source=path)


def _numbered(entries: list[str], prefix: str) -> list[int]:
    """Ids of entries named ``<prefix><number>`` (``node16`` -> 16), sorted."""
    size = len(prefix)
    return sorted(int(name[size:]) for name in entries if name.startswith(prefix) and name[size:].isdigit())


def _node_ids(reader: SysfsReader) -> list[int] | None:
    entries = reader.listdir(NODE)
    listed = _optional_cpulist(reader, f"{NODE}/online")
    if entries is None:
        if listed:
            raise InputError(
                f"{NODE}/online", f"lists nodes {CpuSet(listed).format()} but there is no node folder"
            )
        return None
    found = _numbered(entries, "node")
    if listed is not None:
        missing = sorted(listed - frozenset(found))
        if missing:
            raise InputError(
                f"{NODE}/online", f"lists node(s) {CpuSet.of(missing).format()} that have no node<N> folder"
            )
        return sorted(listed) or None
    return found or None


class _CpuReader:
    """Reads each CPU's topology with as few file reads as the kernel allows.

    * thread siblings share their core, so a CPU whose sibling was read is not read again (only
      its ``thread_siblings_list``, which must agree);
    * the CPUs in ``package_cpus_list`` / ``die_cpus_list`` / ``cluster_cpus_list`` share one
      socket / die / cluster id, so each group's id is read once. When a group list is missing,
      or its groups are no larger than a core (clusters on many Intel hosts), that id is read per
      core instead.
    """

    _GROUPS = (
        ("physical_package_id", "package_cpus_list"),
        ("die_id", "die_cpus_list"),
        ("cluster_id", "cluster_cpus_list"),
    )

    def __init__(self, reader: SysfsReader, online: frozenset[int] | None, present: frozenset[int]) -> None:
        self._reader = reader
        self._online = online
        self._present = present
        self.assumed: list[int] = []
        self._read_by: dict[int, int] = {}
        self._known: dict[int, Cpu] = {}
        self._group_ids: tuple[dict[int, int], ...] = ({}, {}, {})
        self._use_lists = [True, True, True]

    def cpu(self, cpu_id: int, listed_in: str) -> Cpu:
        if cpu_id not in self._present:
            raise InputError(listed_in, f"names CPU {cpu_id}, which has no {CPU}/cpu{cpu_id} folder")
        if self._online is not None and cpu_id not in self._online:
            return Cpu(id=cpu_id, siblings=CpuSet(frozenset((cpu_id,))), online=False)
        known = self._known.get(cpu_id)
        base = f"{CPU}/cpu{cpu_id}/topology/"
        listed = self._reader.read(base + "thread_siblings_list")
        if known is not None:
            own = None if listed is None else parse_cpulist(listed, source=base + "thread_siblings_list")
            if own is not None and own | {cpu_id} != known.siblings.ids:
                raise InputError(
                    base + "thread_siblings_list",
                    f"lists {CpuSet(own).format()}, but CPU {self._read_by[cpu_id]}'s list says "
                    f"{known.siblings.format()}",
                )
            return known
        if listed is None and self._reader.read(base + "core_id") is None:
            self.assumed.append(cpu_id)
        sibling_ids = None if listed is None else parse_cpulist(listed, source=base + "thread_siblings_list")
        thread_ids = sibling_ids | {cpu_id} if sibling_ids else frozenset((cpu_id,))
        siblings = CpuSet(thread_ids)
        size = len(thread_ids)
        socket_id = self._group_id(0, cpu_id, base, size)
        die_id = self._group_id(1, cpu_id, base, size)
        cluster_id = self._group_id(2, cpu_id, base, size)
        core_id = self._id(base + "core_id")
        for sibling in thread_ids:
            self._known[sibling] = Cpu(sibling, socket_id, die_id, cluster_id, core_id, siblings, True)
            self._read_by[sibling] = cpu_id
        return self._known[cpu_id]

    def _id(self, path: str) -> int:
        text = self._reader.read(path)
        value = None if text is None else parse_id(text, source=path)
        return 0 if value is None else value  # -1 (unknown) and missing give 0, as in libvirt

    def _group_id(self, index: int, cpu_id: int, base: str, core_size: int) -> int:
        known = self._group_ids[index]
        value = known.get(cpu_id)
        if value is not None:
            return value
        id_file, list_file = self._GROUPS[index]
        value = self._id(base + id_file)
        if self._use_lists[index]:
            text = self._reader.read(base + list_file)
            members = None if text is None else parse_cpulist(text, source=base + list_file)
            if members is None or len(members) <= core_size:
                self._use_lists[index] = False
            else:
                known.update(dict.fromkeys(members, value))
        return value


def _cell(reader: SysfsReader, cpus: _CpuReader, node_id: int, node_ids: list[int]) -> Cell:
    base = f"{NODE}/node{node_id}/"
    cpu_ids = _optional_cpulist(reader, base + "cpulist")
    if cpu_ids is None:
        cpu_ids = frozenset(_numbered(reader.listdir(base[:-1]) or [], "cpu"))
    memory_text = reader.read(base + "meminfo")
    if memory_text is None:
        raise InputError(base + "meminfo", "missing (every node folder has one)")
    memory = parse_meminfo_total(memory_text, base + "meminfo")
    distance_text = reader.read(base + "distance")
    distances: tuple[tuple[int, int], ...] = ()
    if distance_text is not None:
        row = parse_distances(distance_text, base + "distance")
        if len(row) != len(node_ids):
            raise InputError(base + "distance", f"{len(row)} distances for {len(node_ids)} online nodes")
        distances = tuple(zip(node_ids, row, strict=True))
    return Cell(
        id=node_id,
        cpus=tuple(cpus.cpu(cpu_id, base + "cpulist") for cpu_id in sorted(cpu_ids)),
        memory_bytes=memory,
        hugepages=_hugepages(reader, base + "hugepages"),
        distances=distances,
    )


def _only_cell(reader: SysfsReader, cpus: _CpuReader, meminfo: str | None, notes: list[str]) -> Cell:
    """No ``node/`` folder: one cell 0 with every present CPU (like libvirt's fallback)."""
    cpu_ids = _optional_cpulist(reader, f"{CPU}/present")
    if cpu_ids is None:
        cpu_ids = _optional_cpulist(reader, f"{CPU}/online")
    if cpu_ids is None:
        cpu_ids = frozenset(_numbered(reader.listdir(CPU) or [], "cpu"))
    if meminfo is None:
        notes.append("no node folder and no /proc/meminfo (not /sys): cell 0's memory is unknown, shown as 0")
    memory = 0 if meminfo is None else parse_meminfo_total(meminfo, "meminfo")
    return Cell(
        id=0,
        cpus=tuple(cpus.cpu(cpu_id, f"{CPU}/present") for cpu_id in sorted(cpu_ids)),
        memory_bytes=memory,
        hugepages=_hugepages(reader, KERNEL_HUGEPAGES),
    )


def _hugepages(reader: SysfsReader, folder: str) -> tuple[HugePagePool, ...]:
    pools = []
    for name in reader.listdir(folder) or []:
        if not (name.startswith("hugepages-") and name.endswith("kB") and name[10:-2].isdigit()):
            continue
        path = f"{folder}/{name}/"
        total_text = reader.read(path + "nr_hugepages")
        if total_text is None:
            continue
        free_text = reader.read(path + "free_hugepages")
        pools.append(
            HugePagePool(
                page_size_bytes=int(name[10:-2]) * 1024,
                total=_count(total_text, path + "nr_hugepages"),
                free=None if free_text is None else _count(free_text, path + "free_hugepages"),
            )
        )
    return tuple(sorted(pools, key=lambda pool: pool.page_size_bytes))


def _count(text: str, source: str) -> int:
    value = parse_int(text, source)
    if value < 0:
        raise InputError(source, f"negative page count {value}")
    return value


def _pci_devices(reader: SysfsReader) -> tuple[PciDevice, ...]:
    devices = []
    for address in sorted(reader.listdir(PCI) or []):
        base = f"{PCI}/{address}/"
        node_text = reader.read(base + "numa_node")
        node_id = None if node_text is None else parse_id(node_text, source=base + "numa_node")
        node = NO_NUMA_NODE if node_id is None else node_id
        fields = []
        for name in ("vendor", "device", "class"):
            text = reader.read(base + name)
            fields.append("" if text is None or not clean(text) else parse_hex(text, base + name))
        vendor, device, pci_class = fields
        devices.append(PciDevice(address, vendor, device, pci_class, node))
    return tuple(devices)
