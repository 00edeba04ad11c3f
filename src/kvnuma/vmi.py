"""A typed, read-only view of the parts of a KubeVirt VMI that the NUMA features use.

``VmiSpec.from_object`` accepts a VirtualMachineInstance object as a mapping (as decoded from
YAML or JSON) and checks every field it reads: a wrong type or a malformed quantity raises
``InputError`` naming the field path (``spec.domain.cpu.cores``). Unknown fields are ignored.

Counting follows KubeVirt:
- vCPUs = sockets x cores x threads (0 counts as 1); when all three are 0, sockets = the CPU
  limit, else the CPU request, rounded up (``GetCPUTopology``).
- guest memory for the engine = ``memory.guest``, else ``limits.memory`` when there is no
  request, else ``requests.memory`` (``GetVirtualMemory``); for admission (VEP 135) the
  requested memory is ``memory.guest``, else ``requests.memory``, else ``limits.memory``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from kvnuma.errors import InputError
from kvnuma.model.quantity import parse_bytes, parse_quantity
from kvnuma.names import MEMFD_ANNOTATION

__all__ = ["CpuTopology", "VmiDisk", "VmiSpec", "unknown_fields"]

_MAX_COUNT = 1 << 16  # sockets, cores, threads above this are not a real VM
_MAX_DISKS = 1024  # spec.domain.devices.disks entries (a PCIe guest holds far fewer)
_DISK_TARGETS = ("disk", "cdrom", "lun")


@dataclass(frozen=True, slots=True)
class VmiDisk:
    """One ``spec.domain.devices.disks`` entry: its name, bus and ``dedicatedIOThread``.

    ``bus`` is as KubeVirt's mutator leaves it: when unset, ``sata`` on amd64 and ``virtio``
    elsewhere (``pkg/defaults``); only virtio disks get an IOThread."""

    name: str
    bus: str
    dedicated_io_thread: bool = False


@dataclass(frozen=True, slots=True)
class CpuTopology:
    sockets: int
    cores: int
    threads: int

    @property
    def vcpus(self) -> int:
        return self.sockets * self.cores * self.threads


@dataclass(frozen=True, slots=True)
class VmiSpec:
    """What the NUMA features read from a VMI. Counts are as written (0 = unset)."""

    name: str = ""
    namespace: str = ""
    annotations: Mapping[str, str] = field(default_factory=dict)
    architecture: str = "amd64"
    sockets: int = 0
    cores: int = 0
    threads: int = 0
    max_sockets: int = 0
    dedicated_cpu_placement: bool = False
    isolate_emulator_thread: bool = False
    has_numa: bool = False
    """``spec.domain.cpu.numa`` is present (with or without guestMappingPassthrough)."""
    numa_passthrough: bool = False
    realtime: bool = False
    realtime_mask: str = ""
    memory_guest_bytes: int | None = None
    hugepage_size_bytes: int | None = None
    has_hugepages: bool = False
    cpu_request: Fraction | None = None
    cpu_limit: Fraction | None = None
    memory_request_bytes: int | None = None
    memory_limit_bytes: int | None = None
    io_threads_policy: str = ""
    supplemental_pool_threads: int = 0
    cpu_model: str = ""
    """``spec.domain.cpu.model`` as written ("" = unset: KubeVirt's mutator gives host-model)."""
    cpu_features: tuple[tuple[str, str], ...] = ()
    """``spec.domain.cpu.features``: (name, policy), policy "require" when unset (KubeVirt's default)."""
    memory_max_guest_bytes: int | None = None
    """``spec.domain.memory.maxGuest``: memory hotplug's ceiling (set by the mutator under LiveUpdate)."""
    disks: tuple[VmiDisk, ...] = ()
    """``spec.domain.devices.disks`` in order (the order KubeVirt hands out IOThreads)."""

    @property
    def memfd(self) -> bool:
        """Huge pages are backed by memfd unless the VMI opts out (``kubevirt.io/memfd: "false"``)."""
        return self.has_hugepages and self.annotations.get(MEMFD_ANNOTATION, "").lower() != "false"

    # --- derived -------------------------------------------------------------------------
    @property
    def topology(self) -> CpuTopology:
        """Guest sockets/cores/threads as KubeVirt derives them (enabled sockets, not maxSockets)."""
        if self.sockets == 0 and self.cores == 0 and self.threads == 0:
            sockets = 1
            amount = self.cpu_limit if self.cpu_limit is not None else self.cpu_request
            if amount is not None and amount > 0:
                sockets = math.ceil(amount)
            return CpuTopology(sockets=sockets, cores=1, threads=1)
        return CpuTopology(sockets=self.sockets or 1, cores=self.cores or 1, threads=self.threads or 1)

    @property
    def vcpus(self) -> int:
        return self.topology.vcpus

    @property
    def engine_memory_bytes(self) -> int | None:
        """Guest memory as the launcher computes it (``GetVirtualMemory``)."""
        if self.memory_guest_bytes is not None:
            return self.memory_guest_bytes
        if self.memory_request_bytes is None:
            return self.memory_limit_bytes
        return self.memory_request_bytes

    @property
    def requested_memory_bytes(self) -> int | None:
        """Guest memory as the admission decision reads it."""
        if self.memory_guest_bytes is not None:
            return self.memory_guest_bytes
        if self.memory_request_bytes is not None:
            return self.memory_request_bytes
        return self.memory_limit_bytes

    # --- parsing -------------------------------------------------------------------------
    @classmethod
    def from_object(cls, obj: object, *, source: str = "VMI") -> VmiSpec:
        """Read a VirtualMachineInstance mapping; InputError names ``source`` and the field."""
        root = _mapping(obj, source)
        metadata = _mapping(root.get("metadata", {}), f"{source}: metadata")
        annotations = _mapping(metadata.get("annotations") or {}, f"{source}: metadata.annotations")
        spec = _mapping(root.get("spec", {}), f"{source}: spec")
        domain = _mapping(spec.get("domain", {}), f"{source}: spec.domain")
        cpu = _mapping(domain.get("cpu") or {}, f"{source}: spec.domain.cpu")
        memory = _mapping(domain.get("memory") or {}, f"{source}: spec.domain.memory")
        resources = _mapping(domain.get("resources") or {}, f"{source}: spec.domain.resources")
        requests = _mapping(resources.get("requests") or {}, f"{source}: spec.domain.resources.requests")
        limits = _mapping(resources.get("limits") or {}, f"{source}: spec.domain.resources.limits")
        numa = cpu.get("numa")
        realtime = cpu.get("realtime")
        hugepages = memory.get("hugepages")
        io_threads = _mapping(domain.get("ioThreads") or {}, f"{source}: spec.domain.ioThreads")

        def count(mapping: Mapping[str, Any], key: str, path: str) -> int:
            return _count(mapping.get(key), f"{source}: {path}.{key}")

        def flag(mapping: Mapping[str, Any], key: str, path: str) -> bool:
            return _flag(mapping.get(key), f"{source}: {path}.{key}")

        page_size: int | None = None
        if hugepages is not None:
            hp = _mapping(hugepages, f"{source}: spec.domain.memory.hugepages")
            if hp.get("pageSize") is not None:
                page_size = _bytes(hp["pageSize"], f"{source}: spec.domain.memory.hugepages.pageSize")
                if page_size <= 0:
                    raise InputError(f"{source}: spec.domain.memory.hugepages.pageSize", "must be positive")
        mask = ""
        if realtime is not None:
            rt = _mapping(realtime, f"{source}: spec.domain.cpu.realtime")
            mask = _string(rt.get("mask", ""), f"{source}: spec.domain.cpu.realtime.mask")
        numa_map = _mapping(numa, f"{source}: spec.domain.cpu.numa") if numa is not None else {}

        features: list[tuple[str, str]] = []
        raw_features = cpu.get("features") or []
        if not isinstance(raw_features, list):
            raise InputError(f"{source}: spec.domain.cpu.features", "expected a list")
        for index, item in enumerate(raw_features):
            where = f"{source}: spec.domain.cpu.features[{index}]"
            feature = _mapping(item, where)
            features.append(
                (
                    _string(feature.get("name"), f"{where}.name"),
                    _string(feature.get("policy") or "require", f"{where}.policy"),
                )
            )

        architecture = _string(spec.get("architecture") or "amd64", f"{source}: spec.architecture")
        devices = _mapping(domain.get("devices") or {}, f"{source}: spec.domain.devices")
        disks = _disks(devices.get("disks"), architecture, f"{source}: spec.domain.devices.disks")
        return cls(
            name=_string(metadata.get("name", ""), f"{source}: metadata.name"),
            namespace=_string(metadata.get("namespace", ""), f"{source}: metadata.namespace"),
            annotations={str(k): str(v) for k, v in annotations.items()},
            architecture=architecture,
            sockets=count(cpu, "sockets", "spec.domain.cpu"),
            cores=count(cpu, "cores", "spec.domain.cpu"),
            threads=count(cpu, "threads", "spec.domain.cpu"),
            max_sockets=count(cpu, "maxSockets", "spec.domain.cpu"),
            dedicated_cpu_placement=flag(cpu, "dedicatedCpuPlacement", "spec.domain.cpu"),
            isolate_emulator_thread=flag(cpu, "isolateEmulatorThread", "spec.domain.cpu"),
            has_numa=numa is not None,
            numa_passthrough=numa_map.get("guestMappingPassthrough") is not None,
            realtime=realtime is not None,
            realtime_mask=mask,
            memory_guest_bytes=_optional_bytes(memory.get("guest"), f"{source}: spec.domain.memory.guest"),
            hugepage_size_bytes=page_size,
            has_hugepages=hugepages is not None,
            cpu_request=_optional_cpu(requests.get("cpu"), f"{source}: spec.domain.resources.requests.cpu"),
            cpu_limit=_optional_cpu(limits.get("cpu"), f"{source}: spec.domain.resources.limits.cpu"),
            memory_request_bytes=_optional_bytes(
                requests.get("memory"), f"{source}: spec.domain.resources.requests.memory"
            ),
            memory_limit_bytes=_optional_bytes(
                limits.get("memory"), f"{source}: spec.domain.resources.limits.memory"
            ),
            io_threads_policy=_string(
                domain.get("ioThreadsPolicy") or "", f"{source}: spec.domain.ioThreadsPolicy"
            ),
            supplemental_pool_threads=count(
                io_threads, "supplementalPoolThreadCount", "spec.domain.ioThreads"
            ),
            cpu_model=_string(cpu.get("model") or "", f"{source}: spec.domain.cpu.model"),
            cpu_features=tuple(features),
            memory_max_guest_bytes=_optional_bytes(
                memory.get("maxGuest"), f"{source}: spec.domain.memory.maxGuest"
            ),
            disks=disks,
        )


def _disks(value: object, architecture: str, source: str) -> tuple[VmiDisk, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InputError(source, "expected a list")
    if len(value) > _MAX_DISKS:
        raise InputError(source, f"{len(value)} disks is more than {_MAX_DISKS}")
    default_bus = "sata" if architecture == "amd64" else "virtio"
    disks: list[VmiDisk] = []
    for index, item in enumerate(value):
        where = f"{source}[{index}]"
        entry = _mapping(item, where)
        bus = ""
        for target in _DISK_TARGETS:
            if entry.get(target) is not None:
                spec = _mapping(entry[target], f"{where}.{target}")
                bus = _string(spec.get("bus") or "", f"{where}.{target}.bus") or default_bus
                break
        else:  # KubeVirt's defaults make a disk without a target a plain disk
            bus = default_bus
        disks.append(
            VmiDisk(
                name=_string(entry.get("name", ""), f"{where}.name"),
                bus=bus,
                dedicated_io_thread=_flag(entry.get("dedicatedIOThread"), f"{where}.dedicatedIOThread"),
            )
        )
    return tuple(disks)


def _mapping(value: object, source: str) -> Mapping[str, Any]:
    if type(value) is dict:  # decoded JSON/YAML; skips the slower ABC check on the admission path
        return value
    if not isinstance(value, Mapping):
        raise InputError(source, f"expected an object, got {type(value).__name__}")
    return value


def _string(value: object, source: str) -> str:
    if not isinstance(value, str):
        raise InputError(source, f"expected a string, got {type(value).__name__}")
    return value


def _count(value: object, source: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(source, f"expected a whole number, got {value!r}")
    if value < 0 or value > _MAX_COUNT:
        raise InputError(source, f"{value} is out of range 0..{_MAX_COUNT}")
    return value


def _flag(value: object, source: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InputError(source, f"expected true or false, got {value!r}")
    return value


def _bytes(value: object, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InputError(source, f"expected a quantity, got {value!r}")
    return parse_bytes(value, source=source)


def _optional_bytes(value: object, source: str) -> int | None:
    return None if value is None else _bytes(value, source)


def _optional_cpu(value: object, source: str) -> Fraction | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InputError(source, f"expected a quantity, got {value!r}")
    amount = parse_quantity(value, source=source)
    if amount < 0:
        raise InputError(source, f"negative CPU quantity {value!r}")
    if amount > _MAX_COUNT:
        raise InputError(source, f"CPU quantity {value!r} is out of range")
    return amount


_KNOWN_FIELDS: dict[tuple[str, ...], frozenset[str]] = {
    ("cpu",): frozenset(
        {
            "cores",
            "sockets",
            "maxSockets",
            "threads",
            "model",
            "features",
            "dedicatedCpuPlacement",
            "numa",
            "isolateEmulatorThread",
            "realtime",
        }
    ),
    ("cpu", "numa"): frozenset({"guestMappingPassthrough"}),
    ("cpu", "realtime"): frozenset({"mask"}),
    ("memory",): frozenset({"hugepages", "guest", "maxGuest"}),
    ("memory", "hugepages"): frozenset({"pageSize"}),
    ("resources",): frozenset({"requests", "limits", "overcommitGuestOverhead"}),
    ("ioThreads",): frozenset({"supplementalPoolThreadCount"}),
}
"""KubeVirt v1.6's field names (``kubevirt.io/api/core/v1`` schema.go) in the sections of
``spec.domain`` the NUMA features read."""


def unknown_fields(obj: object) -> tuple[str, ...]:
    """One line per field of a VMI that KubeVirt does not know, in the sections the NUMA
    features read, naming the path and the closest known name (``spec.domain.cpu.coress``).
    KubeVirt's CRD would prune or refuse such a field; kvnuma only warns."""
    import difflib

    if not isinstance(obj, Mapping):
        return ()
    spec = obj.get("spec")
    domain = spec.get("domain") if isinstance(spec, Mapping) else None
    if not isinstance(domain, Mapping):
        return ()
    found: list[str] = []
    for path, known in _KNOWN_FIELDS.items():
        section: object = domain
        for key in path:
            section = section.get(key) if isinstance(section, Mapping) else None
        if not isinstance(section, Mapping):
            continue
        for key in section:
            if key in known:
                continue
            close = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(sorted(known))})"
            found.append(f"spec.domain.{'.'.join(path)}.{key}: unknown field{hint}")
    return tuple(found)
