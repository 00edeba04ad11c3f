"""The one CPU-list parser and formatter: ``0-3,8,10-11`` (and libvirt's ``^N`` exclusions).

Every id list kvnuma reads goes through ``parse_cpulist``: sysfs cpulists (``nodeN/cpulist``,
``thread_siblings_list``, ``cpu/online``), PCI ``local_cpulist``, domain XML ``cpus=`` /
``cpuset=`` / ``nodeset=``, capabilities ``siblings=``, the realtime mask and ``--cpuset``.
``format_cpulist`` writes the normalized form (sorted, runs collapsed to ``A-B``).

The one limit, documented in docs/discover.md ("Limits"): **ids are 0..16383** (``MAX_CPU_ID``),
so a set holds at most 16,384 ids, and the text itself is at most 128 KiB (``MAX_TEXT``: every
id up to the limit listed one by one fits). Linux's largest ``NR_CPUS`` is 8192 and libvirt's
cpuset bitmaps stop at 16384 bits, so no real host, domain or mask comes near; anything past the
limit is an ``InputError`` before any set is built, so ``0-5000000`` costs microseconds, not
gigabytes.

Forms accepted: ids and inclusive ranges ``A-B`` separated by ``,``, blanks around items
ignored, empty items skipped (``0,,1``), NUL padding and a trailing newline tolerated (tar pads
sysfs files). With ``exclusions=True`` also ``^N`` and ``^A-B`` (libvirt; every exclusion wins
over every inclusion, wherever it stands, as in KubeVirt's realtime mask).

Standard library only, Python 3.9 syntax: the PCI NUMA hook bundle embeds this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kvnuma.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["MAX_CPU_ID", "MAX_TEXT", "format_cpulist", "parse_cpulist"]

MAX_CPU_ID = 16383
"""The largest CPU, vCPU or node id any list may name (so a set holds at most 16,384 ids)."""

MAX_TEXT = 128 << 10
"""The longest list text accepted, in characters (after NUL padding is removed)."""

_DIGITS = frozenset("0123456789")


def _number(text: str, item: str, source: str) -> int:
    if not text or not _DIGITS.issuperset(text):
        raise InputError(source, f"malformed cpu list item {item[:40]!r}")
    if len(text) > 5 or int(text) > MAX_CPU_ID:
        raise InputError(source, f"id {text[:20]} in {item[:40]!r} is out of range (limit {MAX_CPU_ID})")
    return int(text)


def parse_cpulist(text: str, *, source: str, exclusions: bool = False) -> frozenset[int]:
    """The ids ``text`` lists; InputError names ``source`` and the bad item. Empty text is the
    empty set."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if len(text) > MAX_TEXT:
        raise InputError(source, f"cpu list is longer than the limit of {MAX_TEXT} characters")
    include: set[int] = set()
    exclude: set[int] = set()
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        body = item
        target = include
        if body[0] == "^":
            if not exclusions:
                raise InputError(source, f"malformed cpu list item {item[:40]!r} (no ^ exclusions here)")
            body = body[1:].lstrip()
            target = exclude
        low, dash, high = body.partition("-")
        first = _number(low.strip(), item, source)
        if not dash:
            target.add(first)
            continue
        last = _number(high.strip(), item, source)
        if last < first:
            raise InputError(source, f"range {item[:40]!r} ends before it starts")
        target.update(range(first, last + 1))
    return frozenset(include - exclude) if exclude else frozenset(include)


def format_cpulist(ids: Iterable[int], *, ranges: bool = True) -> str:
    """``0-3,8``; with ``ranges=False`` every id (``0,1,2,3,8``), as KubeVirt writes cell cpus."""
    ordered = sorted(ids)
    if not ranges:
        return ",".join(str(i) for i in ordered)
    parts: list[str] = []
    index = 0
    while index < len(ordered):
        start = ordered[index]
        while index + 1 < len(ordered) and ordered[index + 1] == ordered[index] + 1:
            index += 1
        end = ordered[index]
        parts.append(str(start) if start == end else f"{start}-{end}")
        index += 1
    return ",".join(parts)
