"""The annotation and label names kvnuma reads and writes, defined once.

VEP 135 (auto-NUMA): the node agent publishes a node's largest NUMA cell on the Node object, and
the admission webhook, the migration check and the engine's callers read it back:

    kubevirt.io/max-single-numa-cpus           online CPUs of the largest cell ("20")
    kubevirt.io/max-single-numa-memory         memory of the largest cell ("128Gi")
    kubevirt.io/max-single-numa-hugepages-<s>  per page size <s>: the largest per-cell pool
    kubevirt.io/realtime (label)               "true" on a realtime-capable kernel

KubeVirt's own VMI annotation for the emulator-thread parity (the engine and the pod size both
follow it), and kvnuma's own annotations: the PCI NUMA hook's (on a VMI) and the auto-NUMA
switch (on the KubeVirt CR). Standard library only (the hook bundles it).

Guest NUMA without huge pages and the memory policy (on a VMI, both off when absent):

    kvnuma.io/guest-numa: host-cells     guest NUMA cells mirroring the host cells of the pinned
                                         vCPUs, for a VM with dedicated CPUs and no huge pages
    kvnuma.io/memory-policy: MODE        the <numatune> mode of <memory> and every <memnode>:
                                         strict (KubeVirt's, the default), preferred, interleave,
                                         restrictive

IOThread placement (on a VMI, KubeVirt's pins when absent):

    kvnuma.io/iothread-placement: MODE   kubevirt (the default: KubeVirt's pins, unchanged) or
                                         cell: each IOThread pinned inside one host cell, the
                                         cell of its disks' controller or else the emulator's
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kvnuma.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "AUTO_NUMA_ANNOTATION",
    "CPULESS_CELLS_ANNOTATION",
    "CPULESS_CELLS_VALUES",
    "EMULATOR_PARITY_ANNOTATION",
    "FEATURE_GATES",
    "GUEST_NUMA_ANNOTATION",
    "GUEST_NUMA_VALUES",
    "IOTHREAD_PLACEMENTS",
    "IOTHREAD_PLACEMENT_ANNOTATION",
    "MAX_SINGLE_NUMA_CPUS",
    "MAX_SINGLE_NUMA_HUGEPAGES_PREFIX",
    "MAX_SINGLE_NUMA_MEMORY",
    "MEMFD_ANNOTATION",
    "MEMORY_POLICIES",
    "MEMORY_POLICY_ANNOTATION",
    "PCI_NUMA_ANNOTATION",
    "PCI_NUMA_POLICY_ANNOTATION",
    "REALTIME_LABEL",
    "closest_feature_gate",
    "cpuless_cells_wanted",
    "guest_numa_settings",
    "iothread_placement",
    "is_capacity_annotation",
]

MAX_SINGLE_NUMA_CPUS = "kubevirt.io/max-single-numa-cpus"
MAX_SINGLE_NUMA_MEMORY = "kubevirt.io/max-single-numa-memory"
MAX_SINGLE_NUMA_HUGEPAGES_PREFIX = "kubevirt.io/max-single-numa-hugepages-"
REALTIME_LABEL = "kubevirt.io/realtime"
EMULATOR_PARITY_ANNOTATION = "alpha.kubevirt.io/EmulatorThreadCompleteToEvenParity"
MEMFD_ANNOTATION = "kubevirt.io/memfd"
"""On a VMI: ``"false"`` makes KubeVirt back huge pages without ``<source type='memfd'/>``."""
PCI_NUMA_ANNOTATION = "kvnuma.io/pci-numa"
PCI_NUMA_POLICY_ANNOTATION = "kvnuma.io/pci-numa-affinity-policy"
"""On a VMI: ``legacy`` (the default), ``preferred``, ``socket`` or ``required`` — Nova's
``hw:pci_numa_affinity_policy`` for the PCI NUMA hook (``kvnuma.pci.policy``)."""
AUTO_NUMA_ANNOTATION = "kvnuma.io/auto-numa"
"""On the KubeVirt CR: kvnuma's own switch for auto-NUMA (``kvnuma.webhook.switch``)."""
GUEST_NUMA_ANNOTATION = "kvnuma.io/guest-numa"
GUEST_NUMA_VALUES = ("host-cells", "off")
"""``host-cells``: guest cells mirroring the pinned vCPUs' host cells; ``off``: as if absent."""
MEMORY_POLICY_ANNOTATION = "kvnuma.io/memory-policy"
MEMORY_POLICIES = ("strict", "preferred", "interleave", "restrictive")
"""libvirt's ``<numatune>`` modes (``<memory mode>`` and ``<memnode mode>``, both libvirt lanes)."""
CPULESS_CELLS_ANNOTATION = "kvnuma.io/cpuless-device-cells"
CPULESS_CELLS_VALUES = ("on", "off")
"""On a VMI: ``on`` gives each passthrough device on a CPU-less host node a CPU-less guest cell
(``kvnuma.pci.cpuless``); ``off`` (or absent): such devices stay in place, as in KubeVirt."""

