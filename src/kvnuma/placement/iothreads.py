"""IOThreads: how many, which disk uses which, and the host CPUs each is pinned to.

KubeVirt (``converter/iothreads``, ``storage.assignDiskIOThread``, ``vcpu.FormatDomainIOThreadPin``):

* a VMI has IOThreads when ``ioThreadsPolicy`` is set or a disk asks for ``dedicatedIOThread``;
* ``supplementalPool``: ``supplementalPoolThreadCount`` IOThreads, every virtio disk uses all of
  them (``<driver><iothreads>``), each pinned to one more CPU of the pod after the vCPUs;
* otherwise each ``dedicatedIOThread`` disk gets its own IOThread and the other disks (every bus
  counts) share a pool of at most: 1 (``shared``, or no policy); ``auto``: 1 with dedicated CPUs
  and an isolated emulator thread, else 2 x the CPU request (else the limit, else 1), rounded up;
  at least 1 shared thread when any are needed. Shared threads are 1..A, dedicated A+1...; virtio
  disks take shared threads round robin in disk order, other buses get none;
* pins (dedicated CPUs): with an isolated emulator thread IOThread 1 goes on the emulator's
  CPU(s) and the others stay unpinned; else, with at least as many IOThreads as vCPUs, IOThread
  t goes on the pod's t mod V-th CPU (V = ``<vcpu>``, the cpuset in ascending order); else the
  first V CPUs of the pod are cut into balanced runs, one per IOThread.

Each IOThread also carries the guest cell its pins lie in (None when they span cells).

kvnuma's opt-in (``kvnuma.io/iothread-placement: cell``, ``cell_pins``) pins every IOThread inside
one host cell instead: the cell behind whose guest cell its disks' controller sits (all of its
disks' controllers on one guest cell, e.g. that cell's pxb-pcie expander bus), else the emulator
thread's cell (its isolated CPU's, else vCPU 0's; a supplemental IOThread stays on its own CPU's
cell). Within that host cell it takes, first, its own
supplemental CPU when that lies there; else the pod's CPUs there that no vCPU is pinned to (the
isolated emulator and supplemental CPUs); else all the pod's CPUs there, shared with that cell's
vCPUs, and its reason says so — never one vCPU's CPU alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from kvnuma.model import CpuSet
from kvnuma.vmi import VmiSpec

_NO_CPUS = CpuSet.of(())

__all__ = [
    "IoThread",
    "IoThreadKind",
    "IoThreadLayout",
    "cell_pins",
    "iothread_layout",
    "kubevirt_shared_pins",
]

IoThreadKind = Literal["shared", "dedicated", "supplemental"]


@dataclass(frozen=True, slots=True)
class IoThread:
    """One IOThread: its id (from 1), kind, the disks using it and where it runs.

    ``host_cpus`` empty: not pinned (libvirt lets it float over the pod's CPUs).
    ``guest_cell``: the guest cell whose host CPUs it is pinned to (None without guest NUMA, when
    unpinned, or when its CPUs span cells). ``reason``: why that cell ("" for KubeVirt's pins)."""

    id: int
    kind: IoThreadKind
    disks: tuple[str, ...]
    host_cpus: CpuSet = _NO_CPUS
    guest_cell: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class IoThreadLayout:
    """KubeVirt's IOThread count and disk assignment for a VMI (no pins yet)."""

    enabled: bool
    """The VMI has IOThreads (a policy, or a dedicatedIOThread disk)."""
    count: int
    """``<iothreads>``: 0 when no thread is needed (no disk), even when ``enabled``."""
    shared: int
    """Threads 1..shared are the shared pool; shared+1..count are the dedicated ones."""
    threads: tuple[IoThread, ...]


def iothread_layout(vmi: VmiSpec) -> IoThreadLayout:
    policy = vmi.io_threads_policy
    enabled = bool(policy) or any(disk.dedicated_io_thread for disk in vmi.disks)
    if not enabled:
        return IoThreadLayout(False, 0, 0, ())
    virtio = tuple(disk.name for disk in vmi.disks if disk.bus == "virtio")
    if policy == "supplementalPool":
        count = vmi.supplemental_pool_threads
        threads = tuple(IoThread(i, "supplemental", virtio) for i in range(1, count + 1))
        return IoThreadLayout(True, count, 0, threads)
    dedicated = sum(1 for disk in vmi.disks if disk.dedicated_io_thread)
    shared = len(vmi.disks) - dedicated
    limit = _pool_limit(vmi)
    if shared + dedicated > limit:
        shared = max(1, limit - dedicated)
    count = shared + dedicated
    users: dict[int, list[str]] = {i: [] for i in range(1, count + 1)}
    next_shared, next_dedicated = 1, shared + 1
    for disk in vmi.disks:
        if disk.bus != "virtio":
            continue
        if disk.dedicated_io_thread:
            users[next_dedicated].append(disk.name)
            next_dedicated += 1
        else:
            users[next_shared].append(disk.name)
            next_shared = next_shared % shared + 1
    threads = tuple(
        IoThread(i, "shared" if i <= shared else "dedicated", tuple(users[i])) for i in range(1, count + 1)
    )
    return IoThreadLayout(True, count, shared, threads)


def _pool_limit(vmi: VmiSpec) -> int:
    if vmi.io_threads_policy != "auto":
        return 1  # shared, or no policy with a dedicatedIOThread disk
    if vmi.dedicated_cpu_placement and vmi.isolate_emulator_thread:
        return 1
    amount = vmi.cpu_request if vmi.cpu_request is not None else vmi.cpu_limit
    cpus = math.ceil(amount) if amount is not None else 1  # resource.Quantity.Value() rounds up
    return 2 * cpus


def kubevirt_shared_pins(
    count: int, vcpus: int, cpuset: Sequence[int], emulator: CpuSet, isolated: bool
) -> dict[int, CpuSet]:
    """``FormatDomainIOThreadPin`` for shared/auto IOThreads: IOThread id -> host CPUs.

    ``vcpus``: the ``<vcpu>`` count (hotplug slots included, as the domain topology says);
    ``cpuset``: the pod's CPUs in ascending order. An index past the cpuset (KubeVirt would
    panic) is left unpinned."""
    if isolated:
        return {1: emulator} if emulator else {}
    if count == 0 or vcpus == 0:
        return {}
    pins: dict[int, CpuSet] = {}
    if count >= vcpus:
        for thread in range(1, count + 1):
            index = thread % vcpus
            if index < len(cpuset):
                pins[thread] = CpuSet.of((cpuset[index],))
        return pins
    series, start = vcpus % count, 0
    for thread in range(1, count + 1):
        size = vcpus // count + (1 if thread <= series else 0)
        run = cpuset[start : start + size]
        if len(run) == size:
            pins[thread] = CpuSet.of(run)
        start += size
    return pins


def threads_with(
    threads: Sequence[IoThread], pins: Mapping[int, CpuSet], cell_of_cpu: Mapping[int, int | None]
) -> tuple[IoThread, ...]:
    """``threads`` with their pins and the guest cell those pins lie in (None if they span)."""
    out = []
    for thread in threads:
        cpus = pins.get(thread.id, CpuSet.of(()))
        cells = {cell_of_cpu.get(cpu) for cpu in cpus}
        cell = cells.pop() if len(cells) == 1 else None
        out.append(IoThread(thread.id, thread.kind, thread.disks, cpus, cell, thread.reason))
    return tuple(out)


def cell_pins(
    threads: Sequence[IoThread],
    *,
    disk_cells: Mapping[str, int],
    host_cell_of_guest: Mapping[int, int],
    emulator_cell: int,
    pod_cpus: CpuSet,
    spare_cpus: CpuSet,
    host_cell_cpus: Mapping[int, CpuSet],
) -> tuple[IoThread, ...]:
    """``threads`` pinned per cell (``kvnuma.io/iothread-placement: cell``).

    ``disk_cells``: disk name -> guest cell of its controller (disks absent: not on a cell);
    ``host_cell_of_guest``: guest cell -> host cell (empty without guest NUMA);
    ``emulator_cell``: the emulator thread's host cell; ``spare_cpus``: the pod's CPUs no vCPU is
    pinned to (isolated emulator, supplemental); ``host_cell_cpus``: host cell -> its CPUs.
    A thread keeps its own pins when they lie in the chosen cell (a supplemental CPU)."""
    guest_of_host = {host: guest for guest, host in host_cell_of_guest.items()}
    out = []
    for thread in threads:
        cells = sorted({disk_cells[disk] for disk in thread.disks if disk in disk_cells})
        host, why, by_controller = emulator_cell, "emulator's cell", False
        if len(cells) == 1 and cells[0] in host_cell_of_guest:
            placed = [disk for disk in thread.disks if disk in disk_cells]
            candidate = host_cell_of_guest[cells[0]]
            if pod_cpus & host_cell_cpus.get(candidate, _NO_CPUS):
                host, by_controller = candidate, True
                why = f"controller of {','.join(placed)} on guest cell {cells[0]}"
        elif len(cells) > 1:
            why = f"disks on guest cells {','.join(map(str, cells))}: emulator's cell"
        if not by_controller and thread.kind == "supplemental" and thread.host_cpus:
            own = {cell for cell, cpus in host_cell_cpus.items() if thread.host_cpus & cpus}
            if len(own) == 1:  # no controller cell: stay on its own dedicated CPU
                host = own.pop()
                why = "no disk controller on a guest cell" if not cells else why
        in_cell = pod_cpus & host_cell_cpus.get(host, _NO_CPUS)
        spare = spare_cpus & in_cell
        if thread.kind == "supplemental" and thread.host_cpus and not thread.host_cpus - in_cell:
            cpus, which = thread.host_cpus, "its supplemental CPU"
        elif spare:
            cpus, which = spare, "the pod's non-vCPU CPUs there"
        else:
            cpus, which = in_cell, "the pod's CPUs there, shared with its vCPUs"
        reason = f"{why}: host cell {host}, {which}"
        out.append(IoThread(thread.id, thread.kind, thread.disks, cpus, guest_of_host.get(host), reason))
    return tuple(out)
