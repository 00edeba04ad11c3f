"""Guest NUMA without huge pages (``kvnuma.io/guest-numa: host-cells``) and the memory policy
(``kvnuma.io/memory-policy``): the decision table, bad values, and the layout's invariants."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvnuma.errors import InputError, RuleError
from kvnuma.model import CpuSet, HostTopology
from kvnuma.names import GUEST_NUMA_ANNOTATION, MEMORY_POLICIES, MEMORY_POLICY_ANNOTATION
from kvnuma.placement import GuestPlan, plan_guest
from kvnuma.placement.memory import split_default_memory
from kvnuma.render import merge_into, render_domain
from placement.engine_inputs import HOST_4, MI, smt_host, vmi

TWO_CELLS = "2,3,4,5"  # HOST_4: cells hold CPUs 0-1, 2-3, 4-5, 6-7 -> host cells 1 and 2
ONE_CELL = "2,3"


@dataclass(frozen=True)
class Case:
    id: str
    guest_numa: bool
    policy: str
    hugepages: bool
    passthrough: bool
    cpuset: str
    cells_from: str  # "" no cells, or an error rule prefixed "!"
    mode: str = "strict"
    note: str = ""


def _cases() -> list[Case]:
    cases = []
    for policy in ("", *MEMORY_POLICIES):
        mode = policy or "strict"
        applied = f"{MEMORY_POLICY_ANNOTATION}={policy}: <numatune>" if policy else ""
        unapplied = f"{MEMORY_POLICY_ANNOTATION}={policy}: not applied" if policy else ""
        tag = policy or "no-policy"
        for cpuset, cells in ((TWO_CELLS, "2cells"), (ONE_CELL, "1cell")):
            rows = [  # (name, guest-numa, hugepages, passthrough, cells from, note)
                ("guestnuma-nohp", True, False, False, "host-cells", applied),
                ("nohp", False, False, False, "", unapplied),
                ("passthrough", False, True, True, "guestMappingPassthrough", applied),
                ("guestnuma-passthrough", True, True, True, "guestMappingPassthrough", "not needed"),
                ("guestnuma-hp-nopassthrough", True, True, False, "", "not applied"),
                ("guestnuma-passthrough-nohp", True, False, True, "!passthrough-needs-hugepages", ""),
            ]
            cases += [
                Case(f"{tag}-{name}-{cells}", numa, policy, hp, pt, cpuset, source, mode, note)
                for name, numa, hp, pt, source, note in rows
            ]
    return cases


CASES = _cases()


def _plan(case: Case, *, dedicated: bool = True) -> GuestPlan:
    annotations = {}
    if case.guest_numa:
        annotations[GUEST_NUMA_ANNOTATION] = "host-cells"
    if case.policy:
        annotations[MEMORY_POLICY_ANNOTATION] = case.policy
    spec = vmi(
        cores=len(CpuSet.parse(case.cpuset)),
        memory="130Mi",
        page="2Mi" if case.hugepages else None,
        passthrough=case.passthrough,
        dedicated=dedicated,
        annotations=annotations,
    )
    return plan_guest(spec, CpuSet.parse(case.cpuset), HOST_4, check_hugepages=False)


def test_the_table_covers_every_policy_and_shape() -> None:
    assert len({c.id for c in CASES}) == len(CASES) == 5 * 2 * 6


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_decision(case: Case) -> None:
    if case.cells_from.startswith("!"):
        with pytest.raises(RuleError) as raised:
            _plan(case)
        assert raised.value.rule == case.cells_from[1:]
        return
    plan = _plan(case)
    assert plan.cells_from == case.cells_from
    expected_hosts = sorted({pin.host_cell for pin in plan.vcpu_pins})
    root = ET.fromstring(render_domain(plan))
    numatune = root.find("numatune")
    if not case.cells_from:
        assert plan.cells == ()
        assert numatune is None
        assert root.find("cpu/numa/cell[@id='1']") is None
    else:
        assert [c.host_cell for c in plan.cells] == expected_hosts
        assert numatune is not None
        memory = numatune.find("memory")
        assert memory is not None
        assert memory.get("mode") == case.mode
        first = str(expected_hosts[0])
        everything = ",".join(map(str, expected_hosts))
        assert memory.get("nodeset") == (first if case.mode == "preferred" else everything)
        memnodes = [(m.get("cellid"), m.get("mode"), m.get("nodeset")) for m in numatune.iter("memnode")]
        assert memnodes == [(str(c.id), case.mode, str(c.host_cell)) for c in plan.cells]
        hugepages = root.find("memoryBacking/hugepages")
        if case.hugepages:
            assert hugepages is not None
            assert len(hugepages) == len(plan.cells)
        else:  # the default memory: KubeVirt renders no <memoryBacking> without huge pages
            assert root.find("memoryBacking") is None
            assert all(c.page_size_bytes is None for c in plan.cells)
    notes = " | ".join(plan.numa_notes)
    assert case.note in notes
    assert len(plan.numa_notes) == int(case.guest_numa) + int(bool(case.policy))


def test_without_dedicated_cpus_the_engine_refuses_as_before() -> None:
    case = Case("x", True, "interleave", False, False, TWO_CELLS, "")
    with pytest.raises(RuleError) as raised:
        _plan(case, dedicated=False)
    assert raised.value.rule == "dedicated-cpu-placement"


@pytest.mark.parametrize(
    ("annotation", "value"),
    [
        pytest.param(GUEST_NUMA_ANNOTATION, "yes", id="guest-numa-yes"),
        pytest.param(GUEST_NUMA_ANNOTATION, "", id="guest-numa-empty"),
        pytest.param(MEMORY_POLICY_ANNOTATION, "bind", id="policy-bind"),
        pytest.param(MEMORY_POLICY_ANNOTATION, "Strict", id="policy-case"),
        pytest.param(MEMORY_POLICY_ANNOTATION, "x" * 5000, id="policy-huge"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_annotation(annotation: str, value: str) -> None:
    spec = vmi(cores=2, page=None, passthrough=False, annotations={annotation: value})
    with pytest.raises(InputError) as raised:
        plan_guest(spec, CpuSet.parse(ONE_CELL), HOST_4)
    line = raised.value.one_line()
    assert annotation in line
    assert "\n" not in line
    assert len(line) < 200


def test_guest_numa_off_is_as_if_absent() -> None:
    spec = vmi(cores=4, page=None, passthrough=False, annotations={GUEST_NUMA_ANNOTATION: "off"})
    plan = plan_guest(spec, CpuSet.parse(TWO_CELLS), HOST_4)
    assert plan.cells == ()
    assert plan.numa_notes == ()


def test_guest_cores_stay_inside_one_host_cell() -> None:
    # 2-thread cores on an SMT host: a cpuset with half a core in each cell cannot mirror cells
    host = smt_host(2, 2)  # cell 0: cores 0/4, 1/5; cell 1: 2/6, 3/7
    annotations = {GUEST_NUMA_ANNOTATION: "host-cells"}
    spec = vmi(cores=2, threads=2, page=None, passthrough=False, annotations=annotations)
    plan = plan_guest(spec, CpuSet.parse("0,4,2,6"), host)
    assert [(c.host_cell, c.vcpus) for c in plan.cells] == [(0, (0, 1)), (1, (2, 3))]
    with pytest.raises(RuleError) as raised:
        plan_guest(spec, CpuSet.parse("0,4,1,2"), host)  # the second core would straddle cells 0/1
    assert raised.value.rule == "cores-within-host-cells"
    bare = vmi(cores=2, threads=2, page=None, passthrough=False)
    assert plan_guest(bare, CpuSet.parse("0,4,1,2"), host).cells == ()  # KubeVirt's relaxed pool


@pytest.mark.parametrize(
    ("memory", "counts", "expected"),
    [
        pytest.param(130 * MI, [2, 2], [65 * MI, 65 * MI], id="even"),
        pytest.param(131 * MI, [1, 1], [66 * MI, 65 * MI], id="leftover-mib-first"),
        pytest.param(10**9, [1, 2], [477 * MI + 10**9 % MI, 476 * MI], id="decimal-bytes-to-cell-0"),
        pytest.param(64 * MI, [1, 1, 1], [22 * MI, 21 * MI, 21 * MI], id="three"),
    ],
)
def test_default_memory_split(memory: int, counts: list[int], expected: list[int]) -> None:
    sizes = split_default_memory(memory, counts)
    assert list(sizes) == expected
    assert sum(sizes) == memory


def test_less_than_one_mib_per_cell_is_refused() -> None:
    with pytest.raises(RuleError) as raised:
        split_default_memory(MI + 5, [1, 1])
    assert raised.value.rule == "memory-one-page-per-cell"


def test_merge_into_a_kubevirt_domain_keeps_its_memory_backing() -> None:
    """KubeVirt without huge pages: no <memoryBacking>, or memfd + shared access (virtiofs, passt)
    with its single memfd cell; the engine's cells replace that cell and the backing stays."""
    base = (
        "<domain type='kvm'><name>v</name><memory unit='KiB'>133120</memory>"
        "<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>"
        "<vcpu placement='static'>4</vcpu>"
        "<cpu mode='host-model'><topology sockets='1' cores='4' threads='1'/>"
        "<numa><cell id='0' cpus='0-3' memory='133120' unit='KiB'/></numa></cpu>"
        "<devices/></domain>"
    )
    case = Case("x", True, "interleave", False, False, TWO_CELLS, "host-cells")
    root = ET.fromstring(merge_into(base, _plan(case)))
    assert [c.get("cpus") for c in root.iterfind("cpu/numa/cell")] == ["0,1", "2,3"]
    assert root.find("memoryBacking/access") is not None
    source = root.find("memoryBacking/source")
    assert source is not None
    assert source.get("type") == "memfd"
    assert root.find("memoryBacking/hugepages") is None


