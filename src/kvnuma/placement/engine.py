"""``plan_guest``: a VMI, the pod's dedicated cpuset and the host topology in, a GuestPlan out.

The order of work is KubeVirt's ``AdjustDomainForTopologyAndCPUSet``: fit the vCPU cores,
then one CPU per supplemental IOThread, then the emulator CPU(s), then (NUMA passthrough)
the guest cells in host order with the memory split over them. What kvnuma adds: up-front
precondition and cpuset-size checks with numbers, and a per-host-node free huge page check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kvnuma.model import CpuSet, HostTopology, format_bytes
from kvnuma.names import (
    EMULATOR_PARITY_ANNOTATION,
    GUEST_NUMA_ANNOTATION,
    MEMORY_POLICY_ANNOTATION,
    guest_numa_settings,
    iothread_placement,
)
from kvnuma.placement.errors import (
    CoresAcrossCellsError,
    CpusetError,
    HugePageShortfallError,
    PlacementInputError,
    PreconditionError,
)
from kvnuma.placement.iothreads import (
    IoThread,
    cell_pins,
    iothread_layout,
    kubevirt_shared_pins,
    threads_with,
)
from kvnuma.placement.mask import parse_realtime_mask
from kvnuma.placement.memory import SplitMode, split_default_memory, split_memory
from kvnuma.placement.plan import GuestCell, GuestPlan, HotplugVcpu, VcpuPin
from kvnuma.placement.pool import CpuPool
from kvnuma.placement.quirks import check_quirks
from kvnuma.vmi import VmiSpec

__all__ = ["check_free_hugepages", "guest_distances", "plan_guest"]

_HOTPLUG_ARCHES = ("amd64", "s390x")


def plan_guest(
    vmi: VmiSpec,
    cpuset: CpuSet,
    host: HostTopology,
    *,
    memory_split: SplitMode = "kubevirt",
    check_hugepages: bool = True,
    default_cpu_model: str = "host-model",
    quirks: frozenset[str] = frozenset(),
    disk_cells: Mapping[str, int] | None = None,
) -> GuestPlan:
    """Plan ``vmi`` on ``cpuset`` of ``host``; every failure is a typed error with numbers.

    ``default_cpu_model``: the KubeVirt CR's ``cpuModel`` (KubeVirt's mutator gives a VMI without
    ``spec.domain.cpu.model`` that, else host-model). ``quirks``: the deliberate differences
    to undo (``kvnuma.placement.quirks``). ``disk_cells``: disk name -> the guest cell its
    controller sits on (e.g. behind that cell's pxb-pcie bus), read only with
    ``kvnuma.io/iothread-placement: cell``."""
    check_quirks(quirks)
    guest_numa, policy = guest_numa_settings(vmi.annotations)
    io_placement = iothread_placement(vmi.annotations)
    _check_preconditions(vmi)
    host_cells = guest_numa and not vmi.numa_passthrough and not vmi.has_hugepages
    topo = vmi.topology
    threads = topo.threads
    enabled = topo.vcpus
    memory = vmi.engine_memory_bytes
    if memory is None:
        raise PlacementInputError(
            "spec.domain.memory.guest", "no guest memory: set memory.guest or resources.requests.memory"
        )
    layout = iothread_layout(vmi)
    supplemental = layout.count if vmi.io_threads_policy == "supplementalPool" else 0
    emulators = _emulator_cpu_count(vmi, enabled, supplemental)
    _check_cpuset(cpuset, host, enabled, supplemental, emulators)

    pool = CpuPool(host, cpuset, threads, listing_order="cpu-listing-order" in quirks)
    host_threads, missing = pool.fit_cores(
        topo.sockets * topo.cores, strict=vmi.numa_passthrough or host_cells
    )
    if missing:
        raise CoresAcrossCellsError(
            "cores-within-host-cells",
            needed=f"{topo.sockets * topo.cores} guest cores of {threads} threads",
            available=f"{topo.sockets * topo.cores - missing} placeable",
            detail=f"{missing} core(s) would cross a host cell or core boundary in cpuset {cpuset}",
        )
    cell_of = host.cell_of_cpu()
    pins = tuple(VcpuPin(vcpu, cpu, cell_of[cpu]) for vcpu, cpu in enumerate(host_threads))
    slots = vmi.max_sockets * topo.cores * threads if _hotplug(vmi) else enabled  # <vcpu>
    io_pins: dict[int, CpuSet] = {}
    if "v1.6-supplemental-pool" in quirks:  # v1.6.0: CPU ids past <vcpu>, the pod's or not
        offset = slots + (1 if vmi.isolate_emulator_thread else 0)
        io_pins = {index: CpuSet.of((offset + index,)) for index in range(1, supplemental + 1)}
    else:
        for index in range(1, supplemental + 1):
            io_pins[index] = CpuSet.of((_fit_thread(pool, cpuset, "IOThread"),))
    emulator = CpuSet.of(_fit_thread(pool, cpuset, "emulator thread") for _ in range(emulators))
    if layout.enabled and not supplemental:
        io_pins = kubevirt_shared_pins(
            layout.count, slots, cpuset.sorted(), emulator, vmi.isolate_emulator_thread
        )
        if not layout.count and "v1.6-iothreadpin-without-iothreads" not in quirks:
            io_pins = {}  # no IOThread to pin: libvirt refuses the pin ("Cannot find 'iothread' : 1")

    page = vmi.hugepage_size_bytes
    cells: tuple[GuestCell, ...] = ()
    distances = "no-distances" not in quirks
    if vmi.numa_passthrough:
        assert page is not None  # checked by _check_preconditions
        cells = _guest_cells(pins, host, memory, page, memory_split, distances=distances)
        if check_hugepages and "no-hugepage-check" not in quirks:
            check_free_hugepages(cells, host)
    elif host_cells:
        cells = _guest_cells(pins, host, memory, None, memory_split, distances=distances)
    notes = _numa_notes(vmi, guest_numa, policy, cells)

    guest_cell_of = {cell.host_cell: cell.id for cell in cells}
    iothreads = threads_with(
        _orphan_pin(layout.threads, io_pins),
        io_pins,
        {cpu: guest_cell_of.get(cell_of.get(cpu, -1)) for cpus in io_pins.values() for cpu in cpus},
    )
    if io_placement == "cell" and iothreads:
        iothreads = _cell_iothreads(
            iothreads,
            disk_cells=disk_cells or {},
            cells=cells,
            pins=pins,
            emulator=emulator,
            cpuset=cpuset,
            host=host,
        )
    sockets, max_vcpus = topo.sockets, enabled
    hotplug: tuple[HotplugVcpu, ...] = ()
    if _hotplug(vmi):
        per_socket = topo.cores * threads
        sockets, max_vcpus = vmi.max_sockets, vmi.max_sockets * per_socket
        hotplug = tuple(
            HotplugVcpu(i, enabled=i < enabled, hotpluggable=i >= per_socket) for i in range(max_vcpus)
        )
    lenient = "lenient-realtime-mask" in quirks
    realtime = parse_realtime_mask(vmi.realtime_mask, enabled, lenient=lenient) if vmi.realtime else ()
    return GuestPlan(
        name=vmi.name or "vmi",
        sockets=sockets,
        cores=topo.cores,
        threads=threads,
        max_vcpus=max_vcpus,
        enabled_vcpus=enabled,
        hotplug=hotplug,
        vcpu_pins=pins,
        emulator_cpus=emulator,
        iothreads=iothreads,
        cells=cells,
        memory_bytes=memory,
        page_size_bytes=page,
        memory_split=memory_split if cells else "none",
        realtime_vcpus=realtime,
        realtime=vmi.realtime,
        hint_dedicated=vmi.architecture == "amd64",
        cpu_model=vmi.cpu_model or default_cpu_model or "host-model",
        cpu_features=vmi.cpu_features,
        memfd=vmi.memfd,
        spanning_cell=vmi.has_hugepages and not cells,
        max_memory_bytes=vmi.memory_max_guest_bytes,
        iothread_count=layout.count,
        iothread_policy=vmi.io_threads_policy,
        iothread_cells=io_placement == "cell" and bool(iothreads),
        vcpusched="no-vcpusched" not in quirks,
        memory_policy=policy or "strict",
        cells_from=("guestMappingPassthrough" if vmi.numa_passthrough else "host-cells") if cells else "",
        numa_notes=notes,
    )


def _cell_iothreads(
    threads: tuple[IoThread, ...],
    *,
    disk_cells: Mapping[str, int],
    cells: tuple[GuestCell, ...],
    pins: tuple[VcpuPin, ...],
    emulator: CpuSet,
    cpuset: CpuSet,
    host: HostTopology,
) -> tuple[IoThread, ...]:
    """``kvnuma.io/iothread-placement: cell``: each IOThread inside one host cell
    (``kvnuma.placement.iothreads.cell_pins``)."""
    known = {cell.id for cell in cells}
    for disk, guest in disk_cells.items():
        if guest not in known:
            raise PlacementInputError(
                f"disk {disk}", f"its controller is on guest cell {guest}, which the plan does not have"
            )
    cell_of = host.cell_of_cpu()
    emulator_cell = cell_of[min(emulator)] if emulator else pins[0].host_cell
    vcpu_cpus = CpuSet.of(pin.host_cpu for pin in pins)
    return cell_pins(
        threads,
        disk_cells=disk_cells,
        host_cell_of_guest={cell.id: cell.host_cell for cell in cells},
        emulator_cell=emulator_cell,
        pod_cpus=cpuset,
        spare_cpus=cpuset - vcpu_cpus,
        host_cell_cpus={cell.id: CpuSet.of(cpu.id for cpu in cell.cpus) for cell in host.cells},
    )


def _orphan_pin(threads: tuple[IoThread, ...], pins: dict[int, CpuSet]) -> tuple[IoThread, ...]:
    """KubeVirt v1.6 pins IOThread 1 to an isolated emulator thread even when no disk needs an
    IOThread (``<iothreads>`` absent); with that quirk the pin is kept as a thread serving no disk."""
    if 1 in pins and not threads:
        return (IoThread(1, "shared", ()),)
    return threads


def _numa_notes(vmi: VmiSpec, guest_numa: bool, policy: str, cells: tuple[GuestCell, ...]) -> tuple[str, ...]:
    """One line per annotation given: what it did, or why it did nothing."""
    notes: list[str] = []
    if guest_numa:
        what = f"{GUEST_NUMA_ANNOTATION}=host-cells"
        if vmi.numa_passthrough:
            notes.append(f"{what}: not needed: guestMappingPassthrough already mirrors the host cells")
        elif vmi.has_hugepages:
            notes.append(
                f"{what}: not applied: the VM has huge pages without guestMappingPassthrough"
                " (set guestMappingPassthrough for per-cell huge pages)"
            )
        else:
            nodes = ",".join(str(cell.host_cell) for cell in cells)
            notes.append(f"{what}: {len(cells)} guest cell(s) on host cell(s) {nodes}, default memory")
    if policy:
        what = f"{MEMORY_POLICY_ANNOTATION}={policy}"
        if cells:
            notes.append(f"{what}: <numatune> memory and {len(cells)} memnode(s) in mode {policy}")
        else:
            notes.append(f"{what}: not applied: the VM has no guest NUMA cells")
    return tuple(notes)


def _hotplug(vmi: VmiSpec) -> bool:
    return bool(vmi.max_sockets) and vmi.architecture in _HOTPLUG_ARCHES


def check_free_hugepages(cells: tuple[GuestCell, ...], host: HostTopology) -> None:
    """Each guest cell's pages must be free on its host node (free when known, else total).
    A host cell that reports no huge page pools at all is not checked (nothing is known)."""
    for cell in cells:
        host_cell = host.cell(cell.host_cell)
        page = cell.page_size_bytes
        if host_cell is None or not host_cell.hugepages or page is None:
            continue
        size = format_bytes(page)
        pool = host_cell.pool(page)
        have = 0 if pool is None else (pool.free if pool.free is not None else pool.total)
        need = cell.memory_bytes // page
        if have < need:
            kind = "total" if pool is not None and pool.free is None else "free"
            raise HugePageShortfallError(
                "hugepages-per-node",
                needed=f"{need} pages of {size}",
                available=f"{have} {kind}",
                detail=f"host node {cell.host_cell} backing guest cell {cell.id}",
            )


def _check_preconditions(vmi: VmiSpec) -> None:
    cpu = "spec.domain.cpu"
    if not vmi.dedicated_cpu_placement:
        raise PreconditionError(
            "dedicated-cpu-placement", needed=f"{cpu}.dedicatedCpuPlacement: true", available="not set"
        )
    if vmi.threads > 2:
        raise PreconditionError(
            "dedicated-max-two-threads", needed=f"{cpu}.threads <= 2", available=str(vmi.threads)
        )
    if vmi.numa_passthrough and not vmi.has_hugepages:
        raise PreconditionError(
            "passthrough-needs-hugepages", needed="spec.domain.memory.hugepages", available="not set"
        )
    if vmi.has_hugepages and vmi.hugepage_size_bytes is None:
        raise PlacementInputError("spec.domain.memory.hugepages.pageSize", "required when hugepages is set")
    if vmi.realtime and not vmi.numa_passthrough:
        raise PreconditionError(
            "realtime-needs-passthrough", needed=f"{cpu}.numa.guestMappingPassthrough", available="not set"
        )
    if vmi.max_sockets and vmi.max_sockets < vmi.topology.sockets:
        raise PreconditionError(
            "max-sockets",
            needed=f"maxSockets >= sockets ({vmi.topology.sockets})",
            available=f"maxSockets {vmi.max_sockets}",
        )


def _emulator_cpu_count(vmi: VmiSpec, vcpus: int, supplemental: int) -> int:
    if not vmi.isolate_emulator_thread:
        return 0
    if EMULATOR_PARITY_ANNOTATION in vmi.annotations and (vcpus + supplemental) % 2 == 0:
        return 2
    return 1


def _check_cpuset(cpuset: CpuSet, host: HostTopology, vcpus: int, iothreads: int, emulators: int) -> None:
    online = CpuSet.of(cpu.id for cpu in host.cpus if cpu.online)
    unknown = cpuset - online
    if unknown:
        raise PlacementInputError("cpuset", f"CPUs {unknown} are not online CPUs of the host ({online})")
    needed = vcpus + iothreads + emulators
    if len(cpuset) < needed:
        parts = [f"{vcpus} vCPUs"]
        if emulators:
            parts.append(f"{emulators} emulator")
        if iothreads:
            parts.append(f"{iothreads} IOThreads")
        raise CpusetError(
            "cpuset-size",
            needed=f"{needed} CPUs ({' + '.join(parts)})",
            available=f"{len(cpuset)} CPUs ({cpuset or 'empty'})",
        )


def _fit_thread(pool: CpuPool, cpuset: CpuSet, what: str) -> int:
    cpu = pool.fit_thread()
    if cpu is None:
        raise CpusetError("cpuset-size", needed=f"1 more CPU for the {what}", available=f"0 left in {cpuset}")
    return cpu


def _guest_cells(
    pins: tuple[VcpuPin, ...],
    host: HostTopology,
    memory: int,
    page: int | None,
    mode: SplitMode,
    *,
    distances: bool = True,
) -> tuple[GuestCell, ...]:
    """One guest cell per host cell holding a pinned vCPU, in host order; ``page`` None: default
    memory, split in 1 MiB units."""
    by_cell: dict[int, list[int]] = {}
    for pin in pins:
        by_cell.setdefault(pin.host_cell, []).append(pin.vcpu)
    involved = [cell_id for cell_id in host.cell_ids if cell_id in by_cell]
    counts = [len(by_cell[c]) for c in involved]
    sizes = (
        split_default_memory(memory, counts, mode)
        if page is None
        else split_memory(memory, page, counts, mode)
    )
    return tuple(
        GuestCell(
            guest,
            host_cell,
            tuple(by_cell[host_cell]),
            size,
            page,
            guest_distances(host, involved, host_cell) if distances else (),
        )
        for guest, (host_cell, size) in enumerate(zip(involved, sizes, strict=True))
    )


def guest_distances(
    host: HostTopology, involved: Sequence[int], host_cell: int
) -> tuple[tuple[int, int], ...]:
    """KubeVirt's distance pass-through (PR #18829): the host cell's distances to the ``involved``
    host cells, renumbered to guest cell ids, in the host's order with the host's values."""
    cell = host.cell(host_cell)
    if cell is None:
        return ()
    guest_id = {host_id: guest for guest, host_id in enumerate(involved)}
    return tuple((guest_id[other], value) for other, value in cell.distances if other in guest_id)
