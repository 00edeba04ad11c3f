"""Hosts and VMIs for the engine's tests, built directly as model values.

``smt_host`` lays out a host like Linux numbers a multi-socket SMT machine: cell c holds
cores c*K .. c*K+K-1, and the second thread of core i is CPU i + cells*K.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from kvnuma.model import Cell, Cpu, CpuSet, HostTopology, HugePagePool
from kvnuma.vmi import VmiSpec

MI = 1 << 20
GI = 1 << 30


def host_from_groups(
    cells: Sequence[Sequence[Sequence[int]]],
    *,
    memory_bytes: int = 8 * GI,
    hugepages: Sequence[HugePagePool] = (),
) -> HostTopology:
    """One cell per item; each cell is a list of SMT sibling groups (a 1-item group = no SMT)."""
    built = []
    for cell_id, groups in enumerate(cells):
        cpus = [
            Cpu(id=cpu_id, socket_id=cell_id, core_id=index, siblings=CpuSet.of(group))
            for index, group in enumerate(groups)
            for cpu_id in group
        ]
        built.append(
            Cell(
                id=cell_id,
                cpus=tuple(sorted(cpus, key=lambda c: c.id)),
                memory_bytes=memory_bytes,
                hugepages=tuple(hugepages),
            )
        )
    return HostTopology(cells=tuple(built))


def smt_host(cells: int, cores_per_cell: int, *, smt: bool = True, **kwargs: Any) -> HostTopology:
    total = cells * cores_per_cell
    layout = [
        [
            [core, core + total] if smt else [core]
            for core in range(cell * cores_per_cell, (cell + 1) * cores_per_cell)
        ]
        for cell in range(cells)
    ]
    return host_from_groups(layout, **kwargs)


def vmi(
    *,
    cores: int = 1,
    sockets: int = 0,
    threads: int = 0,
    memory: str = "64Mi",
    page: str | None = "2Mi",
    passthrough: bool = True,
    dedicated: bool = True,
    emulator: bool = False,
    realtime_mask: str | None = None,
    max_sockets: int = 0,
    supplemental: int = 0,
    annotations: dict[str, str] | None = None,
    name: str = "numavm",
    io_policy: str | None = None,
    disks: Sequence[Mapping[str, Any]] = (),
    cpu_request: str | None = None,
) -> VmiSpec:
    """A VMI built as a user would write it, read through VmiSpec.from_object."""
    cpu: dict[str, Any] = {"cores": cores, "dedicatedCpuPlacement": dedicated}
    if sockets:
        cpu["sockets"] = sockets
    if threads:
        cpu["threads"] = threads
    if max_sockets:
        cpu["maxSockets"] = max_sockets
    if passthrough:
        cpu["numa"] = {"guestMappingPassthrough": {}}
    if emulator:
        cpu["isolateEmulatorThread"] = True
    if realtime_mask is not None:
        cpu["realtime"] = {"mask": realtime_mask} if realtime_mask else {}
    domain: dict[str, Any] = {"cpu": cpu, "memory": {"guest": memory}}
    if page is not None:
        domain["memory"]["hugepages"] = {"pageSize": page}
    if supplemental:
        domain["ioThreadsPolicy"] = "supplementalPool"
        domain["ioThreads"] = {"supplementalPoolThreadCount": supplemental}
    if io_policy is not None:
        domain["ioThreadsPolicy"] = io_policy
    if disks:
        domain["devices"] = {"disks": [dict(disk) for disk in disks]}
    if cpu_request is not None:
        domain["resources"] = {"requests": {"cpu": cpu_request}}
    obj = {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {"domain": domain},
    }
    return VmiSpec.from_object(obj)


SLIT_4 = {  # a 4-node, 2-socket SLIT: 10 local, 16 same socket, 22 across
    0: ((0, 10), (1, 16), (2, 22), (3, 22)),
    1: ((0, 16), (1, 10), (2, 22), (3, 22)),
    2: ((0, 22), (1, 22), (2, 10), (3, 16)),
    3: ((0, 22), (1, 22), (2, 16), (3, 10)),
}


def with_distances(host: HostTopology, table: Mapping[int, tuple[tuple[int, int], ...]]) -> HostTopology:
    cells = tuple(dataclasses.replace(c, distances=table.get(c.id, ())) for c in host.cells)
    return dataclasses.replace(host, cells=cells)


def renumber_ids(host: HostTopology, ids: Sequence[int]) -> HostTopology:
    """``host`` with its cells renamed to ``ids`` (distances keyed by the new ids too)."""
    rename = dict(zip((c.id for c in host.cells), ids, strict=True))
    cells = tuple(
        dataclasses.replace(c, id=rename[c.id], distances=tuple((rename[o], v) for o, v in c.distances))
        for c in host.cells
    )
    return dataclasses.replace(host, cells=cells)


HOST_4 = with_distances(smt_host(4, 2, smt=False), SLIT_4)
