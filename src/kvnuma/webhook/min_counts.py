"""The smallest of a multiset of integers, kept up to date per change.

``add(value)`` and ``remove(value)`` are O(1); ``minimum()`` is O(1) except right after the last copy
of the minimum went, when it is found again once in O(distinct values). The cluster's nodes publish
few distinct values (machines come in a few shapes), so this costs a few bytes per distinct value
and nothing per node: the node -> value mapping lives in the cache's digests.
"""

from __future__ import annotations

__all__ = ["CapacityMinima", "Digest", "MinCounts"]


class MinCounts:
    __slots__ = ("_counts", "_min", "_stale")

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}
        self._min: int | None = None
        self._stale = False

    def __len__(self) -> int:
        """Distinct values held."""
        return len(self._counts)

    def add(self, value: int) -> None:
        counts = self._counts
        counts[value] = counts.get(value, 0) + 1
        if not self._stale and (self._min is None or value < self._min):
            self._min = value

    def remove(self, value: int) -> None:
        """Remove one copy of ``value`` (which must be held)."""
        left = self._counts[value] - 1
        if left:
            self._counts[value] = left
            return
        del self._counts[value]
        if value == self._min:
            self._stale = True

    def minimum(self) -> int | None:
        if self._stale:
            self._min = min(self._counts, default=None)
            self._stale = False
        return self._min


Digest = tuple[int | None, int | None, tuple[tuple[int, int], ...], tuple[str, ...]]
"""(cpus, memory bytes, ((page size, bytes), ...), problems): what the cache keeps of a node's capacity."""


class CapacityMinima:
    """The smallest CPUs, memory and huge pages of each size over the capacity digests added
    (``(cpus, memory bytes, ((page size, bytes), ...), problems)``, None = not published), and
    how many were added: the cluster minimum and the feasible index's open set alike."""

    __slots__ = ("cpus", "hugepages", "memory", "nodes")

    def __init__(self) -> None:
        self.nodes = 0
        self.cpus = MinCounts()
        self.memory = MinCounts()
        self.hugepages: dict[int, MinCounts] = {}

    def add(self, digest: Digest) -> None:
        cpus, memory, hugepages, _problems = digest
        self.nodes += 1
        if cpus is not None:
            self.cpus.add(cpus)
        if memory is not None:
            self.memory.add(memory)
        for size, amount in hugepages:
            counts = self.hugepages.get(size)
            if counts is None:
                counts = self.hugepages[size] = MinCounts()
            counts.add(amount)

    def remove(self, digest: Digest) -> None:
        cpus, memory, hugepages, _problems = digest
        self.nodes -= 1
        if cpus is not None:
            self.cpus.remove(cpus)
        if memory is not None:
            self.memory.remove(memory)
        for size, amount in hugepages:
            counts = self.hugepages[size]
            counts.remove(amount)
            if not len(counts):
                del self.hugepages[size]
