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
"""

from __future__ import annotations

__all__ = [
    "AUTO_NUMA_ANNOTATION",
    "EMULATOR_PARITY_ANNOTATION",
    "FEATURE_GATES",
    "MAX_SINGLE_NUMA_CPUS",
    "MAX_SINGLE_NUMA_HUGEPAGES_PREFIX",
    "MAX_SINGLE_NUMA_MEMORY",
    "MEMFD_ANNOTATION",
    "PCI_NUMA_ANNOTATION",
    "PCI_NUMA_POLICY_ANNOTATION",
    "REALTIME_LABEL",
    "closest_feature_gate",
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
