"""Test hosts: one ``HostTopology`` rendered as a sysfs tree and as libvirt capabilities XML.

The API, four functions:

    synthetic_host(cells=8, ...) -> HostTopology     a regular host (8 x 56 = 448 CPUs by default)
    render_sysfs(topology, root, ...) -> str          writes the tree under root; returns the
                                                      /proc/meminfo text that goes with it
    render_capabilities(topology, ...) -> str         the `virsh capabilities` document
    capabilities_view(topology) -> HostTopology       what the capabilities form can carry
                                                      (no free page counts, no PCI devices)

Both renderers are written independently of kvnuma's readers and writer (plain f-strings, the
kernel's and libvirt's conventions), so "reader(render(model)) == model" is a real check.
Knobs reproduce what real trees hold: NUL padding, comma or range sibling lists, -1 ids, no
``node/`` folder, offline CPUs without ``topology/``, memory-only nodes, sparse node ids.

Example::

    topology = synthetic_host(cells=2, cores_per_cell=4, threads=2)
    meminfo = render_sysfs(topology, tmp_path, nul_padding=True)
    assert parse_sysfs(DirectoryReader(tmp_path), meminfo=meminfo) == topology
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from kvnuma.model import Cell, Cpu, CpuSet, HostTopology, HugePagePool, PciDevice

__all__ = ["capabilities_view", "render_capabilities", "render_sysfs", "synthetic_host"]

GiB = 1 << 30
MiB = 1 << 20


def synthetic_host(
    cells: int = 8,
    *,
    sockets: int = 2,
    dies_per_socket: int = 1,
    cores_per_cell: int = 28,
    threads: int = 2,
    memory_per_cell: int = 64 * GiB,
    hugepages: Mapping[int, int] | None = None,
    cell_ids: Sequence[int] | None = None,
    socket_ids: Sequence[int] | None = None,
    memory_only_cells: int = 0,
    offline: Iterable[int] = (),
    adjacent_threads: bool = False,
    pci_devices: Sequence[PciDevice] = (),
) -> HostTopology:
    """A regular host: ``cells`` cells with CPUs spread evenly over ``sockets`` (ids
    ``socket_ids``), each socket's cores split evenly over its dies (core ids restart per die),
    then ``memory_only_cells`` cells without CPUs. CPU numbering is Linux x86's (all first
    threads, then all second threads: siblings 0 and 224) or, with ``adjacent_threads``, each
    core's threads in a row (siblings ``0-1``). ``hugepages`` maps a page size to the pages per
    cell (default 2 MiB x 512 and 1 GiB x 2, all free). ``offline`` CPUs keep only their id.
    Distances: 10 to itself, 12 within a socket, 21 otherwise."""
    if cells % sockets:
        raise ValueError(f"{cells} cells do not spread evenly over {sockets} sockets")
    all_ids = list(cell_ids) if cell_ids is not None else list(range(cells + memory_only_cells))
    if len(all_ids) != cells + memory_only_cells or all_ids != sorted(set(all_ids)):
        raise ValueError(f"need {cells + memory_only_cells} ascending distinct cell ids, got {all_ids}")
    sockets_of = list(socket_ids) if socket_ids is not None else list(range(sockets))
    pools = {2 * MiB: 512, GiB: 2} if hugepages is None else dict(hugepages)
    cells_per_socket = cells // sockets
    cores_per_socket = cells_per_socket * cores_per_cell
    total_cores = cells * cores_per_cell
    offline_ids = frozenset(offline)

    cpus_of_cell: list[list[Cpu]] = [[] for _ in range(cells)]
    for core in range(total_cores):
        socket, in_socket = divmod(core, cores_per_socket)
        cores_per_die = max(cores_per_socket // dies_per_socket, 1)
        die, core_id = divmod(in_socket, cores_per_die)
        if adjacent_threads:
            thread_ids = [core * threads + t for t in range(threads)]
        else:
            thread_ids = [t * total_cores + core for t in range(threads)]
        online_threads = CpuSet.of(i for i in thread_ids if i not in offline_ids)
        cell = core // cores_per_cell
        for cpu_id in thread_ids:
            if cpu_id in offline_ids:
                cpus_of_cell[cell].append(Cpu(cpu_id, siblings=CpuSet.of([cpu_id]), online=False))
            else:
                cpus_of_cell[cell].append(Cpu(cpu_id, sockets_of[socket], die, 0, core_id, online_threads))

    socket_of_cell = [index // cells_per_socket for index in range(cells)] + [
        -1 - i for i in range(memory_only_cells)
    ]
    result = []
    for index, cell_id in enumerate(all_ids):
        distances = tuple(
            (other, 10 if other == cell_id else 12 if socket_of_cell[j] == socket_of_cell[index] else 21)
            for j, other in enumerate(all_ids)
        )
        cpus = tuple(sorted(cpus_of_cell[index], key=lambda cpu: cpu.id)) if index < cells else ()
        hugepage_pools = tuple(HugePagePool(size, count, count) for size, count in sorted(pools.items()))
        result.append(Cell(cell_id, cpus, memory_per_cell, hugepage_pools, distances))
    return HostTopology(cells=tuple(result), pci_devices=tuple(sorted(pci_devices, key=lambda d: d.address)))


def capabilities_view(topology: HostTopology) -> HostTopology:
    """``topology`` as the capabilities form carries it: huge page ``free`` unknown, no PCI."""
    cells = tuple(
        dataclasses.replace(
            cell, hugepages=tuple(dataclasses.replace(pool, free=None) for pool in cell.hugepages)
        )
        for cell in topology.cells
    )
    return HostTopology(cells=cells)


def _cpulist(ids: Iterable[int], *, ranges: bool) -> str:
    return CpuSet.of(ids).format(ranges=ranges)


def render_sysfs(
    topology: HostTopology,
    root: Path,
    *,
    nul_padding: bool = False,
    range_siblings: bool = True,
    minus_one_ids: bool = False,
    no_node_dir: bool = False,
    group_lists: bool = True,
) -> str:
    """Write ``topology`` as a sysfs tree under ``root`` and return the matching /proc/meminfo.

    ``nul_padding`` pads every file to 4 KiB with NULs (as tar does); ``range_siblings=False``
    writes sibling lists as ``0,1`` instead of the kernel's ``0-1``; ``minus_one_ids`` writes -1
    for every die and cluster id 0 (as kernels without dies/clusters do); ``no_node_dir`` leaves
    out ``devices/system/node`` (needs a single cell 0 without distances: the kernel without
    NUMA); ``group_lists=False`` leaves out ``{package,die,cluster}_cpus_list`` (older kernels)."""

    def write(relpath: str, text: str) -> None:
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        data = (text + "\n").encode()
        path.write_bytes(data + b"\x00" * (4096 - len(data)) if nul_padding else data)

    cells = topology.cells
    if [cell.id for cell in cells] != sorted(cell.id for cell in cells):
        raise ValueError("sysfs lists nodes in ascending order: the model's cells must be too")
    all_cpus = [cpu for cell in cells for cpu in cell.cpus]
    for cell in cells:
        if cell.memory_bytes % 1024:
            raise ValueError(f"cell {cell.id}: sysfs memory is in kB, {cell.memory_bytes} is not")
    write("devices/system/cpu/present", _cpulist((cpu.id for cpu in all_cpus), ranges=True))
    write("devices/system/cpu/possible", _cpulist((cpu.id for cpu in all_cpus), ranges=True))
    write("devices/system/cpu/online", _cpulist((cpu.id for cpu in all_cpus if cpu.online), ranges=True))
    groups: dict[tuple[int, ...], list[int]] = {}
    for cpu in all_cpus:
        if cpu.online:
            for key in cpu.core_key[:1], cpu.core_key[:2], cpu.core_key[:3]:
                groups.setdefault(key, []).append(cpu.id)
    for cpu in all_cpus:
        base = f"devices/system/cpu/cpu{cpu.id}/"
        write(base + "online", "1" if cpu.online else "0")
        if not cpu.online:
            continue
        die = "-1" if minus_one_ids and cpu.die_id == 0 else str(cpu.die_id)
        cluster = "-1" if minus_one_ids and cpu.cluster_id == 0 else str(cpu.cluster_id)
        write(base + "topology/physical_package_id", str(cpu.socket_id))
        write(base + "topology/die_id", die)
        write(base + "topology/cluster_id", cluster)
        write(base + "topology/core_id", str(cpu.core_id))
        write(base + "topology/thread_siblings_list", _cpulist(cpu.thread_group, ranges=range_siblings))
        write(base + "topology/core_cpus_list", _cpulist(cpu.thread_group, ranges=True))
        if group_lists:
            for name, size in ("package", 1), ("die", 2), ("cluster", 3):
                write(base + f"topology/{name}_cpus_list", _cpulist(groups[cpu.core_key[:size]], ranges=True))
    for device in topology.pci_devices:
        base = f"bus/pci/devices/{device.address}/"
        write(base + "numa_node", str(device.numa_node))
        write(base + "vendor", device.vendor)
        write(base + "device", device.device)
        write(base + "class", device.pci_class)
    total_kib = sum(cell.memory_bytes for cell in cells) // 1024
    meminfo = f"MemTotal:       {total_kib} kB\nMemFree:        {total_kib // 2} kB\n"
    if no_node_dir:
        if len(cells) != 1 or cells[0].id != 0 or cells[0].distances:
            raise ValueError("no_node_dir needs exactly one cell 0 without distances")
        _write_pools(write, "kernel/mm/hugepages", cells[0].hugepages)
        return meminfo
    node_ids = [cell.id for cell in cells]
    write("devices/system/node/online", _cpulist(node_ids, ranges=True))
    write("devices/system/node/possible", _cpulist(node_ids, ranges=True))
    for cell in cells:
        base = f"devices/system/node/node{cell.id}/"
        write(base + "cpulist", _cpulist((cpu.id for cpu in cell.cpus), ranges=True))
        kib = cell.memory_bytes // 1024
        write(
            base + "meminfo", f"Node {cell.id} MemTotal:       {kib} kB\nNode {cell.id} MemFree:   {kib} kB"
        )
        if cell.distances:
            distances = dict(cell.distances)
            write(base + "distance", " ".join(str(distances[other]) for other in node_ids))
        _write_pools(write, base + "hugepages", cell.hugepages)
    return meminfo


def _write_pools(write: Callable[[str, str], None], folder: str, pools: Sequence[HugePagePool]) -> None:
    for pool in pools:
        base = f"{folder}/hugepages-{pool.page_size_bytes // 1024}kB/"
        write(base + "nr_hugepages", str(pool.total))
        write(base + "free_hugepages", str(pool.total if pool.free is None else pool.free))
        write(base + "surplus_hugepages", "0")


def render_capabilities(topology: HostTopology, *, range_siblings: bool = True) -> str:
    """The ``virsh capabilities`` document libvirt would print for ``topology`` (newer libvirt's
    form, with ``cluster_id``). An offline CPU is a bare ``<cpu id='N'/>`` (kvnuma's convention)."""
    lines = ["<capabilities>", "  <host>", "    <uuid>00000000-0000-0000-0000-000000000000</uuid>"]
    lines += ["    <cpu>", "      <arch>x86_64</arch>", "    </cpu>", "    <topology>"]
    lines.append(f'      <cells num="{len(topology.cells)}">')
    for cell in topology.cells:
        huge = sum(pool.page_size_bytes * pool.total for pool in cell.hugepages)
        lines.append(f'        <cell id="{cell.id}">')
        lines.append(f'          <memory unit="KiB">{cell.memory_bytes // 1024}</memory>')
        lines.append(f'          <pages unit="KiB" size="4">{(cell.memory_bytes - huge) // 4096}</pages>')
        for pool in cell.hugepages:
            lines.append(
                f'          <pages unit="KiB" size="{pool.page_size_bytes // 1024}">{pool.total}</pages>'
            )
        if cell.distances:
            lines.append("          <distances>")
            for other, value in cell.distances:
                lines.append(f'            <sibling id="{other}" value="{value}"/>')
            lines.append("          </distances>")
        lines.append(f'          <cpus num="{len(cell.cpus)}">')
        for cpu in cell.cpus:
            if not cpu.online:
                lines.append(f'            <cpu id="{cpu.id}"/>')
                continue
            siblings = _cpulist(cpu.thread_group, ranges=range_siblings)
            lines.append(
                f'            <cpu id="{cpu.id}" socket_id="{cpu.socket_id}" die_id="{cpu.die_id}" '
                f'cluster_id="{cpu.cluster_id}" core_id="{cpu.core_id}" siblings="{siblings}"/>'
            )
        lines += ["          </cpus>", "        </cell>"]
    lines += ["      </cells>", "    </topology>", "  </host>", "</capabilities>", ""]
    return "\n".join(lines)
