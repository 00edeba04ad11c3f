"""The libvirt elements the engine owns, built from a GuestPlan (no decisions here).

Shapes follow KubeVirt's converter: single-CPU ``vcpupin``s, guest cell ``cpus`` as a comma
list without ranges, memory in bytes (``unit='b'``), hugepage ``nodeset`` = the guest cell,
``memnode`` to the host node in the plan's memory policy (KubeVirt's strict unless
``kvnuma.io/memory-policy`` says otherwise). ``<vcpusched>`` is rendered for realtime vCPUs
(SCHED_FIFO priority 1) although KubeVirt now sets the scheduler from virt-handler instead.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from kvnuma.model import CpuSet
from kvnuma.placement import GuestPlan

__all__ = [
    "cpu_children",
    "cputune_children",
    "iothreads",
    "max_memory",
    "memory",
    "memory_backing_children",
    "numatune",
    "vcpu",
    "vcpus",
]


def _el(tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.Element(tag, attrs)
    element.text = text
    return element


def memory(plan: GuestPlan, tag: str = "memory") -> ET.Element:
    return _el(tag, str(plan.memory_bytes), unit="b")


def max_memory(plan: GuestPlan) -> ET.Element | None:
    if plan.max_memory_bytes is None:
        return None
    return _el("maxMemory", str(plan.max_memory_bytes), unit="b", slots="0")


def vcpu(plan: GuestPlan) -> ET.Element:
    return _el("vcpu", str(plan.max_vcpus), placement="static")


def vcpus(plan: GuestPlan) -> ET.Element | None:
    if not plan.hotplug:
        return None
    parent = _el("vcpus")
    for entry in plan.hotplug:
        parent.append(
            _el(
                "vcpu",
                id=str(entry.id),
                enabled="yes" if entry.enabled else "no",
                hotpluggable="yes" if entry.hotpluggable else "no",
            )
        )
    return parent


def iothreads(plan: GuestPlan) -> ET.Element | None:
    return _el("iothreads", str(plan.iothread_count)) if plan.iothread_count else None


def cputune_children(plan: GuestPlan) -> list[ET.Element]:
    children = [_el("vcpupin", vcpu=str(p.vcpu), cpuset=str(p.host_cpu)) for p in plan.vcpu_pins]
    if plan.emulator_cpus:
        children.append(_el("emulatorpin", cpuset=plan.emulator_cpus.format(ranges=False)))
    children.extend(
        _el("iothreadpin", iothread=str(i), cpuset=cpus.format(ranges=False))
        for i, cpus in plan.iothread_pins
    )
    if plan.realtime_vcpus and plan.vcpusched:
        children.append(
            _el("vcpusched", vcpus=CpuSet.of(plan.realtime_vcpus).format(), scheduler="fifo", priority="1")
        )
    return children


def cpu_children(plan: GuestPlan) -> list[ET.Element]:
    children = [_el("topology", sockets=str(plan.sockets), cores=str(plan.cores), threads=str(plan.threads))]
    if plan.spanning_cell:
        numa = _el("numa")
        numa.append(
            _el("cell", id="0", cpus=f"0-{plan.max_vcpus - 1}", memory=str(plan.memory_bytes), unit="b")
        )
        children.append(numa)
    elif plan.cells:
        numa = _el("numa")
        for cell in plan.cells:
            element = _el(
                "cell",
                id=str(cell.id),
                cpus=",".join(str(v) for v in cell.vcpus),
                memory=str(cell.memory_bytes),
                unit="b",
            )
            if cell.distances:
                distances = _el("distances")
                for guest, value in cell.distances:
                    distances.append(_el("sibling", id=str(guest), value=str(value)))
                element.append(distances)
            numa.append(element)
        children.append(numa)
    return children


def numatune(plan: GuestPlan) -> ET.Element | None:
    if not plan.cells:
        return None
    parent = _el("numatune")
    mode = plan.memory_policy
    parent.append(_el("memory", mode=mode, nodeset=",".join(str(n) for n in plan.memory_nodeset)))
    for cell in plan.cells:
        parent.append(_el("memnode", cellid=str(cell.id), mode=mode, nodeset=str(cell.host_cell)))
    return parent


def memory_backing_children(plan: GuestPlan) -> list[ET.Element]:
    if plan.page_size_bytes is None:
        return []
    pages = _el("hugepages")
    # Without guest cells KubeVirt names no page size: the pod's hugetlbfs mount decides it.
    for cell in plan.cells:
        pages.append(_el("page", size=str(cell.page_size_bytes), unit="b", nodeset=str(cell.id)))
    children = [pages]
    if plan.realtime:
        children.append(_el("nosharepages"))
    if plan.memfd:
        children.append(_el("source", type="memfd"))
    if plan.cells:
        children.append(_el("allocation", mode="immediate"))
    return children
