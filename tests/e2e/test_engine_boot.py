"""The engine's domains boot: render for synthetic multi-cell hosts, fold onto this machine, boot
a busybox guest under TCG, and check what the guest and the host report against the plan.

Each shape is one boot (~15 s here); four in all. The guest must see exactly the planned NUMA
nodes with the planned vCPUs and about the planned memory (the kernel keeps some for itself, more
on node 0); from the host, every vCPU thread's affinity (``virsh vcpuinfo``) and the emulator's
must be the planned pins after folding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from kvnuma.model import CpuSet, HostTopology
from kvnuma.placement import GuestPlan, plan_guest
from kvnuma.render import render_domain
from kvnuma.vmi import VmiSpec
from placement.engine_inputs import vmi
from support.guest import boot_and_report, make_bootable, project_onto_this_host, this_host_cpus
from support.hostbuilder import synthetic_host
from support.libvirt import Libvirtd, validate_domain

MiB = 1 << 20


@dataclass(frozen=True)
class Shape:
    name: str
    spec: VmiSpec
    cpuset: str
    host: HostTopology
    memory_split: str = "kubevirt"


# synthetic_host numbering: first threads of all cores, then the second threads (siblings c, c+N)
SMT_2x2 = synthetic_host(cells=2, sockets=2, cores_per_cell=2, threads=2, memory_per_cell=4 << 30)
FLAT_3x2 = synthetic_host(cells=3, sockets=3, cores_per_cell=2, threads=1, memory_per_cell=4 << 30)
SHAPES = [
    # 2 guest cells, each one whole SMT core: vCPUs (0,1) on siblings 1/5, (2,3) on 2/6
    Shape("smt-two-cells", vmi(cores=2, threads=2, memory="256Mi"), "1,2,5,6", SMT_2x2),
    # uneven cpuset: 2 CPUs in cell 0, 2 in cell 1 -> 3 vCPUs (2 + 1) and the emulator on the last
    Shape("uneven-emulator", vmi(cores=3, memory="258Mi", emulator=True), "0,1,2,3", FLAT_3x2),
    # realtime vCPUs 0,2,3 of 4 spread over 3 cells, proportional split
    Shape(
        "realtime-three-cells",
        vmi(cores=4, memory="384Mi", realtime_mask="0-3,^1"),
        "0,1,2,4",
        FLAT_3x2,
        "proportional",
    ),
    # hotplug: 2 sockets enabled of 3, 2 cells, isolated emulator
    Shape(
        "hotplug-emulator",
        vmi(sockets=2, cores=1, max_sockets=3, memory="256Mi", emulator=True),
        "0,2,3",
        FLAT_3x2,
    ),
]


def plan_of(shape: Shape) -> GuestPlan:
    return plan_guest(shape.spec, CpuSet.parse(shape.cpuset), shape.host, memory_split=shape.memory_split)  # type: ignore[arg-type]


def test_shapes_cover_the_issue() -> None:
    plans = {shape.name: plan_of(shape) for shape in SHAPES}
    assert all(len(p.cells) >= 2 for p in plans.values())
    assert plans["smt-two-cells"].threads == 2
    assert [len(c.vcpus) for c in plans["uneven-emulator"].cells] == [2, 1]
    assert plans["uneven-emulator"].emulator_cpus
    assert plans["realtime-three-cells"].realtime_vcpus == (0, 2, 3)
    assert all(p.page_size_bytes == 2 * MiB for p in plans.values())
    assert len(SHAPES) <= 5


@pytest.mark.boot
@pytest.mark.parametrize("shape", [pytest.param(s, id=s.name) for s in SHAPES])
def test_guest_sees_the_planned_layout(libvirtd: Libvirtd, shape: Shape) -> None:
    plan = plan_of(shape)
    rendered = render_domain(plan)
    validate_domain(rendered)
    host_cpus = this_host_cpus()
    projected, mapping = project_onto_this_host(rendered, host_cpus)
    try:
        report = boot_and_report(libvirtd, make_bootable(projected, f"engine-{shape.name}"))
    except AssertionError as error:
        # SCHED_FIFO needs a realtime-capable host (KubeVirt only schedules realtime VMIs on nodes
        # labelled kubevirt.io/realtime); libvirt cannot set it for QEMU's threads in this
        # container's cgroup. The rest of the realtime shape (pmu off, nosharepages) still boots.
        if not plan.realtime_vcpus or "Cannot set scheduler parameters" not in str(error):
            raise
        print(
            f"\nE2E {shape.name}: this host refuses SCHED_FIFO for QEMU threads; booting without <vcpusched>"
        )
        without_fifo = re.sub(r"<vcpusched [^>]*/>", "", projected)
        report = boot_and_report(libvirtd, make_bootable(without_fifo, f"engine-{shape.name}"))
    seen = {node: (cpus.format(), kib // 1024) for node, (cpus, kib) in sorted(report.nodes.items())}
    planned = [(c.id, c.vcpus, c.memory_bytes // MiB) for c in plan.cells]
    print(
        f"\nE2E {shape.name}: boot {report.boot_seconds:.1f} s (attempts {report.attempts}); "
        f"nproc {report.nproc}; guest nodes (cpus, MemTotal MiB) {seen}; planned (cell, vcpus, MiB) {planned}"
    )

    assert report.nproc == plan.enabled_vcpus
    assert sorted(report.nodes) == [cell.id for cell in plan.cells]
    for cell in plan.cells:
        cpus, memtotal_kib = report.nodes[cell.id]
        assert cpus == CpuSet.of(cell.vcpus)
        planned_kib = cell.memory_bytes // 1024
        assert planned_kib * 0.5 <= memtotal_kib <= planned_kib, (cell.id, memtotal_kib, planned_kib)

    expected = {pin.vcpu: CpuSet.of([mapping[pin.host_cpu]]) for pin in plan.vcpu_pins}
    assert {v: report.vcpu_affinity[v] for v in expected} == expected
    assert {v: report.vcpu_pins[v] for v in expected} == expected
    if plan.emulator_cpus:
        assert report.emulator_affinity == CpuSet.of(mapping[c] for c in plan.emulator_cpus)
