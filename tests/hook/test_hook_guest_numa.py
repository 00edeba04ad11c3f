"""The hook's guest NUMA and memory policy step on stock KubeVirt domains: what it writes, what it
leaves alone and says why, and that it writes what the engine plans for the same VM."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kvnuma.errors import RuleError
from kvnuma.hook.guest_numa import apply_guest_numa
from kvnuma.hook.main import on_define_domain
from kvnuma.model import CpuSet, HostTopology
from kvnuma.names import GUEST_NUMA_ANNOTATION, MEMORY_POLICIES, MEMORY_POLICY_ANNOTATION
from kvnuma.placement import plan_guest
from kvnuma.placement.memory import split_default_memory
from kvnuma.render import merge_into, render_domain
from kvnuma.xmldoc import parse_document, to_text
from pci.pci_sysfs_tree import build_sysfs
from placement.engine_inputs import HOST_4, MI, SLIT_4, smt_host, vmi, with_distances
from support.libvirt import validate_domain

BASE = (Path(__file__).resolve().parents[1] / "render" / "kubevirt_base_domain.xml").read_text()
NODES = {0: "0-1", 1: "2-3", 2: "4-5", 3: "6-7"}  # HOST_4's cells as the pod's sysfs shows them
BUNDLE = Path(__file__).resolve().parents[2] / "deploy" / "hook" / "onDefineDomain"
HOST_NUMA = {GUEST_NUMA_ANNOTATION: "host-cells"}


def vmi_json(annotations: dict[str, str]) -> str:
    return json.dumps({"kind": "VirtualMachineInstance", "metadata": {"annotations": annotations}})


def stock(*, hugepages: bool = False, passthrough: bool = False, cpuset: str = "2,3,4,5") -> str:
    """The domain KubeVirt generates for a dedicated-CPU VM (the engine without kvnuma's annotations)."""
    spec = vmi(
        cores=3, memory="130Mi", page="2Mi" if hugepages else None, passthrough=passthrough, emulator=True
    )
    plan = plan_guest(spec, CpuSet.parse(cpuset), HOST_4, check_hugepages=False)
    xml = merge_into(BASE, plan)
    if not hugepages:  # KubeVirt renders no <memoryBacking> without huge pages, virtiofs or passt
        root = parse_document(xml, source="base", root="domain").root
        backing = root.find("memoryBacking")
        if backing is not None:
            root.remove(backing)
        xml = ET.tostring(root, encoding="unicode")
    return xml


def virtiofs_stock() -> str:
    """KubeVirt with virtiofs (or passt): memfd + shared access and one spanning memfd cell."""
    xml = stock().replace(
        "<vcpu ", "<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking><vcpu ", 1
    )
    topology = '<topology sockets="1" cores="3" threads="1" />'
    cell = '<numa><cell id="0" cpus="0-2" memory="133120" unit="KiB"/></numa>'
    return xml.replace(topology, topology + cell)


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    return build_sysfs(tmp_path / "sys", [], NODES)


def cells_of(xml: str) -> list[tuple[str | None, str | None, str | None]]:
    root = ET.fromstring(xml)
    return [(c.get("id"), c.get("cpus"), c.get("memory")) for c in root.iterfind("cpu/numa/cell")]


def siblings_of(root: ET.Element) -> list[list[tuple[str | None, str | None]]]:
    return [
        [(s.get("id"), s.get("value")) for s in c.iterfind("distances/sibling")]
        for c in root.iterfind("cpu/numa/cell")
    ]


def numatune_of(xml: str) -> list[tuple[str, str | None, str | None]]:
    root = ET.fromstring(xml)
    return [(e.tag, e.get("mode"), e.get("nodeset")) for e in root.iterfind("numatune/*")]


@pytest.mark.parametrize("policy", ["", *MEMORY_POLICIES])
def test_host_cells_on_a_stock_domain(sysfs: Path, policy: str) -> None:
    annotations = {**HOST_NUMA, **({MEMORY_POLICY_ANNOTATION: policy} if policy else {})}
    outcome = on_define_domain(vmi_json(annotations), stock(), sysfs_root=str(sysfs))
    mode = policy or "strict"
    assert outcome.exit_code == 0
    assert cells_of(outcome.stdout) == [("0", "0,1", str(65 * MI)), ("1", "2", str(65 * MI))]
    assert numatune_of(outcome.stdout) == [
        ("memory", mode, "1" if mode == "preferred" else "1,2"),
        ("memnode", mode, "1"),
        ("memnode", mode, "2"),
    ]
    assert ET.fromstring(outcome.stdout).find("memoryBacking") is None  # anonymous memory, as KubeVirt's
    numa_lines = [line for line in outcome.stderr if line.startswith("kvnuma hook: guest NUMA:")]
    assert numa_lines == [
        "kvnuma hook: guest NUMA: 2 cell(s) from the host cells (cell 0: vCPUs 0-1 on host node 1, 65 MiB"
        f" | cell 1: vCPUs 2 on host node 2, 65 MiB); memory policy {mode}"
    ]
    validate_domain(outcome.stdout)


def test_virtiofs_memfd_cell_is_replaced_and_the_backing_kept(sysfs: Path) -> None:
    outcome = on_define_domain(vmi_json(HOST_NUMA), virtiofs_stock(), sysfs_root=str(sysfs))
    root = ET.fromstring(outcome.stdout)
    assert [c.get("cpus") for c in root.iterfind("cpu/numa/cell")] == ["0,1", "2"]
    assert root.find("memoryBacking/source[@type='memfd']") is not None
    assert root.find("memoryBacking/access[@mode='shared']") is not None
    validate_domain(outcome.stdout)


@pytest.mark.parametrize("policy", MEMORY_POLICIES)
def test_policy_rewrites_kubevirt_passthrough_numatune(sysfs: Path, policy: str) -> None:
    domain = stock(hugepages=True, passthrough=True)
    assert {mode for _, mode, _ in numatune_of(domain)} == {"strict"}  # KubeVirt hard-codes strict
    outcome = on_define_domain(vmi_json({MEMORY_POLICY_ANNOTATION: policy}), domain, sysfs_root=str(sysfs))
    assert numatune_of(outcome.stdout) == [
        ("memory", policy, "1" if policy == "preferred" else "1,2"),
        ("memnode", policy, "1"),
        ("memnode", policy, "2"),
    ]
    assert cells_of(outcome.stdout) == cells_of(domain)
    assert f"kvnuma hook: memory policy {policy}: <numatune> memory and 2 memnode(s)" in outcome.stderr
    validate_domain(outcome.stdout)


@pytest.mark.parametrize(
    ("annotations", "domain", "line"),
    [
        pytest.param(
            {MEMORY_POLICY_ANNOTATION: "interleave"}, "plain", "memory policy interleave: not applied: "
            "the domain has no guest NUMA cells", id="policy-without-cells",
        ),
        pytest.param(
            HOST_NUMA, "hugepages", "guest NUMA: not applied: the domain has huge pages without "
            "guestMappingPassthrough (set guestMappingPassthrough for per-cell huge pages)", id="hugepages",
        ),
        pytest.param(
            HOST_NUMA, "passthrough", "guest NUMA: not needed: the domain already mirrors the host cells",
            id="passthrough",
        ),
        pytest.param(
            HOST_NUMA, "unpinned", "guest NUMA: not applied: the domain has no <vcpupin> (no dedicated CPUs)",
            id="not-dedicated",
        ),
    ],
)  # fmt: skip
def test_not_applied_says_why(sysfs: Path, annotations: dict[str, str], domain: str, line: str) -> None:
    xml = {
        "plain": stock(),
        "hugepages": stock(hugepages=True),
        "passthrough": stock(hugepages=True, passthrough=True),
        "unpinned": stock().replace("<vcpupin ", "<vcpupinX ").replace("vcpupinX", "ignored"),
    }[domain]
    outcome = on_define_domain(vmi_json(annotations), xml, sysfs_root=str(sysfs))
    assert outcome.exit_code == 0
    assert f"kvnuma hook: {line}" in outcome.stderr
    assert numatune_of(outcome.stdout) == numatune_of(xml)
    assert cells_of(outcome.stdout) == cells_of(xml)


@pytest.mark.parametrize(
    ("annotations", "problem"),
    [
        pytest.param({GUEST_NUMA_ANNOTATION: "on"}, "'on' is not one of host-cells, off", id="guest-numa-on"),
        pytest.param({MEMORY_POLICY_ANNOTATION: "bind"}, "'bind' is not one of strict", id="policy-bind"),
        pytest.param({**HOST_NUMA, MEMORY_POLICY_ANNOTATION: "x" * 10_000}, "...' is not one of", id="huge"),
    ],
)
def test_a_bad_value_leaves_the_domain_unchanged(
    sysfs: Path, annotations: dict[str, str], problem: str
) -> None:
    domain = stock()
    outcome = on_define_domain(vmi_json(annotations), domain, sysfs_root=str(sysfs))
    assert outcome.exit_code == 0
    assert outcome.stdout == domain
    assert len(outcome.stderr) == 1
    assert problem in outcome.stderr[0]
    assert outcome.stderr[0].endswith("domain left unchanged")
    assert len(outcome.stderr[0]) < 240


def test_a_pinned_cpu_on_no_node_leaves_the_domain_unchanged(tmp_path: Path) -> None:
    sysfs = build_sysfs(tmp_path / "sys", [], {0: "0-1"})
    domain = stock()
    outcome = on_define_domain(vmi_json(HOST_NUMA), domain, sysfs_root=str(sysfs))
    assert outcome.stdout == domain
    assert outcome.stderr == [
        "kvnuma hook: error: sysfs devices/system/node: CPU 2 of vCPU 0's <vcpupin> is on no node;"
        " domain left unchanged"
    ]


def test_no_annotation_is_the_pci_path_alone(sysfs: Path) -> None:
    domain = stock()
    outcome = on_define_domain(vmi_json({}), domain, sysfs_root=str(sysfs))
    assert outcome.stderr == ["kvnuma hook: nothing to do: the domain has no guest NUMA cells"]
    assert cells_of(outcome.stdout) == []
    assert numatune_of(outcome.stdout) == []


def test_the_bundle_applies_it(sysfs: Path) -> None:
    done = subprocess.run(
        ["/usr/bin/python3", "-IS", str(BUNDLE), "--vmi", vmi_json(HOST_NUMA), "--domain", stock()],
        capture_output=True,
        text=True,
        env={**os.environ, "KVNUMA_SYSFS_ROOT": str(sysfs)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert cells_of(done.stdout) == [("0", "0,1", str(65 * MI)), ("1", "2", str(65 * MI))]
    assert "guest NUMA: 2 cell(s)" in done.stderr


# --- the hook writes what the engine plans ---------------------------------------------------------


@st.composite
def layouts(draw: st.DrawFn) -> tuple[HostTopology, CpuSet, int, int, int, str]:
    cells = draw(st.integers(1, 4))
    cores = draw(st.integers(1, 3))
    smt = draw(st.booleans())
    table = {i: tuple((j, 10 if i == j else 20 + abs(i - j)) for j in range(cells)) for i in range(cells)}
    host = with_distances(smt_host(cells, cores, smt=smt), table)
    cpus = [cpu.id for cpu in host.cpus]
    chosen = draw(st.lists(st.sampled_from(cpus), min_size=1, unique=True))
    threads = 2 if smt and draw(st.booleans()) else 1
    most = max(1, len(chosen) // threads)
    guest_cores = draw(st.just(most) | st.integers(1, most))  # many cores: many cells
    memory = draw(st.integers(len(chosen) * MI, 4 << 30))
    policy = draw(st.sampled_from(["", *MEMORY_POLICIES]))
    return host, CpuSet.of(chosen), guest_cores, threads, memory, policy


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(layouts())
def test_the_hook_writes_the_engines_cells(layout: tuple[HostTopology, CpuSet, int, int, int, str]) -> None:
    host, cpuset, cores, threads, memory, policy = layout
    annotations = {**HOST_NUMA, **({MEMORY_POLICY_ANNOTATION: policy} if policy else {})}
    common = {"cores": cores, "threads": threads, "memory": str(memory), "page": None, "passthrough": False}
    try:
        planned = plan_guest(vmi(**common, annotations=annotations), cpuset, host)  # type: ignore[arg-type]
    except RuleError:  # the engine refuses the layout (too few CPUs, a core across cells)
        event("refused by the engine")
        return
    event(f"{len(planned.cells)} cell(s)")
    stock_plan = plan_guest(vmi(**common), cpuset, host)  # type: ignore[arg-type]
    assert stock_plan.vcpu_pins == planned.vcpu_pins  # kvnuma's pins are KubeVirt's
    root = parse_document(render_domain(stock_plan), source="stock", root="domain").root
    distances = {cell.id: dict(cell.distances) for cell in host.cells}
    line = apply_guest_numa(root, annotations, host.cell_of_cpu(), distances)
    assert line is not None
    assert line.startswith("guest NUMA:")
    engine = ET.fromstring(render_domain(planned))
    hooked = ET.fromstring(to_text(parse_document(ET.tostring(root), source="x")))
    as_cells = [(c.get("id"), c.get("cpus"), c.get("memory")) for c in engine.iterfind("cpu/numa/cell")]
    assert cells_of(ET.tostring(hooked, encoding="unicode")) == as_cells
    assert numatune_of(ET.tostring(hooked, encoding="unicode")) == numatune_of(
        ET.tostring(engine, encoding="unicode")
    )
    assert siblings_of(hooked) == siblings_of(engine)


@pytest.mark.parametrize(
    ("memory", "counts"), [(130 * MI, [2, 1]), (10**9, [1, 2, 3]), (3 * MI + 7, [1, 1, 1]), (64 * MI, [5])]
)
def test_the_hook_splits_memory_as_the_engine(memory: int, counts: list[int]) -> None:
    from kvnuma.hook.guest_numa import split_default_memory as hook_split

    assert tuple(hook_split(memory, counts)) == split_default_memory(memory, counts)


def write_distances(sysfs: Path, rows: dict[int, str]) -> None:
    for node, row in rows.items():
        (sysfs / "devices" / "system" / "node" / f"node{node}" / "distance").write_text(row + "\n")


def test_distances_from_the_pods_sysfs(sysfs: Path) -> None:
    write_distances(sysfs, {n: " ".join(str(v) for _, v in SLIT_4[n]) for n in range(4)})
    outcome = on_define_domain(vmi_json(HOST_NUMA), stock(), sysfs_root=str(sysfs))
    root = ET.fromstring(outcome.stdout)
    # host nodes 1 and 2 become guest cells 0 and 1: SLIT_4 says 10 local, 22 across
    assert siblings_of(root) == [[("0", "10"), ("1", "22")], [("0", "22"), ("1", "10")]]
    engine = plan_guest(
        vmi(cores=3, memory="130Mi", page=None, passthrough=False, emulator=True, annotations=HOST_NUMA),
        CpuSet.parse("2,3,4,5"),
        HOST_4,
    )
    assert siblings_of(ET.fromstring(render_domain(engine))) == siblings_of(root)
    validate_domain(outcome.stdout)


def test_a_bad_distance_file_gives_cells_without_distances(sysfs: Path) -> None:
    """As the PCI step reads them (``read_node_distances``): never a half matrix."""
    write_distances(sysfs, {0: "10 20 20", 1: "20 10 20 20"})
    outcome = on_define_domain(vmi_json(HOST_NUMA), stock(), sysfs_root=str(sysfs))
    root = ET.fromstring(outcome.stdout)
    assert [c.get("cpus") for c in root.iterfind("cpu/numa/cell")] == ["0,1", "2"]
    assert root.find("cpu/numa/cell/distances") is None
