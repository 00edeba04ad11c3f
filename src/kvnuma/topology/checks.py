"""What a host topology must satisfy before anyone trusts it: all or error.

A reader (sysfs, capabilities) builds a ``HostTopology`` and hands it to ``check_host`` with a
``locate`` function that names, for a cell (and CPU), the file or element a value came from; any
violation is one ``InputError`` naming that place and the problem. A wrong topology published on
a Node is worse than none: the webhook trusts it for every VMI in the cluster.

The checks are what the kernel itself guarantees, so every tree a real kernel writes passes:

* each CPU is in one cell; cell ids are distinct; cell and CPU ids are within the one id limit
  (``kvnuma.cpulist.MAX_CPU_ID``);
* a CPU's thread siblings are CPUs of the host, and two online CPUs agree about being siblings
  (the kernel builds one ``cpu_sibling_map`` per core);
* a cell's memory is at most ``MAX_CELL_MEMORY_BYTES`` (1 PiB: the largest machines have tens
  of TiB in all);
* huge pages: ``free`` at most ``total``, and the pages fit in the cell's memory (they are
  carved from it; a cell whose memory is unknown, 0 with no ``node/`` folder, is not checked);
* distances, when a cell has them: one per cell (a square matrix), 10 to itself and above 10 to
  any other cell, at most 255 (ACPI SLIT's rules, which Linux enforces in ``slit_valid``;
  arm64's device-tree reader enforces the same). They need not be symmetric: SLIT allows
  asymmetric tables and Linux keeps them as given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kvnuma.cpulist import MAX_CPU_ID
from kvnuma.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Callable

    from kvnuma.model import HostTopology, HugePagePool

__all__ = ["LOCAL_DISTANCE", "MAX_CELL_MEMORY_BYTES", "check_host"]

MAX_CELL_MEMORY_BYTES = 1 << 50
"""1 PiB: far above any real NUMA node, far below where byte counts stop fitting in 64 bits."""

LOCAL_DISTANCE = 10
_MAX_DISTANCE = 255


def check_host(host: HostTopology, locate: Callable[[str, int, int | None], str]) -> None:
    """Raise InputError at the first violation; ``locate(what, cell_id, cpu_id)`` names the place
    (``what`` is one of cpus, siblings, memory, hugepages, distances)."""
    owner: dict[int, int] = {}
    ids: set[int] = set()
    for cell in host.cells:
        if cell.id > MAX_CPU_ID:
            raise InputError(
                locate("cpus", cell.id, None), f"cell id {cell.id} is above the limit {MAX_CPU_ID}"
            )
        if cell.id in ids:
            raise InputError(locate("cpus", cell.id, None), f"cell {cell.id} appears twice")
        ids.add(cell.id)
        for cpu in cell.cpus:
            if cpu.id > MAX_CPU_ID:
                raise InputError(
                    locate("cpus", cell.id, None), f"CPU id {cpu.id} is above the limit {MAX_CPU_ID}"
                )
            if cpu.id in owner:
                raise InputError(
                    locate("cpus", cell.id, None), f"CPU {cpu.id} is also in cell {owner[cpu.id]}"
                )
            owner[cpu.id] = cell.id
    cpus = {cpu.id: cpu for cell in host.cells for cpu in cell.cpus}
    for cell in host.cells:
        for cpu in cell.cpus:
            if not cpu.online:
                continue
            for sibling in cpu.siblings:
                other = cpus.get(sibling)
                if other is None:
                    raise InputError(
                        locate("siblings", cell.id, cpu.id),
                        f"names CPU {sibling}, which the host does not have",
                    )
                if other.online and cpu.id not in other.thread_group:
                    raise InputError(
                        locate("siblings", cell.id, cpu.id),
                        f"names CPU {sibling} as a thread sibling, but CPU {sibling}'s siblings are "
                        f"{other.thread_group.format()}",
                    )
        _check_memory(cell.id, cell.memory_bytes, cell.hugepages, locate)
        if cell.distances:
            _check_distances(cell.id, cell.distances, host.cell_ids, locate)


def _check_memory(
    cell_id: int,
    memory: int,
    pools: tuple[HugePagePool, ...],
    locate: Callable[[str, int, int | None], str],
) -> None:
    if memory > MAX_CELL_MEMORY_BYTES:
        raise InputError(
            locate("memory", cell_id, None),
            f"{memory} bytes is beyond any real NUMA node (limit {MAX_CELL_MEMORY_BYTES})",
        )
    huge = 0
    for pool in pools:
        if pool.free is not None and pool.free > pool.total:
            raise InputError(
                locate("hugepages", cell_id, None),
                f"{pool.free} free {pool.page_size_bytes >> 10} KiB pages but only {pool.total} in all",
            )
        huge += pool.total_bytes
        if huge > MAX_CELL_MEMORY_BYTES or (memory and huge > memory):
            raise InputError(
                locate("hugepages", cell_id, None),
                f"{pool.total} pages of {pool.page_size_bytes >> 10} KiB do not fit in the cell's "
                f"{memory} bytes of memory",
            )


def _check_distances(
    cell_id: int,
    distances: tuple[tuple[int, int], ...],
    cell_ids: tuple[int, ...],
    locate: Callable[[str, int, int | None], str],
) -> None:
    where = locate("distances", cell_id, None)
    if sorted(other for other, _ in distances) != sorted(cell_ids):
        raise InputError(where, f"distances to cells {[o for o, _ in distances]} for cells {list(cell_ids)}")
    for other, value in distances:
        if other == cell_id and value != LOCAL_DISTANCE:
            raise InputError(where, f"distance {value} to itself (the kernel requires {LOCAL_DISTANCE})")
        if other != cell_id and not LOCAL_DISTANCE < value <= _MAX_DISTANCE:
            raise InputError(
                where,
                f"distance {value} to cell {other} (remote ones are {LOCAL_DISTANCE + 1}..{_MAX_DISTANCE})",
            )
