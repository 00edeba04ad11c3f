"""The time a reflector reads and waits on, passed in so tests drive it without real sleeps.

``SystemClock`` is ``time.monotonic`` and ``asyncio.sleep``. A test passes its own object with the
same two methods (a manual clock whose ``sleep`` returns when the test advances the time).
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    def monotonic(self) -> float: ...
    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
