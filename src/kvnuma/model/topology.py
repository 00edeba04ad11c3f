"""The host NUMA topology as plain, frozen values.

A ``HostTopology`` is what every reader produces (sysfs, libvirt capabilities, a running libvirt)
and what every consumer reads (the agent, the guest NUMA engine, PCI placement, the migration
check). Cells are kept in the order the source reported them: KubeVirt's pinning follows host
order, so order is part of the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kvnuma.model.cpuset import CpuSet

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["NO_NUMA_NODE", "Cell", "Cpu", "HostTopology", "HugePagePool", "PciDevice"]

NO_NUMA_NODE = -1
"""A PCI device's ``numa_node`` when the firmware gives it no affinity."""


_NO_CPUS = CpuSet()


@dataclass(frozen=True, slots=True)
class Cpu:
    """One logical CPU. ``siblings`` includes the CPU itself (its SMT thread group)."""

    id: int
    socket_id: int = 0
    die_id: int = 0
    cluster_id: int = 0
    core_id: int = 0
    siblings: CpuSet = _NO_CPUS
    online: bool = True

    @property
    def core_key(self) -> tuple[int, int, int, int]:
        """A physical core is (socket, die, cluster, core): core ids repeat per die."""
        return (self.socket_id, self.die_id, self.cluster_id, self.core_id)

    @property
    def thread_group(self) -> CpuSet:
        return self.siblings if self.siblings else CpuSet.of([self.id])


@dataclass(frozen=True, slots=True)
class HugePagePool:
    """Pages of one size on one cell. ``free`` is None when the source does not say."""

    page_size_bytes: int
    total: int
    free: int | None = None

    @property
    def total_bytes(self) -> int:
        return self.page_size_bytes * self.total


@dataclass(frozen=True, slots=True)
class Cell:
    """One NUMA cell (node). ``distances`` maps a cell id to its distance from this cell."""

    id: int
    cpus: tuple[Cpu, ...] = ()
    memory_bytes: int = 0
    hugepages: tuple[HugePagePool, ...] = ()
    distances: tuple[tuple[int, int], ...] = ()

    @property
    def cpu_ids(self) -> CpuSet:
        """Every CPU of the cell, online or not."""
        return CpuSet.of(cpu.id for cpu in self.cpus)

    @property
    def online_cpus(self) -> tuple[Cpu, ...]:
        return tuple(cpu for cpu in self.cpus if cpu.online)

    @property
    def online_cpu_ids(self) -> CpuSet:
        return CpuSet.of(cpu.id for cpu in self.cpus if cpu.online)

    def pool(self, page_size_bytes: int) -> HugePagePool | None:
        for pool in self.hugepages:
            if pool.page_size_bytes == page_size_bytes:
                return pool
        return None


@dataclass(frozen=True, slots=True)
class PciDevice:
    """A PCI function. ``address`` is ``dddd:bb:ss.f``; vendor, device and class keep sysfs's
    hex form (``0x10de``); ``numa_node`` is -1 when the device has no NUMA affinity."""

    address: str
    vendor: str = ""
    device: str = ""
    pci_class: str = ""
    numa_node: int = NO_NUMA_NODE


@dataclass(frozen=True, slots=True)
class HostTopology:
    """A host's NUMA cells (in reported order) and PCI devices (sorted by address)."""

    cells: tuple[Cell, ...]
    pci_devices: tuple[PciDevice, ...] = ()

    # --- lookups -------------------------------------------------------------------------
    def cell(self, cell_id: int) -> Cell | None:
        for cell in self.cells:
            if cell.id == cell_id:
                return cell
        return None

    @property
    def cell_ids(self) -> tuple[int, ...]:
        return tuple(cell.id for cell in self.cells)

    def cell_of_cpu(self) -> Mapping[int, int]:
        """Host CPU id -> id of the cell that lists it."""
        return {cpu.id: cell.id for cell in self.cells for cpu in cell.cpus}

    @property
    def cpus(self) -> tuple[Cpu, ...]:
        return tuple(cpu for cell in self.cells for cpu in cell.cpus)

    # --- derived facts -------------------------------------------------------------------
    @property
    def cpu_count(self) -> int:
        """Online CPUs over all cells."""
        return sum(len(cell.online_cpus) for cell in self.cells)

    @property
    def max_single_numa_cpus(self) -> int:
        """Online CPUs of the cell with the most (VEP 135's ``max-single-numa-cpus``)."""
        return max((len(cell.online_cpus) for cell in self.cells), default=0)

    @property
    def max_single_numa_memory_bytes(self) -> int:
        """Memory of the cell with the most (VEP 135's ``max-single-numa-memory``)."""
        return max((cell.memory_bytes for cell in self.cells), default=0)

    @property
    def cells_with_cpus(self) -> tuple[Cell, ...]:
        return tuple(cell for cell in self.cells if cell.online_cpus)

    @property
    def min_single_numa_cpus(self) -> int:
        """Online CPUs of the smallest cell that has any (memory-only cells do not count)."""
        return min((len(cell.online_cpus) for cell in self.cells_with_cpus), default=0)

    @property
    def min_single_numa_memory_bytes(self) -> int:
        """Memory of the smallest cell that has CPUs."""
        return min((cell.memory_bytes for cell in self.cells_with_cpus), default=0)

    def max_single_numa_hugepages_bytes(self) -> Mapping[int, int]:
        """Page size -> bytes of the largest per-cell pool of that size (huge pages only,
        i.e. sizes above the 4 KiB base page; pools of zero pages count as zero)."""
        result: dict[int, int] = {}
        for cell in self.cells:
            for pool in cell.hugepages:
                if pool.page_size_bytes <= 4096:
                    continue
                result[pool.page_size_bytes] = max(result.get(pool.page_size_bytes, 0), pool.total_bytes)
        return dict(sorted(result.items()))

    @property
    def smt_enabled(self) -> bool:
        """True when any online CPU shares its core with another online CPU."""
        online = CpuSet.of(cpu.id for cpu in self.cpus if cpu.online)
        return any(len(cpu.thread_group & online) > 1 for cpu in self.cpus if cpu.online)
