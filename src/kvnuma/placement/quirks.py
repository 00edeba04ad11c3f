"""Where kvnuma deliberately differs from KubeVirt, as switches that restore KubeVirt's output.

Each name is one documented difference (docs/engine.md, "Deliberate differences"). By default
kvnuma does what it thinks right; ``kvnuma render/plan --kubevirt-quirk NAME`` (repeatable) or
``--kubevirt-exact`` (all of them: KubeVirt v1.6's output) asks for KubeVirt's behaviour instead.

    cpu-listing-order       walk a host cell's CPUs in the order the capabilities list them
                            (KubeVirt), not by CPU id (kvnuma: a plan independent of listing order)
    no-hugepage-check       do not check free huge pages per host node before anything starts
                            (KubeVirt finds out when QEMU fails to allocate)
    lenient-realtime-mask   accept a realtime mask naming vCPUs the VM does not have and ignore
                            them (KubeVirt); kvnuma refuses such a mask
    no-vcpusched            no ``<vcpusched>`` for realtime vCPUs (KubeVirt sets SCHED_FIFO from
                            virt-handler instead)
    no-distances            no guest cell ``<distances>`` (KubeVirt before PR #18829, i.e. up to
                            v1.9; kvnuma follows KubeVirt main)
    v1.6-supplemental-pool  pin IOThread i to CPU id ``vCPUs + i`` (+1 with an isolated emulator
                            thread), as v1.6.0 does; kvnuma follows v1.9's fix (each IOThread on a
                            CPU of the pod, refused when none is left)
    v1.6-iothreadpin-without-iothreads
                            pin IOThread 1 to the isolated emulator thread even when no disk needs
                            an IOThread (shared/auto without disks: no ``<iothreads>``), as v1.6.0
                            does; libvirt refuses that domain ("Cannot find 'iothread' : 1"), so
                            kvnuma renders no pin there
"""

from __future__ import annotations

from typing import Literal

from kvnuma.errors import InputError

__all__ = ["KUBEVIRT_V1_6", "QUIRKS", "Quirk", "check_quirks"]

Quirk = Literal[
    "cpu-listing-order",
    "no-hugepage-check",
    "lenient-realtime-mask",
    "no-vcpusched",
    "no-distances",
    "v1.6-supplemental-pool",
    "v1.6-iothreadpin-without-iothreads",
]
QUIRKS: tuple[Quirk, ...] = (
    "cpu-listing-order",
    "no-hugepage-check",
    "lenient-realtime-mask",
    "no-vcpusched",
    "no-distances",
    "v1.6-supplemental-pool",
    "v1.6-iothreadpin-without-iothreads",
)
KUBEVIRT_V1_6: frozenset[str] = frozenset(QUIRKS)
"""What ``--kubevirt-exact`` turns on: every difference, as KubeVirt v1.6.0 renders."""


def check_quirks(names: frozenset[str]) -> frozenset[str]:
    unknown = sorted(names - set(QUIRKS))
    if unknown:
        raise InputError("--kubevirt-quirk", f"unknown {', '.join(unknown)} (known: {', '.join(QUIRKS)})")
    return names
