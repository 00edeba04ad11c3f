"""An instance type's ``cpu.guest`` vCPUs as guest sockets, cores and threads, per the preference.

As KubeVirt's ``applyGuestCPUTopology``: start from 1/1/1; one vCPU stays 1/1/1; otherwise
``sockets`` (the default, also ``any``) puts every vCPU in its own socket, ``cores`` and
``threads`` put them all in one socket; ``spread`` uses the ratio (default 2) across

    SocketsCores          cores = ratio, sockets = guest / ratio
    CoresThreads          threads = ratio, cores = guest / ratio
    SocketsCoresThreads   threads = 2, cores = ratio, sockets = guest / 2 / ratio

A spread that does not divide evenly is rejected first, with KubeVirt's message
(``CheckSpreadCPUTopology``).
"""

from __future__ import annotations

from kvnuma.errors import InputError
from kvnuma.instancetype.documents import Preference
from kvnuma.vmi import CpuTopology

__all__ = ["guest_cpu_topology"]

_THREADS_PER_CORE = 2
_GUEST_PATH = "instancetype.spec.cpu.guest"


def guest_cpu_topology(vcpus: int, preference: Preference | None) -> CpuTopology:
    """The topology KubeVirt gives ``vcpus`` guest vCPUs; InputError for an uneven spread."""
    preferred = preference.preferred_topology if preference is not None else "sockets"
    if preferred == "spread" and preference is not None:
        _check_spread(vcpus, preference.spread_ratio, preference.spread_across)
    if vcpus == 1:
        return CpuTopology(1, 1, 1)
    if preferred == "cores":
        return CpuTopology(1, vcpus, 1)
    if preferred == "threads":
        return CpuTopology(1, 1, vcpus)
    if preferred == "spread" and preference is not None:
        ratio = preference.spread_ratio
        if preference.spread_across == "CoresThreads":
            return CpuTopology(1, vcpus // ratio, ratio)
        if preference.spread_across == "SocketsCoresThreads":
            return CpuTopology(vcpus // _THREADS_PER_CORE // ratio, ratio, _THREADS_PER_CORE)
        return CpuTopology(vcpus // ratio, ratio, 1)
    return CpuTopology(vcpus, 1, 1)


def _check_spread(vcpus: int, ratio: int, across: str) -> None:
    if across == "SocketsCores" and vcpus % ratio:
        problem = (
            f"{vcpus} vCPUs provided by the instance type are not divisible by the "
            f"Spec.PreferSpreadSocketToCoreRatio or Spec.CPU.PreferSpreadOptions.Ratio of {ratio} "
            "provided by the preference"
        )
    elif across == "CoresThreads" and vcpus % ratio:
        problem = (
            f"{vcpus} vCPUs provided by the instance type are not divisible by the number of "
            f"threads per core {ratio}"
        )
    elif across == "SocketsCoresThreads" and (
        vcpus % _THREADS_PER_CORE or (vcpus // _THREADS_PER_CORE) % ratio
    ):
        problem = (
            f"{vcpus} vCPUs provided by the instance type are not divisible by the number of "
            f"threads per core {_THREADS_PER_CORE} and Spec.PreferSpreadSocketToCoreRatio or "
            f"Spec.CPU.PreferSpreadOptions.Ratio of {ratio}"
        )
    else:
        return
    raise InputError(_GUEST_PATH, problem)
