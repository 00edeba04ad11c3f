"""The VM size classes of the OpenShift live-migration table, with exact borders.

The table's words: small = fewer cores than half a NUMA node; large = more than half; extra
large = more than one node. kvnuma counts what the kubelet's Topology Manager aligns: the
virt-launcher pod's exclusive CPUs (vCPUs + supplemental IOThreads + the isolated emulator
thread(s)), against the online CPUs of the node's smallest cell (the cell every placement
can count on; it is also what a Node's ``max-single-numa-cpus`` publishes). At the borders:

    2 x cpus <  cell            small
    2 x cpus >= cell, cpus <= cell   large        (exactly half and exactly one node are large)
    cpus > cell                 extra large

Exactly half is not "fewer than half", so not small; exactly one node still fits one node, so
it is not "more than one node".
"""

from __future__ import annotations

from enum import StrEnum

from kvnuma.vmi import VmiSpec

__all__ = ["PARITY_ANNOTATION", "SizeClass", "classify", "pod_cpus"]

PARITY_ANNOTATION = "alpha.kubevirt.io/EmulatorThreadCompleteToEvenParity"


class SizeClass(StrEnum):
    SMALL = "small"
    LARGE = "large"
    EXTRA_LARGE = "extra-large"


def classify(cpus: int, cell_cpus: int) -> SizeClass:
    if cell_cpus <= 0:
        raise ValueError(f"a NUMA cell has at least one CPU, got {cell_cpus}")
    if 2 * cpus < cell_cpus:
        return SizeClass.SMALL
    if cpus <= cell_cpus:
        return SizeClass.LARGE
    return SizeClass.EXTRA_LARGE


def pod_cpus(vmi: VmiSpec) -> int:
    """Exclusive CPUs of the virt-launcher pod (``WithCPUPinning``); vCPUs when not dedicated."""
    cpus = vmi.vcpus
    if not vmi.dedicated_cpu_placement:
        return cpus
    cpus += vmi.supplemental_pool_threads
    if vmi.isolate_emulator_thread:
        cpus += 1
        parity_base = vmi.vcpus + 2 * vmi.supplemental_pool_threads
        if PARITY_ANNOTATION in vmi.annotations and parity_base % 2 == 0:
            cpus += 1
    return cpus
