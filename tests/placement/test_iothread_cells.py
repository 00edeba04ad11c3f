"""``kvnuma.io/iothread-placement: cell``: each IOThread inside one host cell, the cell of its
disks' controller or else the emulator's; the default (``kubevirt``) keeps KubeVirt's pins."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kvnuma.errors import InputError, RuleError
from kvnuma.model import CpuSet
from kvnuma.names import IOTHREAD_PLACEMENT_ANNOTATION, iothread_placement
from kvnuma.placement import plan_guest
from kvnuma.render import render_domain
from placement.engine_inputs import smt_host, vmi

HOST = smt_host(2, 4, smt=False)  # cell 0: CPUs 0-3, cell 1: CPUs 4-7
POD = CpuSet.parse("1-7")  # 4 vCPUs on 1,2,3 (cell 0) and 4 (cell 1); 5-7 left for threads


def _disk(name: str, dedicated: bool = False) -> dict[str, Any]:
    disk: dict[str, Any] = {"name": name, "disk": {"bus": "virtio"}}
    if dedicated:
        disk["dedicatedIOThread"] = True
    return disk


DISKS = [_disk("root"), _disk("data", dedicated=True)]


def _spec(policy: str, emulator: bool, placement: str | None, **kwargs: Any) -> Any:
    annotations = {IOTHREAD_PLACEMENT_ANNOTATION: placement} if placement is not None else {}
    threads = {"supplemental": 2} if policy == "supplementalPool" else {"io_policy": policy}
    return vmi(cores=4, emulator=emulator, disks=DISKS, annotations=annotations, **threads, **kwargs)


# policy, isolated emulator, disk -> guest cell of its controller, {IOThread: (host CPUs, guest cell)}
CELL_CASES = [
    pytest.param("shared", False, {}, {1: ("1-3", 0), 2: ("1-3", 0)}, id="shared-shared-cpus-no-expander"),
    pytest.param("shared", False, {"data": 0}, {1: ("1-3", 0), 2: ("1-3", 0)}, id="shared-expander-cell0"),
    pytest.param("shared", False, {"data": 1}, {1: ("1-3", 0), 2: ("5-7", 1)}, id="shared-expander-cell1"),
    pytest.param("shared", True, {}, {1: ("5-7", 1), 2: ("5-7", 1)}, id="shared-isolated-no-expander"),
    pytest.param("shared", True, {"data": 0}, {1: ("5-7", 1), 2: ("1-3", 0)}, id="shared-isolated-expander0"),
    pytest.param("auto", False, {}, {1: ("1-3", 0), 2: ("1-3", 0)}, id="auto-shared-cpus-no-expander"),
    pytest.param("auto", False, {"data": 1}, {1: ("1-3", 0), 2: ("5-7", 1)}, id="auto-expander-cell1"),
    pytest.param("auto", True, {}, {1: ("5-7", 1), 2: ("5-7", 1)}, id="auto-isolated-no-expander"),
    pytest.param(
        "auto", True, {"root": 0, "data": 1}, {1: ("1-3", 0), 2: ("5-7", 1)}, id="auto-isolated-both"
    ),
    pytest.param("supplementalPool", False, {}, {1: ("5", 1), 2: ("6", 1)}, id="pool-own-cpus-no-expander"),
    pytest.param("supplementalPool", False, {"data": 0}, {1: ("1-3", 0), 2: ("1-3", 0)}, id="pool-expander0"),
    pytest.param("supplementalPool", True, {"data": 1}, {1: ("5", 1), 2: ("6", 1)}, id="pool-isolated-exp1"),
    pytest.param(
        "supplementalPool",
        True,
        {"root": 0, "data": 1},
        {1: ("5", 1), 2: ("6", 1)},
        id="pool-disks-on-2-cells",
    ),
]


@pytest.mark.parametrize(("policy", "emulator", "disk_cells", "want"), CELL_CASES)
def test_cell_placement(
    policy: str, emulator: bool, disk_cells: dict[str, int], want: dict[int, tuple[str, int]]
) -> None:
    plan = plan_guest(
        _spec(policy, emulator, "cell"), POD, HOST, check_hugepages=False, disk_cells=disk_cells
    )
    assert plan.iothread_cells
    assert {t.id: (t.host_cpus.format(), t.guest_cell) for t in plan.iothreads} == want
    for thread in plan.iothreads:
        assert f"host cell {thread.guest_cell}" in thread.reason  # guest cell i is host cell i here
        if thread.host_cpus & CpuSet.of(p.host_cpu for p in plan.vcpu_pins):
            assert "shared with its vCPUs" in thread.reason  # never a vCPU's CPU silently


@pytest.mark.parametrize("policy", ["shared", "auto", "supplementalPool"])
@pytest.mark.parametrize("emulator", [False, True], ids=["shared-emulator", "isolated-emulator"])
def test_kubevirt_mode_is_the_default(policy: str, emulator: bool) -> None:
    default = plan_guest(_spec(policy, emulator, None), POD, HOST, check_hugepages=False)
    named = plan_guest(
        _spec(policy, emulator, "kubevirt"), POD, HOST, check_hugepages=False, disk_cells={"data": 1}
    )
    assert not named.iothread_cells
    assert render_domain(named) == render_domain(default)
    assert all(t.reason == "" for t in named.iothreads)


def test_without_guest_cells_threads_stay_on_the_emulators_host_cell() -> None:
    spec = _spec("shared", True, "cell", passthrough=False, page=None)
    plan = plan_guest(spec, POD, HOST, check_hugepages=False)
    assert plan.cells == ()
    assert [(t.host_cpus.format(), t.guest_cell) for t in plan.iothreads] == [("5-7", None), ("5-7", None)]


def test_a_controller_on_a_guest_cell_the_plan_lacks_is_refused() -> None:
    with pytest.raises(InputError, match="disk data: its controller is on guest cell 3"):
        plan_guest(_spec("shared", False, "cell"), POD, HOST, check_hugepages=False, disk_cells={"data": 3})


@pytest.mark.parametrize("value", ["Cell", "numa", "", "x" * 100])
def test_an_unknown_placement_is_a_one_line_input_error(value: str) -> None:
    with pytest.raises(
        InputError, match=f"annotation {IOTHREAD_PLACEMENT_ANNOTATION}: .* is not one of kubevirt, cell"
    ):
        plan_guest(_spec("shared", False, value), POD, HOST, check_hugepages=False)
    with pytest.raises(InputError) as caught:
        iothread_placement({IOTHREAD_PLACEMENT_ANNOTATION: value})
    assert "\n" not in str(caught.value)
    assert len(str(caught.value)) < 160


@st.composite
def cases(draw: st.DrawFn) -> tuple[Any, CpuSet, Any, dict[str, int]]:
    cells = draw(st.integers(1, 3))
    per_cell = draw(st.integers(2, 4))
    host = smt_host(cells, per_cell, smt=False)
    cpus = sorted(cpu.id for cpu in host.cpus)
    pod = CpuSet.of(draw(st.lists(st.sampled_from(cpus), unique=True, min_size=2)))
    policy = draw(st.sampled_from(["shared", "auto", "supplementalPool"]))
    emulator = draw(st.booleans())
    pool = 1 if policy == "supplementalPool" else 0
    cores = draw(st.integers(1, max(1, len(pod) - 1 - pool)))
    passthrough = draw(st.booleans())
    names = [f"d{i}" for i in range(draw(st.integers(1, 4)))]
    disks = [_disk(name, dedicated=draw(st.booleans())) for name in names]
    threads = {"supplemental": draw(st.integers(1, 2))} if pool else {"io_policy": policy}
    spec_kw: dict[str, Any] = dict(
        cores=cores, emulator=emulator, disks=disks, passthrough=passthrough, **threads
    )
    if not passthrough:
        spec_kw["page"] = None
    guest_cells = draw(st.lists(st.integers(0, cells - 1), min_size=len(names), max_size=len(names)))
    placed = {name: cell for name, cell in zip(names, guest_cells, strict=True) if draw(st.booleans())}
    return spec_kw, pod, host, placed


@settings(max_examples=150, deadline=None)
@given(cases())
def test_every_cell_pin_lies_in_the_pod_and_in_one_host_cell(
    case: tuple[Any, CpuSet, Any, dict[str, int]],
) -> None:
    spec_kw, pod, host, placed = case
    try:
        default = plan_guest(vmi(**spec_kw), pod, host, check_hugepages=False)
    except (RuleError, InputError):
        assume(False)
        raise
    kubevirt = vmi(**spec_kw, annotations={IOTHREAD_PLACEMENT_ANNOTATION: "kubevirt"})
    assert render_domain(plan_guest(kubevirt, pod, host, check_hugepages=False)) == render_domain(default)
    guest_ids = {cell.id for cell in default.cells}
    placed = {disk: cell for disk, cell in placed.items() if cell in guest_ids}
    cell = vmi(**spec_kw, annotations={IOTHREAD_PLACEMENT_ANNOTATION: "cell"})
    plan = plan_guest(cell, pod, host, check_hugepages=False, disk_cells=placed)
    cell_cpus = {c.id: CpuSet.of(cpu.id for cpu in c.cpus) for c in host.cells}
    host_of_guest = {c.id: c.host_cell for c in plan.cells}
    for thread in plan.iothreads:
        assert thread.host_cpus, thread
        assert not thread.host_cpus - pod
        homes = [c for c, cpus in cell_cpus.items() if not thread.host_cpus - cpus]
        assert len(homes) == 1, thread
        if thread.guest_cell is not None:
            assert host_of_guest[thread.guest_cell] == homes[0]
        on = {placed[d] for d in thread.disks if d in placed}
        if len(on) == 1 and thread.kind != "supplemental":
            assert homes[0] == host_of_guest[on.pop()]
