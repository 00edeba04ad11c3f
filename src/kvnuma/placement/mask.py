"""The realtime vCPU mask (``spec.domain.cpu.realtime.mask``), parsed as KubeVirt does.

KubeVirt's ``ParseCPUMask``: an empty mask means every vCPU; otherwise the mask is split on
``,``, each item trimmed, and must be ``N``, ``A-B`` (A <= B) or ``^N``. A ``^N`` always wins,
wherever it stands (``^0,0`` leaves vCPU 0 out; ``0,^0,1`` gives {1}).

Where kvnuma differs on purpose: KubeVirt accepts ids of vCPUs the VM does not have (and
silently ignores them when it schedules the threads); kvnuma rejects such a mask with a
``RealtimeMaskError`` naming the ids and the vCPU count.
"""

from __future__ import annotations

import re

from kvnuma.placement.errors import RealtimeMaskError

__all__ = ["parse_realtime_mask"]

_RANGE = re.compile(r"^(\d+)-(\d+)$")
_SINGLE = re.compile(r"^(\d+)$")
_NEGATED = re.compile(r"^\^(\d+)$")
_MAX_ID = 1 << 16


def parse_realtime_mask(mask: str, vcpus: int) -> tuple[int, ...]:
    """The realtime vCPU ids (sorted) of a VM with ``vcpus`` vCPUs."""
    if mask == "":
        return tuple(range(vcpus))
    enabled: set[int] = set()
    disabled: set[int] = set()
    for raw in mask.split(","):
        item = raw.strip()
        if match := _RANGE.match(item):
            start, end = _id(match.group(1), mask), _id(match.group(2), mask)
            if start > end:
                raise RealtimeMaskError(mask, f"invalid mask range {item!r} (start after end)")
            enabled.update(range(start, end + 1))
        elif match := _SINGLE.match(item):
            enabled.add(_id(match.group(1), mask))
        elif match := _NEGATED.match(item):
            disabled.add(_id(match.group(1), mask))
        else:
            raise RealtimeMaskError(mask, f"invalid mask value {raw!r}")
    missing = sorted(i for i in enabled | disabled if i >= vcpus)
    if missing:
        shown = ",".join(str(i) for i in missing[:8]) + ("..." if len(missing) > 8 else "")
        raise RealtimeMaskError(mask, f"names vCPU(s) {shown} but the VM has vCPUs 0-{vcpus - 1}")
    return tuple(sorted(enabled - disabled))


def _id(text: str, mask: str) -> int:
    value = int(text)
    if value >= _MAX_ID:
        raise RealtimeMaskError(mask, f"vCPU id {value} is out of range")
    return value