IOTHREAD_PLACEMENT_ANNOTATION = "kvnuma.io/iothread-placement"
IOTHREAD_PLACEMENTS = ("kubevirt", "cell")
"""``kubevirt``: KubeVirt's IOThread pins (``kvnuma.placement.iothreads``); ``cell``: each
IOThread inside the host cell of its disks' controller, else of the emulator thread."""


def iothread_placement(annotations: Mapping[str, str]) -> str:
    """The VMI's IOThread placement mode (``kubevirt`` when absent); InputError naming the
    annotation for a value that is not one of ``IOTHREAD_PLACEMENTS``."""
    raw = annotations.get(IOTHREAD_PLACEMENT_ANNOTATION)
    if raw is None:
        return "kubevirt"
    text = str(raw).strip()
    if text not in IOTHREAD_PLACEMENTS:
        shown = repr(text[:40] + ("..." if len(text) > 40 else ""))
        raise InputError(
            f"annotation {IOTHREAD_PLACEMENT_ANNOTATION}",
            f"{shown} is not one of {', '.join(IOTHREAD_PLACEMENTS)}",
        )
    return text


def cpuless_cells_wanted(annotations: Mapping[str, str]) -> bool:
    """Whether the VMI asks for CPU-less device cells; InputError naming the annotation for a
    value other than ``on``/``off``."""
    raw = annotations.get(CPULESS_CELLS_ANNOTATION)
    if raw is None:
        return False
    text = str(raw).strip()
    if text not in CPULESS_CELLS_VALUES:
        shown = repr(text[:40] + ("..." if len(text) > 40 else ""))
        raise InputError(f"annotation {CPULESS_CELLS_ANNOTATION}", f"{shown} is not one of on, off")
    return text == "on"


def guest_numa_settings(annotations: Mapping[str, str]) -> tuple[bool, str]:
    """(guest NUMA from the host cells requested, memory policy or "" when not set) from a VMI's
    annotations; InputError naming the annotation for a value that is not one of the known ones."""

    def value(name: str, allowed: tuple[str, ...]) -> str:
        raw = annotations.get(name)
        if raw is None:
            return ""
        text = str(raw).strip()
        if text not in allowed:
            shown = repr(text[:40] + ("..." if len(text) > 40 else ""))
            raise InputError(f"annotation {name}", f"{shown} is not one of {', '.join(allowed)}")
        return text

    return value(GUEST_NUMA_ANNOTATION, GUEST_NUMA_VALUES) == "host-cells", value(
        MEMORY_POLICY_ANNOTATION, MEMORY_POLICIES
    )


def is_capacity_annotation(key: str) -> bool:
    """``key`` is one of the VEP 135 ``max-single-numa`` annotations."""
    return key in (MAX_SINGLE_NUMA_CPUS, MAX_SINGLE_NUMA_MEMORY) or key.startswith(
        MAX_SINGLE_NUMA_HUGEPAGES_PREFIX
    )


FEATURE_GATES = (
    "AlignCPUs",
    "AutoResourceLimitsGate",
    "CPUManager",
    "GPU",
    "GPUDeviceNUMA",
    "HostDevices",
    "HotplugVolumes",
    "LiveMigration",
    "NUMA",
    "Sidecar",
    "VMLiveUpdateFeatures",
)
"""KubeVirt feature gate names kvnuma reads or that travel with them (case-sensitive, as in KubeVirt)."""


def closest_feature_gate(name: str) -> str | None:
    """The known gate ``name`` probably meant (same letters in another case, or a near
    misspelling), or None when ``name`` is known or nothing is close."""
    if name in FEATURE_GATES:
        return None
    for gate in FEATURE_GATES:
        if gate.lower() == name.lower():
            return gate
    import difflib

    lowered = {gate.lower(): gate for gate in FEATURE_GATES}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.85)
    return lowered[close[0]] if close else None
