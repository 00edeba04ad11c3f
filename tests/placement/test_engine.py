"""Whole plans: the §1.5 derived example, emulator and IOThreads, hotplug, huge pages, refusals."""

from __future__ import annotations

import pytest

from kvnuma.errors import InputError, RuleError
from kvnuma.model import CpuSet, HugePagePool
from kvnuma.names import EMULATOR_PARITY_ANNOTATION
from kvnuma.placement import plan_guest
from kvnuma.placement.errors import (
    CpusetError,
    HugePageShortfallError,
    MemorySplitError,
    PreconditionError,
    RealtimeMaskError,
)
from placement.engine_inputs import MI, smt_host, vmi


def test_derived_example_two_socket_smt_host() -> None:
    # 2 sockets x 4 cores x 2 threads (0-3+8-11 | 4-7+12-15); the pod got 7 CPUs
    host = smt_host(2, 4)
    spec = vmi(cores=3, threads=2, emulator=True, memory="1026Mi")
    plan = plan_guest(spec, CpuSet.parse("2-5,10-12"), host, check_hugepages=False)
    assert [p.host_cpu for p in plan.vcpu_pins] == [2, 10, 3, 11, 4, 12]
    assert plan.emulator_cpus == CpuSet.of([5])
    assert [(c.id, c.host_cell, c.vcpus, c.memory_bytes // MI) for c in plan.cells] == [
        (0, 0, (0, 1, 2, 3), 514),
        (1, 1, (4, 5), 512),
    ]
    assert plan.memory_nodeset == (0, 1)
    assert plan.hint_dedicated


def test_guest_ids_renumbered_from_zero_when_first_host_cell_unused() -> None:
    plan = plan_guest(
        vmi(cores=2, memory="64Mi"), CpuSet.parse("10,12"), smt_host(4, 2), check_hugepages=False
    )
    assert [(c.id, c.host_cell) for c in plan.cells] == [(0, 1), (1, 2)]
    # smt_host(4, 2): CPU 10 is the sibling of 2 (cell 1), 12 of 4 (cell 2)
    assert [(p.host_cpu, p.host_cell) for p in plan.vcpu_pins] == [(10, 1), (12, 2)]


def test_supplemental_iothreads_then_emulator_take_leftover_threads() -> None:
    spec = vmi(cores=2, emulator=True, supplemental=2)
    plan = plan_guest(spec, CpuSet.parse("0-4"), smt_host(1, 8, smt=False), check_hugepages=False)
    assert [p.host_cpu for p in plan.vcpu_pins] == [0, 1]
    assert [(i, cpus.sorted()) for i, cpus in plan.iothread_pins] == [(1, [2]), (2, [3])]
    assert plan.emulator_cpus == CpuSet.of([4])


def test_parity_annotation_asks_for_a_second_emulator_cpu() -> None:
    spec = vmi(cores=2, emulator=True, annotations={EMULATOR_PARITY_ANNOTATION: ""})
    plan = plan_guest(spec, CpuSet.parse("0-3"), smt_host(1, 4, smt=False), check_hugepages=False)
    assert plan.emulator_cpus == CpuSet.of([2, 3])


def test_hotplug_pins_only_enabled_sockets() -> None:
    spec = vmi(sockets=2, cores=2, max_sockets=4)
    plan = plan_guest(spec, CpuSet.parse("0-3"), smt_host(1, 8, smt=False), check_hugepages=False)
    assert (plan.sockets, plan.max_vcpus, plan.enabled_vcpus) == (4, 8, 4)
    assert [p.vcpu for p in plan.vcpu_pins] == [0, 1, 2, 3]
    assert [(v.enabled, v.hotpluggable) for v in plan.hotplug] == [(True, False)] * 2 + [(True, True)] * 2 + [
        (False, True)
    ] * 4
    assert plan.cells[0].vcpus == (0, 1, 2, 3)


def test_realtime_mask_selects_vcpus() -> None:
    plan = plan_guest(
        vmi(cores=4, realtime_mask="0-3,^1"), CpuSet.parse("0-3"), smt_host(1, 4), check_hugepages=False
    )
    assert plan.realtime
    assert plan.realtime_vcpus == (0, 2, 3)


def test_free_hugepages_checked_per_host_node() -> None:
    pools = [HugePagePool(2 * MI, total=64, free=10)]
    host = smt_host(2, 2, smt=False, hugepages=pools)
    with pytest.raises(HugePageShortfallError) as caught:
        plan_guest(vmi(cores=4, memory="64Mi"), CpuSet.parse("0-3"), host)
    error = caught.value
    assert (error.rule, error.needed, error.available) == ("hugepages-per-node", "16 pages of 2Mi", "10 free")
    assert "host node 0" in error.detail
    assert plan_guest(vmi(cores=4, memory="40Mi"), CpuSet.parse("0-3"), host).cells[1].memory_bytes == 20 * MI


def test_missing_page_size_on_a_node_counts_as_zero() -> None:
    host = smt_host(1, 2, smt=False, hugepages=[HugePagePool(GIB := 1 << 30, total=4, free=4)])
    with pytest.raises(HugePageShortfallError, match="available 0 free"):
        plan_guest(vmi(cores=2, memory="64Mi"), CpuSet.parse("0-1"), host)
    assert (
        plan_guest(vmi(cores=2, memory="2Gi", page="1Gi"), CpuSet.parse("0-1"), host).page_size_bytes == GIB
    )


@pytest.mark.parametrize(
    ("spec", "cpuset", "error", "rule_or_source"),
    [
        pytest.param(vmi(cores=4), "0-2", CpusetError, "cpuset-size", id="too-few-cpus"),
        pytest.param(
            vmi(cores=3, emulator=True), "0-2", CpusetError, "cpuset-size", id="no-cpu-for-emulator"
        ),
        pytest.param(vmi(cores=1), "", CpusetError, "cpuset-size", id="empty-cpuset"),
        pytest.param(vmi(cores=1), "0,99", InputError, "cpuset", id="cpu-not-on-host"),
        pytest.param(
            vmi(cores=2, memory="65Mi"), "0-1", MemorySplitError, "memory-multiple-of-page-size", id="odd"
        ),
        pytest.param(
            vmi(cores=1, dedicated=False), "0", PreconditionError, "dedicated-cpu-placement", id="shared"
        ),
        pytest.param(
            vmi(cores=1, page=None), "0", PreconditionError, "passthrough-needs-hugepages", id="no-pages"
        ),
        pytest.param(
            vmi(cores=1, threads=3), "0-2", PreconditionError, "dedicated-max-two-threads", id="threads-3"
        ),
        pytest.param(
            vmi(cores=1, realtime_mask="", passthrough=False),
            "0",
            PreconditionError,
            "realtime-needs-passthrough",
            id="realtime-no-passthrough",
        ),
        pytest.param(
            vmi(sockets=3, max_sockets=2), "0-2", PreconditionError, "max-sockets", id="max-sockets"
        ),
        pytest.param(
            vmi(cores=2, realtime_mask="0-2"),
            "0-1",
            RealtimeMaskError,
            "spec.domain.cpu.realtime.mask",
            id="mask-past-vcpus",
        ),
    ],
)
def test_refusals_are_typed_and_named(spec: object, cpuset: str, error: type, rule_or_source: str) -> None:
    host = smt_host(2, 2, smt=False)
    with pytest.raises(error) as caught:
        plan_guest(spec, CpuSet.parse(cpuset), host, check_hugepages=False)  # type: ignore[arg-type]
    value = caught.value
    if isinstance(value, RuleError):
        assert value.rule == rule_or_source
        assert str(value.needed)
        assert str(value.available)
    else:
        assert isinstance(value, InputError)
        assert value.source == rule_or_source


def test_memory_smaller_than_one_page_per_cell() -> None:
    with pytest.raises(MemorySplitError) as caught:
        plan_guest(vmi(cores=2, memory="2Mi"), CpuSet.parse("0,2"), smt_host(2, 2, smt=False))
    assert caught.value.rule == "memory-one-page-per-cell"
    assert "2 pages of 2Mi" in str(caught.value.needed)
