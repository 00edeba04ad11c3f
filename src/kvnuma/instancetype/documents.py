"""Instance type and preference documents (``instancetype.kubevirt.io``), read and checked.

Only the fields that shape a VMI's CPU, memory and NUMA layout are typed; the sub-objects KubeVirt
copies verbatim (``numa``, ``realtime``, ``hugepages``) are kept as plain mappings. Every field read
is checked: a wrong type or a malformed quantity raises ``InputError`` naming the document and field.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kvnuma.errors import InputError
from kvnuma.model.quantity import parse_bytes

__all__ = [
    "CLUSTER_INSTANCETYPE",
    "CLUSTER_PREFERENCE",
    "INSTANCETYPE",
    "PREFERENCE",
    "Instancetype",
    "Preference",
    "canonical_kind",
]

GROUP = "instancetype.kubevirt.io"
VERSIONS = ("v1beta1", "v1")
CLUSTER_INSTANCETYPE = "VirtualMachineClusterInstancetype"
INSTANCETYPE = "VirtualMachineInstancetype"
CLUSTER_PREFERENCE = "VirtualMachineClusterPreference"
PREFERENCE = "VirtualMachinePreference"

# KubeVirt accepts the kind, its lower-case singular and plural resource names (``find/spec.go``).
_KIND_NAMES = {
    name.lower() + suffix: name
    for name in (CLUSTER_INSTANCETYPE, INSTANCETYPE, CLUSTER_PREFERENCE, PREFERENCE)
    for suffix in ("", "s")
}
_MAX_VCPUS = 1 << 16


def canonical_kind(kind: str) -> str | None:
    """``virtualmachineclusterinstancetypes`` -> ``VirtualMachineClusterInstancetype``; None if unknown."""
    return _KIND_NAMES.get(kind.lower())


@dataclass(frozen=True, slots=True)
class Instancetype:
    kind: str
    name: str
    namespace: str
    guest_vcpus: int
    guest_memory: str
    guest_memory_bytes: int
    model: str | None = None
    dedicated_cpu_placement: bool | None = None
    isolate_emulator_thread: bool | None = None
    numa: Mapping[str, Any] | None = None
    realtime: Mapping[str, Any] | None = None
    max_sockets: int | None = None
    hugepages: Mapping[str, Any] | None = None
    max_guest: str | None = None
    overcommit_percent: int = 0
    io_threads_policy: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_object(cls, obj: Mapping[str, Any], *, source: str) -> Instancetype:
        kind, name, namespace, spec = _header(obj, source, (CLUSTER_INSTANCETYPE, INSTANCETYPE))
        cpu = _mapping(spec.get("cpu"), f"{source}: spec.cpu", required=True)
        memory = _mapping(spec.get("memory"), f"{source}: spec.memory", required=True)
        guest = cpu.get("guest")
        if isinstance(guest, bool) or not isinstance(guest, int) or not 0 < guest <= _MAX_VCPUS:
            raise InputError(
                f"{source}: spec.cpu.guest", f"expected a whole number 1..{_MAX_VCPUS}, got {guest!r}"
            )
        memory_guest = memory.get("guest")
        if not isinstance(memory_guest, str | int) or isinstance(memory_guest, bool):
            raise InputError(f"{source}: spec.memory.guest", f"expected a quantity, got {memory_guest!r}")
        memory_bytes = parse_bytes(memory_guest, source=f"{source}: spec.memory.guest")
        if memory_bytes == 0:
            raise InputError(f"{source}: spec.memory.guest", "must be larger than 0")
        hugepages = _mapping(memory.get("hugepages"), f"{source}: spec.memory.hugepages")
        if hugepages is not None and "pageSize" in hugepages:
            parse_bytes(
                _text(hugepages["pageSize"], f"{source}: spec.memory.hugepages.pageSize"),
                source=f"{source}: spec.memory.hugepages.pageSize",
            )
        max_guest = memory.get("maxGuest")
        if max_guest is not None:
            parse_bytes(
                _text(max_guest, f"{source}: spec.memory.maxGuest"), source=f"{source}: spec.memory.maxGuest"
            )
        overcommit = memory.get("overcommitPercent", 0)
        if isinstance(overcommit, bool) or not isinstance(overcommit, int) or not 0 <= overcommit <= 100:
            raise InputError(
                f"{source}: spec.memory.overcommitPercent", f"expected 0..100, got {overcommit!r}"
            )
        max_sockets = cpu.get("maxSockets")
        if max_sockets is not None and (
            isinstance(max_sockets, bool)
            or not isinstance(max_sockets, int)
            or not 0 < max_sockets <= _MAX_VCPUS
        ):
            raise InputError(f"{source}: spec.cpu.maxSockets", f"expected a whole number 1..{_MAX_VCPUS}")
        policy = spec.get("ioThreadsPolicy")
        return cls(
            kind=kind,
            name=name,
            namespace=namespace,
            guest_vcpus=guest,
            guest_memory=str(memory_guest),
            guest_memory_bytes=memory_bytes,
            model=_optional_text(cpu.get("model"), f"{source}: spec.cpu.model"),
            dedicated_cpu_placement=_optional_flag(cpu, "dedicatedCPUPlacement", f"{source}: spec.cpu"),
            isolate_emulator_thread=_optional_flag(cpu, "isolateEmulatorThread", f"{source}: spec.cpu"),
            numa=_mapping(cpu.get("numa"), f"{source}: spec.cpu.numa"),
            realtime=_mapping(cpu.get("realtime"), f"{source}: spec.cpu.realtime"),
            max_sockets=max_sockets,
            hugepages=hugepages,
            max_guest=None if max_guest is None else str(max_guest),
            overcommit_percent=overcommit,
            io_threads_policy=_optional_text(policy, f"{source}: spec.ioThreadsPolicy"),
            annotations=_annotations(spec.get("annotations"), f"{source}: spec.annotations"),
        )


@dataclass(frozen=True, slots=True)
class Preference:
    kind: str
    name: str
    namespace: str
    preferred_topology: str = "sockets"
    """Normalised: ``sockets``, ``cores``, ``threads``, ``spread`` or ``any``."""
    spread_ratio: int = 2
    spread_across: str = "SocketsCores"
    required_vcpus: int | None = None
    required_memory_bytes: int | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_object(cls, obj: Mapping[str, Any], *, source: str) -> Preference:
        kind, name, namespace, spec = _header(obj, source, (CLUSTER_PREFERENCE, PREFERENCE))
        cpu = _mapping(spec.get("cpu"), f"{source}: spec.cpu") or {}
        topology = _optional_text(cpu.get("preferredCPUTopology"), f"{source}: spec.cpu.preferredCPUTopology")
        normalised = _TOPOLOGIES.get(topology or "sockets")
        if normalised is None:
            raise InputError(
                f"{source}: spec.cpu.preferredCPUTopology",
                f"unknown value {topology!r} (expected one of {', '.join(sorted(_TOPOLOGIES))})",
            )
        ratio = _positive(
            spec.get("preferSpreadSocketToCoreRatio") or 2, f"{source}: spec.preferSpreadSocketToCoreRatio"
        )
        across = "SocketsCores"
        options = _mapping(cpu.get("spreadOptions"), f"{source}: spec.cpu.spreadOptions")
        if options is not None:
            if options.get("ratio") is not None:
                ratio = _positive(options["ratio"], f"{source}: spec.cpu.spreadOptions.ratio")
            if options.get("across") is not None:
                across = _text(options["across"], f"{source}: spec.cpu.spreadOptions.across")
                if across not in _ACROSS:
                    raise InputError(
                        f"{source}: spec.cpu.spreadOptions.across",
                        f"unknown value {across!r} (expected one of {', '.join(_ACROSS)})",
                    )
        requirements = _mapping(spec.get("requirements"), f"{source}: spec.requirements") or {}
        req_cpu = _mapping(requirements.get("cpu"), f"{source}: spec.requirements.cpu") or {}
        req_memory = _mapping(requirements.get("memory"), f"{source}: spec.requirements.memory") or {}
        required_vcpus = req_cpu.get("guest")
        if required_vcpus is not None:
            required_vcpus = _positive(required_vcpus, f"{source}: spec.requirements.cpu.guest")
        required_memory = req_memory.get("guest")
        return cls(
            kind=kind,
            name=name,
            namespace=namespace,
            preferred_topology=normalised,
            spread_ratio=ratio,
            spread_across=across,
            required_vcpus=required_vcpus,
            required_memory_bytes=None
            if required_memory is None
            else parse_bytes(
                _text(required_memory, f"{source}: spec.requirements.memory.guest"),
                source=f"{source}: spec.requirements.memory.guest",
            ),
            annotations=_annotations(spec.get("annotations"), f"{source}: spec.annotations"),
        )


_TOPOLOGIES = {
    "sockets": "sockets",
    "cores": "cores",
    "threads": "threads",
    "spread": "spread",
    "any": "any",
    "preferSockets": "sockets",
    "preferCores": "cores",
    "preferThreads": "threads",
    "preferSpread": "spread",
    "preferAny": "any",
}
_ACROSS = ("SocketsCores", "CoresThreads", "SocketsCoresThreads")


def _header(
    obj: Mapping[str, Any], source: str, kinds: tuple[str, ...]
) -> tuple[str, str, str, Mapping[str, Any]]:
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    if kind not in kinds:
        raise InputError(f"{source}: kind", f"expected {' or '.join(kinds)}, got {kind!r}")
    if api_version not in {f"{GROUP}/{version}" for version in VERSIONS}:
        raise InputError(
            f"{source}: apiVersion",
            f"expected {GROUP}/{' or '.join(VERSIONS)}, got {api_version!r}",
        )
    metadata = _mapping(obj.get("metadata"), f"{source}: metadata", required=True)
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(f"{source}: metadata.name", "missing")
    namespace = metadata.get("namespace") or ""
    if not isinstance(namespace, str):
        raise InputError(f"{source}: metadata.namespace", "expected a string")
    spec = _mapping(obj.get("spec"), f"{source}: spec", required=True)
    assert kind is not None
    return str(kind), name, namespace, spec


def _mapping(value: object, source: str, *, required: bool = False) -> Any:
    if value is None:
        if required:
            raise InputError(source, "missing")
        return None
    if not isinstance(value, Mapping):
        raise InputError(source, f"expected an object, got {type(value).__name__}")
    return copy.deepcopy(dict(value))


def _text(value: object, source: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InputError(source, f"expected a string, got {value!r}")
    return str(value)


def _optional_text(value: object, source: str) -> str | None:
    return None if value is None else _text(value, source)


def _optional_flag(mapping: Mapping[str, Any], key: str, path: str) -> bool | None:
    value = mapping.get(key)
    if value is not None and not isinstance(value, bool):
        raise InputError(f"{path}.{key}", f"expected true or false, got {value!r}")
    return value


def _positive(value: object, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_VCPUS:
        raise InputError(source, f"expected a whole number 1..{_MAX_VCPUS}, got {value!r}")
    return value


def _annotations(value: object, source: str) -> dict[str, str]:
    mapping = _mapping(value, source) or {}
    result: dict[str, str] = {}
    for key, item in mapping.items():
        if not isinstance(item, str):
            raise InputError(f"{source}.{key}", f"expected a string, got {item!r}")
        result[str(key)] = item
    return result
