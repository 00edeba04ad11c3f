"""A keyed minimum kept up to date per change: a heap with lazy deletion.

``set(key, value)`` and ``discard(key)`` are O(log n); ``minimum()`` is O(1) amortised (stale heap
entries are popped when they reach the top). The heap is rebuilt when stale entries outnumber
live ones, so memory stays O(live keys) under any stream of updates.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["MinTracker"]

K = TypeVar("K", bound=Hashable)


class MinTracker(Generic[K]):
    __slots__ = ("_current", "_heap", "_seq")

    def __init__(self) -> None:
        self._current: dict[K, int] = {}
        self._heap: list[tuple[int, int, K]] = []
        self._seq = 0

    def __len__(self) -> int:
        return len(self._current)

    def set(self, key: K, value: int) -> None:
        if self._current.get(key) == value:
            return
        self._current[key] = value
        self._seq += 1
        heapq.heappush(self._heap, (value, self._seq, key))
        self._maybe_compact()

    def discard(self, key: K) -> None:
        if self._current.pop(key, None) is not None:
            self._maybe_compact()

    def clear(self) -> None:
        self._current.clear()
        self._heap.clear()

    def minimum(self) -> int | None:
        heap = self._heap
        current = self._current
        while heap:
            value, _tie, key = heap[0]
            if current.get(key) == value:
                return value
            heapq.heappop(heap)
        return None

    def _maybe_compact(self) -> None:
        if len(self._heap) > 2 * len(self._current) + 64:
            self._heap = [(value, seq, key) for seq, (key, value) in enumerate(self._current.items())]
            self._seq = len(self._heap)
            heapq.heapify(self._heap)
