"""Id lists (``0-3,^1,8``) as libvirt cpusets and nodesets and sysfs cpulists write them.

Standard library only: the hook bundle runs this on the sidecar's Python.
"""

from __future__ import annotations

from kvnuma.errors import InputError

__all__ = ["parse_id_list"]


def parse_id_list(text: str, *, source: str) -> frozenset[int]:
    """``0-3,^1,8`` style lists (libvirt cpusets and nodesets, sysfs cpulists) as a set of ids."""
    included: set[int] = set()
    excluded: set[int] = set()
    for raw in text.replace("\x00", "").strip().split(","):
        part = raw.strip()
        if not part:
            continue
        target = excluded if part.startswith("^") else included
        part = part.lstrip("^")
        low, _, high = part.partition("-")
        try:
            first = int(low)
            last = int(high) if high else first
        except ValueError:
            raise InputError(source, f"{text!r} is not a list of ids like 0-3,8") from None
        if first < 0 or last < first:
            raise InputError(source, f"{text!r} has an invalid range {part!r}")
        target.update(range(first, last + 1))
    return frozenset(included - excluded)
