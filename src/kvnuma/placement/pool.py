"""The pod's dedicated CPUs grouped by host cell and core, and KubeVirt's fitting on them.

This follows KubeVirt's launcher (``newCPUPool``, ``cpuChunksToCells``, ``FitCores``,
``FitThread``):

* cells are walked in host order; inside a cell CPUs are walked by id (libvirt and sysfs
  report them so; sorting makes the plan independent of any other listing order), or in the
  listed order as KubeVirt does (quirk ``cpu-listing-order``);
* a CPU's core is its SMT sibling group restricted to the cpuset; siblings come from the
  model already parsed, so range-form siblings (``0-1``) count, unlike in KubeVirt;
* per cell, cores with at least T threads are "full", the threads of smaller cores are
  "fragmented";
* fitting a guest core of T threads: first whole host cores (cell by cell, draining each),
  then T fragmented threads of one cell, and - only without NUMA passthrough - any threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kvnuma.model import CpuSet, HostTopology

__all__ = ["CellPool", "CpuPool"]


@dataclass
class CellPool:
    """Unassigned CPUs of one host cell (mutable while a plan is being built)."""

    cell_id: int
    full: list[list[int]] = field(default_factory=list)
    fragmented: list[int] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.full and not self.fragmented


class CpuPool:
    """The cpuset, chunked per host cell and core. ``threads`` is the guest's threads per core."""

    def __init__(
        self, host: HostTopology, cpuset: CpuSet, threads: int, *, listing_order: bool = False
    ) -> None:
        self.threads = threads
        self.cells: list[CellPool] = []
        visited: set[int] = set()
        for cell in host.cells:
            pool = CellPool(cell.id)
            cpus = cell.online_cpus if listing_order else sorted(cell.online_cpus, key=lambda c: c.id)
            for cpu in cpus:
                if cpu.id in visited:
                    continue
                group = cpu.thread_group
                visited.update(group.ids)
                core = [cpu_id for cpu_id in group if cpu_id in cpuset]
                if len(core) >= threads:
                    pool.full.append(core)
                else:
                    pool.fragmented.extend(core)
            self.cells.append(pool)

    def fit_cores(self, cores: int, *, strict: bool) -> tuple[list[int], int]:
        """Take ``cores`` guest cores; returns the host threads (T per guest core, in vCPU
        order) and the number of guest cores that could not be placed."""
        threads = self.threads
        taken: list[int] = []
        remaining = cores
        for pool in self.cells:  # phase 1: whole host cores, draining each cell
            while remaining and pool.full:
                taken.extend(self._take_from_full(pool, threads))
                remaining -= 1
        for pool in self.cells:  # phase 2: T fragmented threads of one cell
            while remaining and len(pool.fragmented) >= threads:
                taken.extend(pool.fragmented[:threads])
                del pool.fragmented[:threads]
                remaining -= 1
        if remaining and not strict:  # phase 3: any threads, across cores and cells
            wanted = remaining * threads
            for pool in self.cells:
                grab = pool.fragmented[:wanted]
                del pool.fragmented[: len(grab)]
                taken.extend(grab)
                wanted -= len(grab)
            remaining = wanted // threads + (1 if wanted % threads else 0)
        return taken, remaining

    def fit_thread(self) -> int | None:
        """One CPU for the emulator or an IOThread: the first cell with any left, a fragmented
        thread first, else the first thread of its first full core."""
        for pool in self.cells:
            if pool.empty:
                continue
            if pool.fragmented:
                return pool.fragmented.pop(0)
            return self._take_from_full(pool, 1)[0]
        return None

    def _take_from_full(self, pool: CellPool, count: int) -> list[int]:
        core = pool.full[0]
        taken, rest = core[:count], core[count:]
        if len(rest) >= self.threads:
            pool.full[0] = rest
        else:
            pool.full.pop(0)
            pool.fragmented.extend(rest)
        return taken
