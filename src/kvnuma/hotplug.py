"""CPU hotplug sizing: the sockets, cores, threads and maxSockets KubeVirt gives a VMI, and what
that costs on a NUMA host.

KubeVirt's VMI mutator (``setupCPUHotplug``), only when the rollout strategy is LiveUpdate (the
default) and not on arm64:

1. ``maxSockets`` set on the VMI (or by its instance type) is kept;
2. else ``liveUpdateConfiguration.maxCpuSockets`` when set (raised to ``sockets`` if smaller);
3. else ``sockets x maxHotplugRatio`` (default 4); when that makes more than 512 vCPUs,
   ``maxSockets = max(512 // (cores x threads), sockets)``.

``maxSockets == sockets`` (what the ``cx1`` instance types set, and what ratio 1 gives every VM)
means no hotplug slot. ``sockets > maxSockets`` is rejected as KubeVirt's admission does.

``size`` also warns — typed warnings with the numbers — when the result is more than the host or
KVM supports or when spare vCPUs would sit outside every guest NUMA cell:

* ``maxvcpus-above-host-cpus``: QEMU's maxvcpus exceeds the host's online CPUs;
* ``maxvcpus-above-kvm-recommended``: it exceeds KVM's recommended vCPU count (a parameter;
  240 is x86 KVM's historic ``KVM_SOFT_MAX_VCPUS``, which QEMU warns above; newer kernels report
  ``KVM_CAP_NR_VCPUS`` = min(online CPUs, KVM_MAX_VCPUS) — pass the host's value when known);
* ``hotplug-vcpus-outside-numa``: with guestMappingPassthrough, KubeVirt lists only the boot vCPUs
  in the guest's ``<cell>``s, so every hotpluggable vCPU is in no NUMA cell (QEMU warns about
  partial NUMA mappings, and the cells are never updated after a hotplug).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kvnuma.errors import InputError, RuleError
from kvnuma.model.topology import HostTopology
from kvnuma.vmi import VmiSpec

__all__ = [
    "DEFAULT_KVM_RECOMMENDED_VCPUS",
    "DEFAULT_MAX_HOTPLUG_RATIO",
    "MAX_VCPUS",
    "HotplugSizing",
    "HotplugWarning",
    "LiveUpdateConfig",
    "apply_defaults",
    "memory_max_guest",
    "size",
]

DEFAULT_MAX_HOTPLUG_RATIO = 4
MAX_VCPUS = 512
DEFAULT_KVM_RECOMMENDED_VCPUS = 240
_MAX_RATIO = 1 << 16


@dataclass(frozen=True, slots=True)
class LiveUpdateConfig:
    """The cluster's hotplug knobs. ``max_cpu_sockets`` 0 = unset."""

    max_hotplug_ratio: int = DEFAULT_MAX_HOTPLUG_RATIO
    max_cpu_sockets: int = 0
    live_update: bool = True
    """``vmRolloutStrategy`` is LiveUpdate (KubeVirt's default); Stage disables hotplug defaults."""

    @classmethod
    def from_object(cls, obj: Mapping[str, Any], *, source: str = "cluster config") -> LiveUpdateConfig:
        """Read a KubeVirt CR (``spec.configuration``) or a HyperConverged CR (``spec``)."""
        kind = obj.get("kind")
        spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else {}
        assert isinstance(spec, Mapping)
        if kind == "KubeVirt":
            base, prefix = spec.get("configuration") or {}, "spec.configuration"
        elif kind == "HyperConverged":
            base, prefix = spec, "spec"
        else:
            raise InputError(f"{source}: kind", f"expected KubeVirt or HyperConverged, got {kind!r}")
        if not isinstance(base, Mapping):
            raise InputError(f"{source}: {prefix}", "expected an object")
        live = base.get("liveUpdateConfiguration") or {}
        if not isinstance(live, Mapping):
            raise InputError(f"{source}: {prefix}.liveUpdateConfiguration", "expected an object")
        ratio = live.get("maxHotplugRatio")
        if ratio is None:  # the guide's HyperConverged example puts it under developerConfiguration
            dev = (base.get("kubevirtConfiguration") or {}).get("developerConfiguration") or {}
            ratio = dev.get("maxHotplugRatio") if isinstance(dev, Mapping) else None
        strategy = base.get("vmRolloutStrategy") or "LiveUpdate"
        return cls(
            max_hotplug_ratio=DEFAULT_MAX_HOTPLUG_RATIO
            if ratio is None
            else _whole(ratio, f"{source}: {prefix}.liveUpdateConfiguration.maxHotplugRatio", minimum=1),
            max_cpu_sockets=_whole(
                live.get("maxCpuSockets", 0),
                f"{source}: {prefix}.liveUpdateConfiguration.maxCpuSockets",
                minimum=0,
            ),
            live_update=strategy == "LiveUpdate",
        )