# --- properties ---------------------------------------------------------------------------------


@st.composite
def layouts(draw: st.DrawFn) -> tuple[HostTopology, CpuSet, int, int, str]:
    cells = draw(st.integers(1, 4))
    cores = draw(st.integers(1, 4))
    smt = draw(st.booleans())
    host = smt_host(cells, cores, smt=smt)
    cpus = [cpu.id for cpu in host.cpus]
    chosen = draw(st.lists(st.sampled_from(cpus), min_size=1, unique=True))
    vcpus = draw(st.integers(1, len(chosen)))
    memory = draw(st.integers(vcpus * MI, 8 << 30))
    policy = draw(st.sampled_from(MEMORY_POLICIES))
    return host, CpuSet.of(chosen), vcpus, memory, policy


@settings(max_examples=150, deadline=None)
@given(layouts())
def test_cells_mirror_the_pinned_host_cells(layout: tuple[HostTopology, CpuSet, int, int, str]) -> None:
    host, cpuset, vcpus, memory, policy = layout
    annotations = {GUEST_NUMA_ANNOTATION: "host-cells", MEMORY_POLICY_ANNOTATION: policy}
    spec = vmi(cores=vcpus, memory=str(memory), page=None, passthrough=False, annotations=annotations)
    plan = plan_guest(spec, cpuset, host)
    covered = sorted(v for cell in plan.cells for v in cell.vcpus)
    assert covered == list(range(vcpus))  # every vCPU in exactly one cell
    assert sum(cell.memory_bytes for cell in plan.cells) == memory
    host_of = {pin.vcpu: pin.host_cell for pin in plan.vcpu_pins}
    assert all(host_of[v] == cell.host_cell for cell in plan.cells for v in cell.vcpus)
    pinned_cells = sorted(set(host_of.values()))
    root = ET.fromstring(render_domain(plan))
    memnodes = {int(m.get("cellid", "-1")): m for m in root.iterfind("numatune/memnode")}
    assert sorted(int(m.get("nodeset", "-1")) for m in memnodes.values()) == pinned_cells
    assert {m.get("mode") for m in memnodes.values()} == {policy}
    memory_el = root.find("numatune/memory")
    assert memory_el is not None
    nodes = CpuSet.parse(memory_el.get("nodeset", "")).sorted()
    assert nodes == (pinned_cells[:1] if policy == "preferred" else pinned_cells)
