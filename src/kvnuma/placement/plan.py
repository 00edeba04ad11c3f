"""The guest plan: every choice the engine made, as plain frozen values.

The renderer turns a ``GuestPlan`` into libvirt XML without deciding anything; ``to_dict``
is the JSON form printed by ``kvnuma render -o json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kvnuma.model import CpuSet
from kvnuma.placement.iothreads import IoThread

__all__ = ["GuestCell", "GuestPlan", "HotplugVcpu", "VcpuPin"]


@dataclass(frozen=True, slots=True)
class VcpuPin:
    vcpu: int
    host_cpu: int
    host_cell: int


@dataclass(frozen=True, slots=True)
class HotplugVcpu:
    """One ``<vcpus><vcpu id enabled hotpluggable>`` entry."""

    id: int
    enabled: bool
    hotpluggable: bool


@dataclass(frozen=True, slots=True)
class GuestCell:
    """A guest NUMA cell: guest id (from 0), the host cell backing it, its vCPUs and memory.

    ``distances``: (guest cell id, distance) in the host cell's order, for the guest cells whose
    host cells the host reported a distance to (empty when the host reports none).
    """

    id: int
    host_cell: int
    vcpus: tuple[int, ...]
    memory_bytes: int
    page_size_bytes: int | None
    """The huge page size backing the cell; None: the default memory (``kvnuma.io/guest-numa``)."""
    distances: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class GuestPlan:
    name: str
    sockets: int
    """Sockets in ``<cpu><topology>``: maxSockets when CPU hotplug is on, else the VMI's."""
    cores: int
    threads: int
    max_vcpus: int
    """The ``<vcpu>`` count (all sockets, hotpluggable included)."""
    enabled_vcpus: int
    hotplug: tuple[HotplugVcpu, ...]
    vcpu_pins: tuple[VcpuPin, ...]
    emulator_cpus: CpuSet
    iothreads: tuple[IoThread, ...]
    """The IOThreads (id from 1, kind, disks, pinned host CPUs, guest cell), KubeVirt's count and
    disk assignment (``kvnuma.placement.iothreads``)."""
    cells: tuple[GuestCell, ...]
    memory_bytes: int
    page_size_bytes: int | None
    memory_split: str
    realtime_vcpus: tuple[int, ...]
    realtime: bool
    hint_dedicated: bool
    """``<features><kvm><hint-dedicated state='on'/>``: KubeVirt sets it on amd64."""
    cpu_model: str = "host-model"
    """``<cpu mode>``: host-model or host-passthrough, else a named model (mode custom)."""
    cpu_features: tuple[tuple[str, str], ...] = ()
    """``<cpu><feature name policy>``, from ``spec.domain.cpu.features``."""
    memfd: bool = False
    """``<memoryBacking><source type='memfd'/>``: KubeVirt backs huge pages with memfd."""
    spanning_cell: bool = False
    """KubeVirt's single guest cell for huge pages without passthrough: every vCPU slot
    (hotpluggable ones too) and all guest memory, bound to no host node (no ``<numatune>``)."""
    max_memory_bytes: int | None = None
    """``<maxMemory slots='0'>``: memory hotplug's ceiling (``spec.domain.memory.maxGuest``)."""
    iothread_count: int = 0
    """``<iothreads>``: 0 renders none. KubeVirt v1.6 still pins IOThread 1 to an isolated emulator
    thread when no disk needs one (shared/auto without disks), so ``iothreads`` may hold it."""
    iothread_policy: str = ""
    """``spec.domain.ioThreadsPolicy`` as planned ("" = unset)."""
    iothread_cells: bool = False
    """IOThreads pinned per host cell (``kvnuma.io/iothread-placement: cell``); each thread's
    ``reason`` says which cell and CPUs and why."""
    vcpusched: bool = True
    """Render ``<vcpusched>`` for the realtime vCPUs (off with the ``no-vcpusched`` quirk)."""
    memory_policy: str = "strict"
    """The ``<numatune>`` mode of ``<memory>`` and every ``<memnode>`` (``kvnuma.io/memory-policy``;
    KubeVirt's is strict)."""
    cells_from: str = ""
    """What made the guest cells: ``guestMappingPassthrough``, ``host-cells``
    (``kvnuma.io/guest-numa``) or "" (none)."""
    numa_notes: tuple[str, ...] = ()
    """What the guest NUMA and memory policy annotations did or why they did nothing, one line each."""

    # --- derived -------------------------------------------------------------------------
    @property
    def numa(self) -> bool:
        return bool(self.cells)

    @property
    def iothread_pins(self) -> tuple[tuple[int, CpuSet], ...]:
        """(IOThread id, host CPUs) of every pinned IOThread, in id order (``<iothreadpin>``)."""
        return tuple((t.id, t.host_cpus) for t in self.iothreads if t.host_cpus)

    @property
    def memory_nodeset(self) -> tuple[int, ...]:
        """Host cells in ``<numatune><memory nodeset>``, in host order: every cell's, except for
        ``preferred``, which names the first cell's only (libvirt before 9.3 refuses to start a
        domain whose ``preferred`` ``<memory>`` names more than one node; each cell's own
        ``<memnode>`` still prefers its host cell)."""
        nodes = tuple(cell.host_cell for cell in self.cells)
        return nodes[:1] if self.memory_policy == "preferred" else nodes

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "topology": {"sockets": self.sockets, "cores": self.cores, "threads": self.threads},
            "vcpus": {"max": self.max_vcpus, "enabled": self.enabled_vcpus},
            "hotplug": [
                {"id": v.id, "enabled": v.enabled, "hotpluggable": v.hotpluggable} for v in self.hotplug
            ],
            "vcpuPins": [
                {"vcpu": p.vcpu, "hostCpu": p.host_cpu, "hostCell": p.host_cell} for p in self.vcpu_pins
            ],
            "emulatorCpus": self.emulator_cpus.sorted(),
            "iothreadCount": self.iothread_count,
            "iothreadPolicy": self.iothread_policy,
            "iothreadCells": self.iothread_cells,
            "iothreads": [
                {
                    "id": t.id,
                    "kind": t.kind,
                    "disks": list(t.disks),
                    "hostCpus": t.host_cpus.sorted(),
                    "guestCell": t.guest_cell,
                    "reason": t.reason,
                }
                for t in self.iothreads
            ],
            "cells": [
                {
                    "id": c.id,
                    "hostCell": c.host_cell,
                    "vcpus": list(c.vcpus),
                    "memoryBytes": c.memory_bytes,
                    "pageSizeBytes": c.page_size_bytes,
                    "distances": [{"id": guest, "value": value} for guest, value in c.distances],
                }
                for c in self.cells
            ],
            "memoryBytes": self.memory_bytes,
            "pageSizeBytes": self.page_size_bytes,
            "memorySplit": self.memory_split,
            "numatuneNodeset": list(self.memory_nodeset),
            "realtime": {"enabled": self.realtime, "vcpus": list(self.realtime_vcpus)},
            "cpuModel": self.cpu_model,
            "cpuFeatures": [{"name": name, "policy": policy} for name, policy in self.cpu_features],
            "memfd": self.memfd,
            "spanningCell": self.spanning_cell,
            "maxMemoryBytes": self.max_memory_bytes,
            "memoryPolicy": self.memory_policy,
            "guestNuma": {"cellsFrom": self.cells_from or "none", "notes": list(self.numa_notes)},
        }
