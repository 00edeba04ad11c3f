"""Capped exponential backoff with full jitter (the AWS "full jitter" scheme).

Attempt n (from 1) waits a uniform draw in [base, min(cap, base * 2**(n-1))]; a server's
``Retry-After`` raises the floor. The random source is injected so tests are reproducible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass
class Backoff:
    base: float = 0.5
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self, retry_after: float | None = None) -> float:
        self.attempt += 1
        ceiling = min(self.cap, self.base * 2 ** min(self.attempt - 1, 32))
        delay = self.rng.uniform(min(self.base, ceiling), ceiling)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.cap))
        return delay

    def reset(self) -> None:
        self.attempt = 0
