"""Hypothesis properties of the engine over random hosts, cpusets and VMIs."""

from __future__ import annotations

import random
from dataclasses import replace

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kvnuma.errors import RuleError
from kvnuma.model import CpuSet, HostTopology
from kvnuma.placement import GuestPlan, plan_guest
from placement.engine_inputs import MI, smt_host, vmi

Case = tuple[HostTopology, CpuSet, int, int, bool, int, bool]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    cells = draw(st.integers(1, 4))
    cores_per_cell = draw(st.integers(1, 4))
    smt = draw(st.booleans())
    host = smt_host(cells, cores_per_cell, smt=smt)
    all_cpus = sorted(cpu.id for cpu in host.cpus)
    whole_groups = draw(st.booleans())
    if whole_groups:  # the cpuset is made of whole sibling groups
        groups = sorted({cpu.thread_group.format() for cpu in host.cpus})
        chosen = draw(st.lists(st.sampled_from(groups), unique=True, min_size=1))
        cpuset = CpuSet.of(i for g in chosen for i in CpuSet.parse(g))
    else:
        cpuset = CpuSet.of(draw(st.lists(st.sampled_from(all_cpus), unique=True, min_size=1)))
    threads = draw(st.integers(1, 2))
    cores = draw(st.integers(1, max(1, len(cpuset) // threads)))
    emulator = draw(st.booleans())
    pages = draw(st.integers(1, 64))
    return host, cpuset, cores, threads, emulator, pages, whole_groups


def plan_or_skip(case: Case) -> GuestPlan:
    host, cpuset, cores, threads, emulator, pages, _ = case
    spec = vmi(cores=cores, threads=threads, emulator=emulator, memory=f"{pages * 2}Mi")
    try:
        return plan_guest(spec, cpuset, host, check_hugepages=False)
    except RuleError:
        assume(False)
        raise


@settings(max_examples=300, deadline=None)
@given(cases())
def test_pins_are_one_per_vcpu_inside_the_cpuset(
    case: Case,
) -> None:
    host, cpuset, cores, threads, _emulator, _pages, _ = case
    plan = plan_or_skip(case)
    assert [pin.vcpu for pin in plan.vcpu_pins] == list(range(cores * threads))
    used = [pin.host_cpu for pin in plan.vcpu_pins] + plan.emulator_cpus.sorted()
    assert len(used) == len(set(used))
    assert set(used) <= cpuset.ids
    cell_of = host.cell_of_cpu()
    assert all(cell_of[pin.host_cpu] == pin.host_cell for pin in plan.vcpu_pins)
    # guest cells partition the vCPUs and each guest core stays in one host cell
    assert sorted(v for cell in plan.cells for v in cell.vcpus) == list(range(cores * threads))
    for first in range(0, cores * threads, threads):
        assert len({plan.vcpu_pins[first + t].host_cell for t in range(threads)}) == 1


@settings(max_examples=300, deadline=None)
@given(cases())
def test_threads_on_real_siblings_and_memory_in_whole_pages(
    case: Case,
) -> None:
    host, _cpuset, cores, threads, _emulator, pages, whole_groups = case
    plan = plan_or_skip(case)
    if threads == 2 and host.smt_enabled and whole_groups:
        siblings = {cpu.id: cpu.thread_group for cpu in host.cpus}
        for first in range(0, cores * 2, 2):
            a, b = plan.vcpu_pins[first].host_cpu, plan.vcpu_pins[first + 1].host_cpu
            assert b in siblings[a]
    assert sum(cell.memory_bytes for cell in plan.cells) == pages * 2 * MI
    assert all(cell.memory_bytes % (2 * MI) == 0 and cell.memory_bytes > 0 for cell in plan.cells)


@settings(max_examples=200, deadline=None)
@given(cases(), st.integers(0, 2**32))
def test_plan_unchanged_when_cpu_order_is_shuffled(case: Case, seed: int) -> None:
    host, cpuset, cores, threads, emulator, pages, _ = case
    plan = plan_or_skip(case)
    shuffler = random.Random(seed)
    shuffled_cells = []
    for cell in host.cells:
        cpus = list(cell.cpus)
        shuffler.shuffle(cpus)
        shuffled_cells.append(replace(cell, cpus=tuple(cpus)))
    shuffled_cpuset = list(cpuset)
    shuffler.shuffle(shuffled_cpuset)
    again = plan_guest(
        vmi(cores=cores, threads=threads, emulator=emulator, memory=f"{pages * 2}Mi"),
        CpuSet.of(shuffled_cpuset),
        HostTopology(cells=tuple(shuffled_cells)),
        check_hugepages=False,
    )
    assert again == plan
