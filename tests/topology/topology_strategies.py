"""Hypothesis strategies for host topologies (valid by construction)."""

from __future__ import annotations

from hypothesis import strategies as st

from kvnuma.model import Cell, Cpu, CpuSet, HostTopology, HugePagePool

__all__ = ["topologies"]

_PAGE_SIZES = (64 << 10, 2 << 20, 32 << 20, 1 << 30)


@st.composite
def topologies(draw: st.DrawFn, *, with_free: bool = False) -> HostTopology:
    """Any host: 1-6 cells with distinct (possibly sparse) ids, CPUs with distinct ids grouped in
    thread groups, some offline (default ids, as the readers produce them), memory in KiB that
    holds the cell's huge pages, distances (possibly asymmetric) 10 to itself and 11..255 else."""
    cell_ids = draw(st.lists(st.integers(0, 4095), min_size=1, max_size=6, unique=True))
    cpu_ids = iter(draw(st.permutations(range(len(cell_ids) * 8))))
    cells = []
    for cell_id in cell_ids:
        cpus: list[Cpu] = []
        for _ in range(draw(st.integers(0, 3))):
            group = CpuSet.of(next(cpu_ids) for _ in range(draw(st.integers(1, 2))))
            socket_id, die_id, cluster_id, core_id = (draw(st.integers(0, 9000)) for _ in range(4))
            for cpu_id in group:
                if draw(st.booleans()) and draw(st.booleans()):
                    cpus.append(Cpu(cpu_id, siblings=CpuSet.of([cpu_id]), online=False))
                else:
                    cpus.append(Cpu(cpu_id, socket_id, die_id, cluster_id, core_id, group, True))
        sizes = draw(st.lists(st.sampled_from(_PAGE_SIZES), unique=True, max_size=3))
        pools = []
        for size in sorted(sizes):
            total = draw(st.integers(0, 5000))
            free = draw(st.integers(0, total)) if with_free else None
            pools.append(HugePagePool(size, total, free))
        distances = (
            tuple((other, 10 if other == cell_id else draw(st.integers(11, 255))) for other in cell_ids)
            if draw(st.booleans())
            else ()
        )
        huge = sum(pool.total_bytes for pool in pools)
        memory = huge + draw(st.integers(0, 1 << 38)) * 1024
        cells.append(
            Cell(cell_id, tuple(sorted(cpus, key=lambda cpu: cpu.id)), memory, tuple(pools), distances)
        )
    return HostTopology(cells=tuple(cells))