@dataclass(frozen=True, slots=True)
class HotplugWarning:
    rule: str
    needed: int
    available: int
    detail: str

    def one_line(self) -> str:
        return f"{self.rule}: {self.needed} > {self.available} ({self.detail})"


@dataclass(frozen=True, slots=True)
class HotplugSizing:
    sockets: int
    cores: int
    threads: int
    max_sockets: int
    origin: str
    """Where maxSockets came from: ``spec``, ``maxCpuSockets``, ``ratio N``, ``512-vCPU cap``, or
    ``none`` (no hotplug defaults: arm64 or a non-LiveUpdate rollout strategy)."""
    warnings: tuple[HotplugWarning, ...] = field(default=())

    @property
    def vcpus(self) -> int:
        return self.sockets * self.cores * self.threads

    @property
    def max_vcpus(self) -> int:
        return self.max_sockets * self.cores * self.threads

    @property
    def spare_vcpus(self) -> int:
        return self.max_vcpus - self.vcpus

    @property
    def hotplug_enabled(self) -> bool:
        return self.max_sockets > self.sockets

    def as_dict(self) -> dict[str, Any]:
        return {
            "sockets": self.sockets,
            "cores": self.cores,
            "threads": self.threads,
            "maxSockets": self.max_sockets,
            "vcpus": self.vcpus,
            "maxVcpus": self.max_vcpus,
            "hotplugEnabled": self.hotplug_enabled,
            "origin": self.origin,
            "warnings": [
                {"rule": w.rule, "needed": w.needed, "available": w.available, "detail": w.detail}
                for w in self.warnings
            ],
        }


