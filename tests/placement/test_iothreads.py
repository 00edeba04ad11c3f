"""IOThreads: KubeVirt's count, disk assignment and pins (converter ``iothreads``,
``assignDiskIOThread``, ``FormatDomainIOThreadPin``), as tables with ids."""

from __future__ import annotations

from typing import Any

import pytest

from kvnuma.model import CpuSet
from kvnuma.placement import plan_guest
from kvnuma.placement.iothreads import iothread_layout, kubevirt_shared_pins
from placement.engine_inputs import smt_host, vmi


def _disk(name: str, bus: str = "virtio", dedicated: bool = False, target: str = "disk") -> dict[str, Any]:
    disk: dict[str, Any] = {"name": name, target: {"bus": bus}}
    if dedicated:
        disk["dedicatedIOThread"] = True
    return disk


V = _disk
LAYOUTS = [
    # id, policy, disks, isolated emulator, cpu request -> count, {thread: disks}
    pytest.param(None, [], False, None, 0, {}, id="no-policy-no-dedicated-disk"),
    pytest.param("shared", [], False, None, 0, {}, id="shared-no-disks"),
    pytest.param(
        "shared", [V("a"), V("b"), V("c")], False, None, 1, {1: ("a", "b", "c")}, id="shared-3-disks"
    ),
    pytest.param(
        "shared",
        [V("a"), V("d", dedicated=True), V("b")],
        False,
        None,
        2,
        {1: ("a", "b"), 2: ("d",)},
        id="shared-with-a-dedicated-disk",
    ),
    pytest.param(
        None,
        [V("a"), V("d", dedicated=True)],
        False,
        None,
        2,
        {1: ("a",), 2: ("d",)},
        id="no-policy-dedicated",
    ),
    pytest.param(
        "auto",
        [V("a"), V("b"), V("c")],
        False,
        None,
        2,
        {1: ("a", "c"), 2: ("b",)},
        id="auto-no-request-pool-of-2",
    ),
    pytest.param(
        "auto",
        [V("a"), V("b"), V("c"), V("e"), V("f")],
        False,
        "1500m",
        4,
        {1: ("a", "f"), 2: ("b",), 3: ("c",), 4: ("e",)},
        id="auto-request-1.5-rounds-up-to-4",
    ),
    pytest.param(
        "auto", [V("a"), V("b")], True, None, 1, {1: ("a", "b")}, id="auto-isolated-emulator-pool-of-1"
    ),
    pytest.param(
        "auto",
        [V("d1", dedicated=True), V("d2", dedicated=True), V("a")],
        False,
        None,
        3,
        {1: ("a",), 2: ("d1",), 3: ("d2",)},
        id="auto-dedicated-fill-the-pool-one-shared-kept",
    ),
    pytest.param(
        "shared",
        [_disk("s", bus="sata"), V("a"), _disk("cd", bus="sata", target="cdrom")],
        False,
        None,
        1,
        {1: ("a",)},
        id="shared-non-virtio-count-but-get-none",
    ),
    pytest.param("shared", [{"name": "plain"}], False, None, 1, {1: ()}, id="amd64-default-bus-is-sata"),
]


@pytest.mark.parametrize(("policy", "disks", "isolated", "cpu_request", "count", "users"), LAYOUTS)
def test_count_and_disk_assignment_follow_kubevirt(  # noqa: PLR0917 - one table row
    policy: str | None,
    disks: list[dict[str, Any]],
    isolated: bool,
    cpu_request: str | None,
    count: int,
    users: dict[int, tuple[str, ...]],
) -> None:
    spec = vmi(cores=2, io_policy=policy, disks=disks, emulator=isolated, cpu_request=cpu_request)
    layout = iothread_layout(spec)
    assert layout.count == count
    assert {t.id: t.disks for t in layout.threads} == users


def test_supplemental_pool_gives_every_virtio_disk_every_thread() -> None:
    spec = vmi(cores=2, supplemental=3, disks=[V("a"), _disk("s", bus="sata"), V("b")])
    layout = iothread_layout(spec)
    assert layout.count == 3
    assert [(t.kind, t.disks) for t in layout.threads] == [("supplemental", ("a", "b"))] * 3


