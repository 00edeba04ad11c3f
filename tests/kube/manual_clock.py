"""A clock for reflector tests: no real sleeps.

``ManualClock()``: ``sleep`` returns when the test ``advance``s the time past its deadline.
``ManualClock(instant=True)``: ``sleep`` returns at once, adding its delay to the time.
Both record every delay asked for in ``slept``.
"""

from __future__ import annotations

import asyncio


class ManualClock:
    def __init__(self, *, instant: bool = False) -> None:
        self.now = 0.0
        self.instant = instant
        self.slept: list[float] = []
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.instant:
            self.now += seconds
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, future))
        await future

    @property
    def sleepers(self) -> int:
        return sum(1 for _deadline, future in self._sleepers if not future.done())

    def advance(self, seconds: float) -> None:
        self.now += seconds
        waiting = []
        for deadline, future in self._sleepers:
            if future.done():
                continue
            if deadline <= self.now:
                future.set_result(None)
            else:
                waiting.append((deadline, future))
        self._sleepers = waiting
