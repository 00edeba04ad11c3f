"""CPU lists as used by Linux sysfs, cgroups and libvirt: ``0-3,8,10-11``.

``CpuSet.parse`` accepts the Linux form (ids and inclusive ranges, blanks around items ignored,
a trailing newline or NUL padding tolerated) and, with ``exclusions=True``, libvirt's ``^N``
and ``^A-B`` items (all inclusions first, then every exclusion wins). ``format`` writes the
normalized form: sorted, runs collapsed to ``A-B``; ``format(ranges=False)`` lists every id,
as KubeVirt writes guest cell cpus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kvnuma.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["CpuSet"]

_ITEM = r"^(\^)?(\d+)(?:\s*-\s*(\d+))?$"  # compiled (and re imported) on first use
_MAX_ID = 1 << 22  # far above any real CPU id; stops "0-99999999999" from eating memory


@dataclass(frozen=True, slots=True)
class CpuSet:
    """An immutable set of non-negative CPU (or vCPU, or node) ids."""

    ids: frozenset[int] = frozenset()

    @classmethod
    def of(cls, ids: Iterable[int]) -> CpuSet:
        values = frozenset(ids)
        for i in values:
            if i < 0:
                raise InputError("cpu set", f"negative id {i}")
        return cls(values)

    @classmethod
    def parse(cls, text: str, *, source: str = "cpu list", exclusions: bool = False) -> CpuSet:
        """Parse ``text``; any malformed item raises InputError naming ``source`` and the item."""
        import re

        cleaned = text.replace("\x00", "").strip()
        include: set[int] = set()
        exclude: set[int] = set()
        if not cleaned:
            return cls()
        for raw in cleaned.split(","):
            item = raw.strip()
            if not item:
                continue
            match = re.match(_ITEM, item)
            if match is None or (match.group(1) and not exclusions):
                raise InputError(source, f"malformed cpu list item {item!r} in {cleaned!r}")
            start = int(match.group(2))
            end = int(match.group(3)) if match.group(3) is not None else start
            if end < start:
                raise InputError(source, f"range {item!r} ends before it starts in {cleaned!r}")
            if end >= _MAX_ID:
                raise InputError(source, f"id {end} in {item!r} is too large (limit {_MAX_ID - 1})")
            (exclude if match.group(1) else include).update(range(start, end + 1))
        return cls(frozenset(include - exclude))

    def format(self, *, ranges: bool = True) -> str:
        ordered = sorted(self.ids)
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

    def sorted(self) -> list[int]:
        return sorted(self.ids)

    def __str__(self) -> str:
        return self.format()

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(self.ids))

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, item: object) -> bool:
        return item in self.ids

    def __bool__(self) -> bool:
        return bool(self.ids)

    def __or__(self, other: CpuSet) -> CpuSet:
        return CpuSet(self.ids | other.ids)

    def __and__(self, other: CpuSet) -> CpuSet:
        return CpuSet(self.ids & other.ids)

    def __sub__(self, other: CpuSet) -> CpuSet:
        return CpuSet(self.ids - other.ids)
