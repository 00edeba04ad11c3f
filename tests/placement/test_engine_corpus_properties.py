"""Hypothesis properties of the engine on inputs shaped like the KubeVirt conformance corpus's
generator (tests/fixtures/conformance/PROVENANCE.md): capabilities XML with 1-8 cells, SMT on or
off, sibling lists in comma or range form, CPUs listed in odd orders and numbered cell-major or
interleaved; pod cpusets of whole cores or loose CPUs; VMIs with sockets/cores/threads set or
unset, maxSockets, huge pages 2Mi/1Gi or none, passthrough or not, an isolated emulator thread,
realtime, supplemental IOThreads, and a KubeVirt CR's hotplug settings.

What kvnuma asserts on its own, whenever it renders: every enabled vCPU pinned exactly once to a
pod CPU; SMT siblings kept together; no pin outside the cpuset; guest cells cover every vCPU
once and their memory sums to the guest memory. When it refuses, the error is typed.
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kvnuma.errors import KvnumaError
from kvnuma.hotplug import LiveUpdateConfig, apply_defaults
from kvnuma.model import CpuSet, HostTopology
from kvnuma.placement import GuestPlan, plan_guest
from kvnuma.render import render_domain
from kvnuma.topology.capabilities import parse_capabilities
from kvnuma.vmi import VmiSpec

KIB = 1024
MIB = 1 << 20
GIB = 1 << 30


@dataclass(frozen=True)
class Case:
    caps: str
    cpuset: str
    vmi: dict[str, Any]
    kubevirt: dict[str, Any]


@st.composite
def capabilities(draw: st.DrawFn) -> str:
    cells = draw(st.integers(1, 8))
    cores = draw(st.integers(1, 6))
    smt = draw(st.booleans())
    interleaved = draw(st.booleans())  # siblings N and N + all cores, as many Intel hosts number them
    ranges = draw(st.booleans())  # libvirt's range form 0-1 for adjacent siblings
    rng = random.Random(draw(st.integers(0, 2**32)))
    total_cores = cells * cores
    rows: list[list[str]] = []
    for cell in range(cells):
        cpus: list[str] = []
        for core in range(cores):
            global_core = cell * cores + core
            if not smt:
                ids = [global_core]
            elif interleaved:
                ids = [global_core, global_core + total_cores]
            else:
                ids = [2 * global_core, 2 * global_core + 1]
            if len(ids) == 2 and ids[1] == ids[0] + 1 and ranges:
                siblings = f"{ids[0]}-{ids[1]}"
            else:
                siblings = ",".join(map(str, ids))
            cpus.extend(
                f"<cpu id='{i}' socket_id='{cell}' die_id='0' core_id='{global_core}' siblings='{siblings}'/>"
                for i in ids
            )
        rng.shuffle(cpus)  # odd listing orders
        rows.append(cpus)
    parts = ["<capabilities><host><cpu><arch>x86_64</arch></cpu><topology>", f"<cells num='{cells}'>"]
    for cell, cpus in enumerate(rows):
        small = draw(st.integers(0, 4096))
        large = draw(st.integers(0, 4))
        memory_kib = (small * 2 * MIB + large * GIB) // KIB + 4 * GIB // KIB
        parts.append(f"<cell id='{cell}'><memory unit='KiB'>{memory_kib}</memory>")
        parts.append(
            f"<pages unit='KiB' size='2048'>{small}</pages><pages unit='KiB' size='1048576'>{large}</pages>"
        )
        parts.append("<distances>")
        parts.extend(f"<sibling id='{o}' value='{10 if o == cell else 20}'/>" for o in range(cells))
        parts.append(f"</distances><cpus num='{len(cpus)}'>{''.join(cpus)}</cpus></cell>")
    parts.append("</cells></topology></host></capabilities>")
    return "".join(parts)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    caps = draw(capabilities())
    host = parse_capabilities(caps, source="caps")
    ids = sorted(cpu.id for cpu in host.cpus)
    if draw(st.booleans()):  # whole cores, as the kubelet's static policy hands them out
        groups = sorted({cpu.thread_group.format() for cpu in host.cpus})
        chosen = draw(st.lists(st.sampled_from(groups), unique=True, min_size=1, max_size=12))
        cpuset = CpuSet.of(i for g in chosen for i in CpuSet.parse(g))
    else:
        cpuset = CpuSet.of(draw(st.lists(st.sampled_from(ids), unique=True, min_size=1, max_size=24)))
    cpu: dict[str, Any] = {"dedicatedCpuPlacement": True}
    for key, top in (("sockets", 2), ("cores", 6), ("threads", 2)):
        value = draw(st.integers(0, top))
        if value:
            cpu[key] = value
    if draw(st.booleans()):
        cpu["maxSockets"] = draw(st.integers(cpu.get("sockets", 1), 4))
    page = draw(st.sampled_from([None, "2Mi", "1Gi"]))
    passthrough = page is not None and draw(st.booleans())
    if passthrough:
        cpu["numa"] = {"guestMappingPassthrough": {}}
    if draw(st.booleans()):
        cpu["isolateEmulatorThread"] = True
    if passthrough and draw(st.booleans()):
        cpu["realtime"] = {}
    unit = GIB if page == "1Gi" else 2 * MIB
    memory: dict[str, Any] = {"guest": f"{draw(st.integers(1, 12)) * unit // MIB}Mi"}
    if page is not None:
        memory["hugepages"] = {"pageSize": page}
    domain: dict[str, Any] = {"cpu": cpu, "memory": memory}
    if draw(st.booleans()):
        domain["ioThreadsPolicy"] = "supplementalPool"
        domain["ioThreads"] = {"supplementalPoolThreadCount": draw(st.integers(1, 2))}
    vmi = {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"name": "p"},
        "spec": {"domain": domain},
    }
    configuration: dict[str, Any] = {"vmRolloutStrategy": draw(st.sampled_from(["LiveUpdate", "Stage"]))}
    if draw(st.booleans()):
        configuration["liveUpdateConfiguration"] = {"maxHotplugRatio": draw(st.integers(1, 4))}
    kubevirt = {"apiVersion": "kubevirt.io/v1", "kind": "KubeVirt", "spec": {"configuration": configuration}}
    return Case(caps, cpuset.format(), vmi, kubevirt)


def _plan(case: Case) -> tuple[GuestPlan, VmiSpec, HostTopology, CpuSet]:
    host = parse_capabilities(case.caps, source="caps")
    cpuset = CpuSet.parse(case.cpuset)
    try:
        spec = VmiSpec.from_object(apply_defaults(case.vmi, LiveUpdateConfig.from_object(case.kubevirt)))
        plan = plan_guest(spec, cpuset, host, check_hugepages=False)
    except KvnumaError:  # a typed refusal is a fine answer; anything else fails the property
        assume(False)
        raise
    return plan, spec, host, cpuset


@settings(max_examples=150, deadline=None)
@given(cases())
def test_every_vcpu_pinned_once_inside_the_cpuset(case: Case) -> None:
    plan, _, _, cpuset = _plan(case)
    assert [p.vcpu for p in plan.vcpu_pins] == list(range(plan.enabled_vcpus))
    pinned = [p.host_cpu for p in plan.vcpu_pins]
    assert len(set(pinned)) == len(pinned)
    supplemental = [cpu for t in plan.iothreads if t.kind == "supplemental" for cpu in t.host_cpus]
    others = [*plan.emulator_cpus.sorted(), *supplemental]
    shared = [cpu for t in plan.iothreads if t.kind != "supplemental" for cpu in t.host_cpus]
    assert set(pinned) | set(others) | set(shared) <= set(cpuset.sorted())
    assert not set(pinned) & set(others)
    root = ET.fromstring(render_domain(plan))
    assert sorted(int(p.get("vcpu", "-1")) for p in root.iter("vcpupin")) == list(range(plan.enabled_vcpus))


@settings(max_examples=150, deadline=None)
@given(cases())
def test_smt_siblings_stay_together(case: Case) -> None:
    plan, spec, host, cpuset = _plan(case)
    if plan.threads != 2:
        return
    group = {cpu.id: cpu.thread_group for cpu in host.cpus}
    for first, second in zip(plan.vcpu_pins[::2], plan.vcpu_pins[1::2], strict=True):
        core = group[first.host_cpu]
        if len(core) > 1 and core.ids <= cpuset.ids:  # a host core wholly in the pod
            assert second.host_cpu in group[first.host_cpu].sorted()
        if spec.numa_passthrough:  # strict fitting: a guest core never crosses a host cell
            assert first.host_cell == second.host_cell


@settings(max_examples=150, deadline=None)
@given(cases())
def test_cells_cover_every_vcpu_and_the_guest_memory(case: Case) -> None:
    plan, spec, _, _ = _plan(case)
    root = ET.fromstring(render_domain(plan))
    cells = root.findall("cpu/numa/cell")
    if spec.numa_passthrough:
        covered = sorted(v for cell in plan.cells for v in cell.vcpus)
        assert covered == list(range(plan.enabled_vcpus))
        assert sum(cell.memory_bytes for cell in plan.cells) == plan.memory_bytes
        assert all(cell.memory_bytes % (cell.page_size_bytes or 1) == 0 for cell in plan.cells)
        assert all(cell.page_size_bytes for cell in plan.cells)
    elif cells:  # KubeVirt's memfd cell: every vCPU slot, hotplug ones too, all the memory
        assert len(cells) == 1
        assert CpuSet.parse(cells[0].get("cpus", "")).sorted() == list(range(plan.max_vcpus))
    if cells:
        assert sum(int(c.get("memory", "0")) for c in cells) == plan.memory_bytes
