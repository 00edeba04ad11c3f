"""Splitting guest memory over the guest NUMA cells, in whole pages.

``kubevirt`` (default) is KubeVirt's ``numaMapping`` formula: equal shares, the leftover
whole pages one each to the first cells (64Mi over 3 cells of 2Mi pages -> 22Mi, 22Mi, 20Mi).
It ignores how many vCPUs each cell has.

``proportional`` gives each cell one page, then the remaining pages in proportion to the
cell's vCPUs (largest remainder first, ties to the earlier cell).

Both check KubeVirt's two rules first: memory a multiple of the page size, and at least one
page per cell.

``split_default_memory`` splits memory that is not huge pages (``kvnuma.io/guest-numa``) the same
way in units of 1 MiB, libvirt's NUMA cell alignment on x86 (it rounds each cell up to it); the
bytes below one unit go to the first cell, so the cells still sum to the guest memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from kvnuma.model import format_bytes
from kvnuma.placement.errors import MemorySplitError

__all__ = ["DEFAULT_MEMORY_UNIT", "SPLIT_MODES", "SplitMode", "split_default_memory", "split_memory"]

SplitMode = Literal["kubevirt", "proportional"]
SPLIT_MODES: tuple[SplitMode, ...] = ("kubevirt", "proportional")
DEFAULT_MEMORY_UNIT = 1 << 20
"""The split unit of default (not huge page) memory: libvirt aligns NUMA cells to 1 MiB on x86."""


def split_memory(
    memory_bytes: int, page_size_bytes: int, vcpus_per_cell: Sequence[int], mode: SplitMode = "kubevirt"
) -> tuple[int, ...]:
    """Bytes per cell (summing to ``memory_bytes``), one entry per ``vcpus_per_cell`` item."""
    cells = len(vcpus_per_cell)
    page = page_size_bytes
    if memory_bytes % page:
        raise MemorySplitError(
            "memory-multiple-of-page-size",
            needed=f"a multiple of {format_bytes(page)}",
            available=f"{memory_bytes} bytes ({memory_bytes % page} bytes over)",
        )
    if memory_bytes < cells * page:
        raise MemorySplitError(
            "memory-one-page-per-cell",
            needed=f"{cells} pages of {format_bytes(page)} ({format_bytes(cells * page)})",
            available=f"{memory_bytes // page} pages ({format_bytes(memory_bytes)})",
            detail=f"{cells} guest NUMA cells",
        )
    if mode == "kubevirt":
        leftover = (memory_bytes % (page * cells)) // page
        base = (memory_bytes - leftover * page) // cells
        return tuple(base + (page if index < leftover else 0) for index in range(cells))
    if mode != "proportional":
        raise ValueError(f"unknown memory split mode {mode!r}")
    pages = memory_bytes // page
    spare = pages - cells
    total_vcpus = sum(vcpus_per_cell)
    shares = [1 + spare * v // total_vcpus for v in vcpus_per_cell]
    remainders = sorted(range(cells), key=lambda i: (-(spare * vcpus_per_cell[i] % total_vcpus), i))
    for index in remainders[: pages - sum(shares)]:
        shares[index] += 1
    return tuple(share * page for share in shares)


def split_default_memory(
    memory_bytes: int, vcpus_per_cell: Sequence[int], mode: SplitMode = "kubevirt"
) -> tuple[int, ...]:
    """Bytes per cell of default memory: ``split_memory`` over whole MiB, the rest to cell 0."""
    rest = memory_bytes % DEFAULT_MEMORY_UNIT
    sizes = list(split_memory(memory_bytes - rest, DEFAULT_MEMORY_UNIT, vcpus_per_cell, mode))
    if sizes:
        sizes[0] += rest
    return tuple(sizes)
