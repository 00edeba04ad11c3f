"""The guest NUMA engine's typed failures.

Each class fixes its ``rule`` so callers (and tests) can tell failures apart without reading
messages; every one still carries what was needed and what was available.
"""

from __future__ import annotations

from kvnuma.errors import InputError, RuleError

__all__ = [
    "CoresAcrossCellsError",
    "CpusetError",
    "HugePageShortfallError",
    "MemorySplitError",
    "PlacementInputError",
    "PreconditionError",
    "RealtimeMaskError",
]


class PlacementInputError(InputError):
    """A VMI field or the cpuset is malformed for placement (names the field and the problem)."""


class RealtimeMaskError(PlacementInputError):
    """``spec.domain.cpu.realtime.mask`` is malformed or names vCPUs that do not exist."""

    def __init__(self, mask: str, problem: str) -> None:
        super().__init__("spec.domain.cpu.realtime.mask", f"{problem} in {mask!r}")


class PreconditionError(RuleError):
    """The VMI lacks something the engine needs (dedicated CPUs, huge pages, <= 2 threads...)."""


class CpusetError(RuleError):
    """The pod's cpuset has too few CPUs for the vCPUs, emulator thread and IOThreads."""


class CoresAcrossCellsError(RuleError):
    """Enough CPUs, but some guest cores could only be built across host cells or cores."""


class MemorySplitError(RuleError):
    """Guest memory cannot be split into whole pages over the guest cells."""


class HugePageShortfallError(RuleError):
    """A host cell has fewer free huge pages than its guest cell needs."""