def size(
    vmi: VmiSpec,
    config: LiveUpdateConfig | None = None,
    *,
    host: HostTopology | None = None,
    kvm_recommended_vcpus: int = DEFAULT_KVM_RECOMMENDED_VCPUS,
) -> HotplugSizing:
    """Size ``vmi``'s CPU hotplug as KubeVirt does; RuleError when sockets > maxSockets."""
    config = config or LiveUpdateConfig()
    topology = vmi.topology
    sockets, cores, threads = topology.sockets, topology.cores, topology.threads
    # The mutator writes a topology only when sockets, cores and threads are all unset; the
    # hotplug defaults then read the VMI's own (raw) sockets, cores and threads.
    defaulted = vmi.sockets == 0 and vmi.cores == 0 and vmi.threads == 0
    raw_sockets = sockets if defaulted else vmi.sockets
    raw_cores, raw_threads = (cores, threads) if defaulted else (vmi.cores, vmi.threads)
    max_sockets, origin = vmi.max_sockets, "spec"
    if max_sockets == 0 and config.live_update and vmi.architecture != "arm64":
        if config.max_cpu_sockets:
            max_sockets, origin = max(config.max_cpu_sockets, raw_sockets), "maxCpuSockets"
        else:
            max_sockets, origin = raw_sockets * config.max_hotplug_ratio, f"ratio {config.max_hotplug_ratio}"
            if raw_cores and raw_threads and max_sockets * raw_cores * raw_threads > MAX_VCPUS:
                max_sockets, origin = max(MAX_VCPUS // (raw_cores * raw_threads), raw_sockets), "512-vCPU cap"
        if max_sockets == 0:  # sockets unset: 0 x ratio, so no hotplug
            max_sockets, origin = sockets, "none"
    elif max_sockets == 0:
        max_sockets, origin = sockets, "none"
    if sockets > max_sockets:
        raise RuleError(
            "max-sockets",
            needed=sockets,
            available=max_sockets,
            detail="spec.domain.cpu.sockets: Number of sockets in CPU topology is greater than the "
            "maximum sockets allowed",
        )
    sizing = HotplugSizing(sockets, cores, threads, max_sockets, origin)
    return HotplugSizing(
        sockets, cores, threads, max_sockets, origin, _warnings(sizing, vmi, host, kvm_recommended_vcpus)
    )


def apply_defaults(
    vmi: Mapping[str, Any], config: LiveUpdateConfig, *, source: str = "VMI"
) -> dict[str, Any]:
    """A copy of the VMI object with the mutator's CPU topology and maxSockets written in."""
    spec = VmiSpec.from_object(vmi, source=source)
    sizing = size(spec, config)
    result = dict(vmi)
    result["spec"] = dict(result.get("spec") or {})
    domain = dict(result["spec"].get("domain") or {})
    cpu = dict(domain.get("cpu") or {})
    if not any(cpu.get(key) for key in ("sockets", "cores", "threads")):
        cpu.update(sockets=sizing.sockets, cores=sizing.cores, threads=sizing.threads)
    if sizing.origin != "none":
        cpu["maxSockets"] = sizing.max_sockets
    domain["cpu"] = cpu
    max_guest = memory_max_guest(spec, config)
    if max_guest is not None:
        memory = dict(domain.get("memory") or {})
        memory["maxGuest"] = str(max_guest)
        domain["memory"] = memory
    result["spec"]["domain"] = domain
    return result


MIN_HOTPLUG_MEMORY = 1 << 30
"""KubeVirt offers memory hotplug only to guests of at least 1 GiB."""


def memory_max_guest(vmi: VmiSpec, config: LiveUpdateConfig) -> int | None:
    """The ``maxGuest`` KubeVirt's mutator gives ``vmi`` (None: no memory hotplug): under
    LiveUpdate, on amd64, without guestMappingPassthrough, for a guest of at least 1 GiB, the
    guest memory times maxHotplugRatio (a ratio of 1 leaves no room, so none)."""
    if vmi.memory_max_guest_bytes is not None:
        return vmi.memory_max_guest_bytes
    guest = vmi.engine_memory_bytes
    if (
        not config.live_update
        or vmi.architecture != "amd64"
        or vmi.numa_passthrough
        or guest is None
        or guest < MIN_HOTPLUG_MEMORY
        or config.max_hotplug_ratio <= 1
    ):
        return None
    return guest * config.max_hotplug_ratio


def _warnings(
    sizing: HotplugSizing, vmi: VmiSpec, host: HostTopology | None, kvm_recommended: int
) -> tuple[HotplugWarning, ...]:
    found: list[HotplugWarning] = []
    how = f"maxSockets {sizing.max_sockets} x cores {sizing.cores} x threads {sizing.threads}"
    if host is not None and sizing.max_vcpus > host.cpu_count:
        found.append(
            HotplugWarning(
                "maxvcpus-above-host-cpus",
                sizing.max_vcpus,
                host.cpu_count,
                f"{how} vCPUs on a host with {host.cpu_count} online CPUs",
            )
        )
    if sizing.max_vcpus > kvm_recommended:
        found.append(
            HotplugWarning(
                "maxvcpus-above-kvm-recommended",
                sizing.max_vcpus,
                kvm_recommended,
                f"{how} vCPUs; QEMU warns above KVM's recommended count and may fail to start",
            )
        )
    if vmi.numa_passthrough and sizing.hotplug_enabled:
        found.append(
            HotplugWarning(
                "hotplug-vcpus-outside-numa",
                sizing.spare_vcpus,
                0,
                f"{sizing.spare_vcpus} hotpluggable vCPUs would be in no guest NUMA cell; "
                f"set maxSockets to {sizing.sockets} to disable hotplug",
            )
        )
    return tuple(found)


def _whole(value: object, source: str, *, minimum: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\d{1,6}(\.0*)?", value.strip()):
        value = int(value.strip().split(".")[0])
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= _MAX_RATIO:
        raise InputError(source, f"expected a whole number {minimum}..{_MAX_RATIO}, got {value!r}")
    return value
