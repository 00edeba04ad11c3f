"""Guest NUMA without huge pages boots: a real guest (busybox, TCG) reports the planned nodes.

Two shapes, each one boot: the engine's rendering (``kvnuma render`` of a VMI annotated
``kvnuma.io/guest-numa: host-cells``) and the bundled hook applied to the stock domain KubeVirt
would generate for the same VMI (the fake pod sysfs shows the synthetic host's nodes), each with a
memory policy. The guest must see exactly the planned nodes, vCPUs and about the planned memory;
QEMU must get one RAM backend per cell (anonymous memory: ``memory-backend-ram``) with the policy.
Host node ids are folded onto this one-node machine, as in ``test_engine_boot``.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from kvnuma.model import CpuSet
from kvnuma.names import GUEST_NUMA_ANNOTATION, MEMORY_POLICY_ANNOTATION
from kvnuma.placement import GuestPlan, plan_guest
from kvnuma.render import render_domain
from pci.pci_sysfs_tree import build_sysfs
from placement.engine_inputs import vmi
from support.guest import boot_and_report, make_bootable, project_onto_this_host, this_host_cpus
from support.hostbuilder import synthetic_host
from support.libvirt import Libvirtd, validate_domain

MiB = 1 << 20
BUNDLE = Path(__file__).resolve().parents[2] / "deploy" / "hook" / "onDefineDomain"
FLAT_3x2 = synthetic_host(cells=3, sockets=3, cores_per_cell=2, threads=1, memory_per_cell=4 << 30)
QEMU_POLICY = {"strict": "bind", "preferred": "preferred", "interleave": "interleave", "restrictive": None}
"""restrictive: no QEMU policy; libvirt restricts the nodes with the cpuset cgroup only."""


@dataclass(frozen=True)
class Shape:
    name: str
    cores: int
    cpuset: str
    policy: str
    through_hook: bool


SHAPES = [
    Shape("engine-two-cells-interleave", 3, "0,1,2", "interleave", through_hook=False),
    Shape("hook-three-cells-preferred", 3, "0,2,4", "preferred", through_hook=True),
    Shape("hook-two-cells-restrictive", 2, "0,2", "restrictive", through_hook=True),
]


def shape_annotations(shape: Shape) -> dict[str, str]:
    return {GUEST_NUMA_ANNOTATION: "host-cells", MEMORY_POLICY_ANNOTATION: shape.policy}


def plan_of(shape: Shape, *, annotated: bool = True) -> GuestPlan:
    spec = vmi(
        cores=shape.cores,
        memory="256Mi",
        page=None,
        passthrough=False,
        annotations=shape_annotations(shape) if annotated else None,
    )
    return plan_guest(spec, CpuSet.parse(shape.cpuset), FLAT_3x2)


def through_the_hook(shape: Shape, sysfs: Path) -> str:
    stock = render_domain(plan_of(shape, annotated=False))  # KubeVirt's domain: pins, no cells
    assert "<numa>" not in stock
    vmi_json = json.dumps(
        {"kind": "VirtualMachineInstance", "metadata": {"annotations": shape_annotations(shape)}}
    )
    done = subprocess.run(
        ["/usr/bin/python3", "-IS", str(BUNDLE), "--vmi", vmi_json, "--domain", stock],
        capture_output=True,
        text=True,
        env={**os.environ, "KVNUMA_SYSFS_ROOT": str(sysfs)},
        timeout=60,
        check=True,
    )
    print(f"\nE2E {shape.name}: hook stderr: {done.stderr.strip()}")
    assert "guest NUMA:" in done.stderr
    return done.stdout


def test_shapes_cover_the_issue() -> None:
    plans = [plan_of(shape) for shape in SHAPES]
    assert [len(p.cells) for p in plans] == [2, 3, 2]
    assert all(p.page_size_bytes is None and p.cells_from == "host-cells" for p in plans)
    assert {shape.through_hook for shape in SHAPES} == {True, False}


@pytest.mark.boot
@pytest.mark.parametrize("shape", [pytest.param(s, id=s.name) for s in SHAPES])
def test_guest_reports_the_host_cells(libvirtd: Libvirtd, shape: Shape, tmp_path: Path) -> None:
    plan = plan_of(shape)
    if shape.through_hook:
        cpus_of_cell = {cell.id: CpuSet.of(cpu.id for cpu in cell.cpus).format() for cell in FLAT_3x2.cells}
        domain = through_the_hook(shape, build_sysfs(tmp_path / "sys", [], cpus_of_cell))
    else:
        domain = render_domain(plan)
    validate_domain(domain)
    projected, mapping = project_onto_this_host(domain, this_host_cpus())
    report = boot_and_report(libvirtd, make_bootable(projected, f"memnuma-{shape.name}"))
    seen = {node: (cpus.format(), kib // 1024) for node, (cpus, kib) in sorted(report.nodes.items())}
    planned = [(c.id, c.vcpus, c.memory_bytes // MiB) for c in plan.cells]
    backends = [arg for arg in report.qemu_args if '"memory-backend' in arg]
    print(
        f"\nE2E {shape.name}: boot {report.boot_seconds:.1f} s; nproc {report.nproc}; guest nodes "
        f"(cpus, MemTotal MiB) {seen}; planned (cell, vcpus, MiB) {planned}; backends {backends}"
    )
    assert report.nproc == plan.enabled_vcpus
    assert sorted(report.nodes) == [cell.id for cell in plan.cells]
    for cell in plan.cells:
        cpus, memtotal_kib = report.nodes[cell.id]
        assert cpus == CpuSet.of(cell.vcpus)
        planned_kib = cell.memory_bytes // 1024
        assert planned_kib * 0.4 <= memtotal_kib <= planned_kib, (cell.id, memtotal_kib, planned_kib)
    parsed = [json.loads(arg) for arg in backends]
    assert [b["qom-type"] for b in parsed] == ["memory-backend-ram"] * len(plan.cells)
    assert [b["size"] for b in parsed] == [cell.memory_bytes for cell in plan.cells]
    assert {b.get("policy") for b in parsed} == {QEMU_POLICY[shape.policy]}
    expected = {pin.vcpu: CpuSet.of([mapping[pin.host_cpu]]) for pin in plan.vcpu_pins}
    assert {v: report.vcpu_pins[v] for v in expected} == expected
