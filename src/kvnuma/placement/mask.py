"""The realtime vCPU mask (``spec.domain.cpu.realtime.mask``), parsed as KubeVirt does.

KubeVirt's ``ParseCPUMask``: an empty mask means every vCPU; otherwise the mask is split on
``,``, each item trimmed, and must be ``N``, ``A-B`` (A <= B) or ``^N``. A ``^N`` always wins,
wherever it stands (``^0,0`` leaves vCPU 0 out; ``0,^0,1`` gives {1}). The ids are read by the
one CPU-list parser (``kvnuma.cpulist``, with its limit); this module adds KubeVirt's stricter
item grammar (no empty items, no ``^A-B``).

Where kvnuma differs on purpose: KubeVirt accepts ids of vCPUs the VM does not have (and
silently ignores them when it schedules the threads); kvnuma rejects such a mask with a
``RealtimeMaskError`` naming the ids and the vCPU count.
"""

from __future__ import annotations

from kvnuma.cpulist import parse_cpulist
from kvnuma.errors import InputError
from kvnuma.placement.errors import RealtimeMaskError

__all__ = ["parse_realtime_mask"]


def parse_realtime_mask(mask: str, vcpus: int, *, lenient: bool = False) -> tuple[int, ...]:
    """The realtime vCPU ids (sorted) of a VM with ``vcpus`` vCPUs; ``lenient``: ids of vCPUs
    the VM does not have are ignored, as KubeVirt does."""
    if mask == "":
        return tuple(range(vcpus))
    for raw in mask.split(","):
        item = raw.strip()
        if not item or (item[0] == "^" and "-" in item):
            raise RealtimeMaskError(mask, f"invalid mask value {raw!r}")
    try:
        named = parse_cpulist(mask.replace("^", ""), source="mask")
        chosen = parse_cpulist(mask, source="mask", exclusions=True)
    except InputError as error:
        problem = error.problem
        if problem.startswith("malformed"):
            problem = f"invalid mask value {problem.partition(' item ')[2]}"
        raise RealtimeMaskError(mask, problem) from None
    missing = sorted(i for i in named if i >= vcpus)
    if lenient:
        return tuple(sorted(i for i in chosen if i < vcpus))
    if missing:
        shown = ",".join(str(i) for i in missing[:8]) + ("..." if len(missing) > 8 else "")
        raise RealtimeMaskError(mask, f"names vCPU(s) {shown} but the VM has vCPUs 0-{vcpus - 1}")
    return tuple(sorted(chosen))
