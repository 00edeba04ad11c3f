"""CPU lists as used by Linux sysfs, cgroups and libvirt: ``0-3,8,10-11``.

``CpuSet.parse`` and ``format`` are the one CPU-list parser and formatter, ``kvnuma.cpulist``
(the forms it accepts and its one limit on ids and set sizes are documented there);
``format(ranges=False)`` lists every id, as KubeVirt writes guest cell cpus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kvnuma.cpulist import format_cpulist, parse_cpulist
from kvnuma.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["CpuSet"]


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
        """Parse ``text`` with the one CPU-list parser (``kvnuma.cpulist``, its limits included);
        any malformed item raises InputError naming ``source`` and the item."""
        return cls(parse_cpulist(text, source=source, exclusions=exclusions))

    def format(self, *, ranges: bool = True) -> str:
        return format_cpulist(self.ids, ranges=ranges)

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