PINS = [
    # count, vcpus, cpuset, emulator, isolated -> pins
    pytest.param(1, 4, [2, 3, 4, 5], "", False, {1: "2,3,4,5"}, id="one-thread-all-vcpu-cpus"),
    pytest.param(3, 8, list(range(8)), "", False, {1: "0,1,2", 2: "3,4,5", 3: "6,7"}, id="balanced-3-over-8"),
    pytest.param(2, 2, [6, 7, 8], "", False, {1: "7", 2: "6"}, id="as-many-as-vcpus-t-mod-v"),
    pytest.param(3, 2, [6, 7, 8], "", False, {1: "7", 2: "6", 3: "7"}, id="more-than-vcpus-wraps"),
    pytest.param(2, 4, [2, 3, 4, 5, 9], "9", True, {1: "9"}, id="isolated-emulator-only-thread-1"),
    pytest.param(0, 4, [2, 3, 4, 5, 9], "9", True, {1: "9"}, id="isolated-emulator-no-disk-v1.6"),
    pytest.param(0, 4, [2, 3, 4, 5], "", False, {}, id="no-thread-no-pin"),
]


@pytest.mark.parametrize(("count", "vcpus", "cpuset", "emulator", "isolated", "pins"), PINS)
def test_shared_pins_follow_format_domain_iothread_pin(  # noqa: PLR0917 - one table row
    count: int, vcpus: int, cpuset: list[int], emulator: str, isolated: bool, pins: dict[int, str]
) -> None:
    emulator_cpus = CpuSet.parse(emulator) if emulator else CpuSet.of(())
    got = kubevirt_shared_pins(count, vcpus, cpuset, emulator_cpus, isolated)
    assert {i: cpus.format(ranges=False) for i, cpus in got.items()} == pins


def test_plan_pins_shared_threads_over_the_pods_cpus_and_names_their_cell() -> None:
    spec = vmi(cores=4, io_policy="auto", disks=[V("root"), V("data", dedicated=True)])
    host = smt_host(2, 4, smt=False)
    plan = plan_guest(spec, CpuSet.parse("2-5"), host, check_hugepages=False)
    assert plan.iothread_count == 2
    got = [(t.id, t.kind, t.disks, t.host_cpus.format(ranges=False), t.guest_cell) for t in plan.iothreads]
    # 2 threads < 4 vCPUs: balanced runs of the ascending cpuset; 2,3 on host cell 0, 4,5 on cell 1
    assert got == [(1, "shared", ("root",), "2,3", 0), (2, "dedicated", ("data",), "4,5", 1)]


def test_plan_shared_with_isolated_emulator_pins_thread_1_there_and_leaves_the_rest() -> None:
    spec = vmi(cores=2, emulator=True, io_policy="shared", disks=[V("a"), V("d", dedicated=True)])
    plan = plan_guest(spec, CpuSet.parse("0-2"), smt_host(1, 4, smt=False), check_hugepages=False)
    assert plan.emulator_cpus.sorted() == [2]
    assert [(t.id, t.host_cpus.sorted()) for t in plan.iothreads] == [(1, [2]), (2, [])]
    assert [(i, c.sorted()) for i, c in plan.iothread_pins] == [(1, [2])]


@pytest.mark.parametrize(
    ("quirks", "pins"),
    [
        pytest.param(frozenset(), [], id="kvnuma-no-pin-without-iothreads"),
        pytest.param(
            frozenset({"v1.6-iothreadpin-without-iothreads"}), [(1, [2])], id="v1.6-quirk-pins-thread-1"
        ),
    ],
)
def test_no_disk_shared_with_isolated_emulator(
    quirks: frozenset[str], pins: list[tuple[int, list[int]]]
) -> None:
    spec = vmi(cores=2, emulator=True, io_policy="shared")
    host = smt_host(1, 4, smt=False)
    plan = plan_guest(spec, CpuSet.parse("0-2"), host, check_hugepages=False, quirks=quirks)
    assert plan.iothread_count == 0
    assert [(i, c.sorted()) for i, c in plan.iothread_pins] == pins
