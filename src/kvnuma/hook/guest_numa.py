"""Guest NUMA from the pod's host cells and the memory policy, on the domain KubeVirt generated.

On ``kvnuma.io/guest-numa: host-cells`` a stock KubeVirt domain with dedicated CPUs and no huge
pages gets one guest cell per host node that holds a pinned vCPU (host node order, vCPUs in
order; the node of each ``<vcpupin>`` CPU from the pod's sysfs), the guest memory split as the
engine splits it (``kvnuma.placement.memory.split_default_memory``: KubeVirt's equal shares in
whole MiB, the bytes below 1 MiB to cell 0), and ``<numatune>`` with ``<memory>`` and one
``<memnode>`` per cell; each cell's ``<distances>`` are its host node's (``nodeN/distance``) to
the other cells' nodes, as the engine renders them. KubeVirt's memory backing is kept as it is
(none: anonymous memory; memfd with shared access for virtiofs/passt, whose single spanning cell
is replaced).

``kvnuma.io/memory-policy`` sets the mode of ``<memory>`` and every ``<memnode>``; it also
rewrites KubeVirt's own strict ``<numatune>`` of a guestMappingPassthrough domain. ``preferred``
names only the first cell's node in ``<memory>`` (libvirt before 9.3 refuses more there).

``apply_guest_numa`` edits the element in place and returns one line saying what it did, or
raises ``InputError``/``RuleError`` (the caller then leaves the domain unchanged). Standard
library only, Python 3.9 (the hook bundle carries it).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from kvnuma.cpulist import format_cpulist, parse_cpulist
from kvnuma.errors import InputError, RuleError
from kvnuma.names import GUEST_NUMA_ANNOTATION, MEMORY_POLICY_ANNOTATION, guest_numa_settings

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["apply_guest_numa", "split_default_memory", "wanted"]

MIB = 1 << 20
_UNITS = {
    "b": 1, "bytes": 1, "k": 1024, "kib": 1024, "kb": 1000, "m": MIB, "mib": MIB, "mb": 10**6,
    "g": 1 << 30, "gib": 1 << 30, "gb": 10**9, "t": 1 << 40, "tib": 1 << 40, "tb": 10**12,
}  # fmt: skip
_WHERE = "domain XML"


def wanted(annotations: Mapping[str, str]) -> bool:
    """Whether either annotation is present (then ``apply_guest_numa`` has something to say)."""
    return GUEST_NUMA_ANNOTATION in annotations or MEMORY_POLICY_ANNOTATION in annotations


def split_default_memory(memory: int, vcpus_per_cell: list[int]) -> list[int]:
    """The engine's default-memory split (KubeVirt's formula over whole MiB, the rest to cell 0);
    tests check the two agree."""
    cells = len(vcpus_per_cell)
    rest = memory % MIB
    pages = (memory - rest) // MIB
    if pages < cells:
        raise RuleError(
            "memory-one-page-per-cell",
            needed=f"{cells} x 1 MiB",
            available=f"{pages} MiB",
            detail=f"{cells} guest NUMA cells",
        )
    leftover = pages % cells
    base = (pages - leftover) // cells
    sizes = [(base + (1 if index < leftover else 0)) * MIB for index in range(cells)]
    sizes[0] += rest
    return sizes


def apply_guest_numa(
    root: ET.Element,
    annotations: Mapping[str, str],
    cpu_nodes: Mapping[int, int],
    distances: Mapping[int, Mapping[int, int]] | None = None,
) -> str | None:
    """Edit ``root`` as the annotations ask; one line on what was done (None: not asked).
    ``distances``: host node -> (host node -> distance), ``kvnuma.pci.sysfs.read_node_distances``."""
    guest_numa, policy = guest_numa_settings(annotations)
    if not guest_numa and not policy:
        return None
    numatune = root.find("numatune")
    cells = root.findall("cpu/numa/cell")
    memnodes = [] if numatune is None else numatune.findall("memnode")
    if numatune is not None and memnodes:  # KubeVirt's guestMappingPassthrough
        notes = []
        if guest_numa:
            notes.append("guest NUMA: not needed: the domain already mirrors the host cells")
        if policy:
            _set_policy(numatune, policy)
            notes.append(f"memory policy {policy}: <numatune> memory and {len(memnodes)} memnode(s)")
        return "; ".join(notes)
    if not guest_numa:
        return f"memory policy {policy}: not applied: the domain has no guest NUMA cells"
    if root.find("memoryBacking/hugepages") is not None:
        return (
            "guest NUMA: not applied: the domain has huge pages without guestMappingPassthrough"
            " (set guestMappingPassthrough for per-cell huge pages)"
        )
    if numatune is not None or len(cells) > 1:
        return "guest NUMA: not applied: the domain already has NUMA settings kvnuma did not write"
    pins = _vcpu_pins(root)
    if not pins:
        return "guest NUMA: not applied: the domain has no <vcpupin> (no dedicated CPUs)"
    by_node: dict[int, list[int]] = {}
    for vcpu, cpu in sorted(pins.items()):
        if cpu not in cpu_nodes:
            raise InputError(
                "sysfs devices/system/node", f"CPU {cpu} of vCPU {vcpu}'s <vcpupin> is on no node"
            )
        by_node.setdefault(cpu_nodes[cpu], []).append(vcpu)
    _check_cores(root, pins, cpu_nodes)
    nodes = sorted(by_node)
    sizes = split_default_memory(_memory_bytes(root), [len(by_node[n]) for n in nodes])
    layout = [(guest, node, by_node[node], sizes[guest]) for guest, node in enumerate(nodes)]
    guest_of = {node: guest for guest, node in enumerate(nodes)}
    rows = distances or {}
    siblings = {
        node: [
            (guest_of[other], value)
            for other, value in sorted(rows.get(node, {}).items())
            if other in guest_of
        ]
        for node in nodes
    }
    _write_cells(root, [(guest, vcpus, size, siblings[node]) for guest, node, vcpus, size in layout])
    mode = policy or "strict"
    new = ET.Element("numatune")
    ET.SubElement(new, "memory", mode=mode, nodeset=",".join(map(str, nodes)))
    for guest, node in enumerate(nodes):
        ET.SubElement(new, "memnode", cellid=str(guest), mode=mode, nodeset=str(node))
    _set_policy(new, mode)
    _insert_top(root, new, after=("cputune", "vcpus", "vcpu"))
    shares = " | ".join(
        f"cell {guest}: vCPUs {format_cpulist(vcpus)} on host node {node}, {size // MIB} MiB"
        for guest, node, vcpus, size in layout
    )
    return f"guest NUMA: {len(nodes)} cell(s) from the host cells ({shares}); memory policy {mode}"


def _set_policy(numatune: ET.Element, mode: str) -> None:
    memnodes = numatune.findall("memnode")
    for memnode in memnodes:
        memnode.set("mode", mode)
    memory = numatune.find("memory")
    if memory is None:
        return
    memory.set("mode", mode)
    if mode == "preferred" and memnodes:
        memory.set("nodeset", memnodes[0].get("nodeset", ""))
    elif memnodes:
        nodes: set[int] = set()
        for memnode in memnodes:
            nodes |= parse_cpulist(memnode.get("nodeset", ""), source=f"{_WHERE}: <memnode> nodeset")
        memory.set("nodeset", ",".join(map(str, sorted(nodes))))


def _number(text: str | None, what: str) -> int:
    value = (text or "").strip()
    if not value.isdecimal() or len(value) > 9:
        raise InputError(_WHERE, f"{what} {text!r} is not a number")
    return int(value)


def _vcpu_pins(root: ET.Element) -> dict[int, int]:
    pins = {}
    for pin in root.findall("cputune/vcpupin"):
        vcpu = _number(pin.get("vcpu"), "<vcpupin> vcpu")
        cpus = parse_cpulist(pin.get("cpuset", ""), source=f"{_WHERE}: <vcpupin vcpu='{vcpu}'> cpuset")
        if len(cpus) != 1:
            raise InputError(
                _WHERE, f"<vcpupin vcpu='{vcpu}'> names {len(cpus)} CPUs; dedicated CPUs pin one each"
            )
        pins[vcpu] = next(iter(cpus))
    return pins


def _check_cores(root: ET.Element, pins: Mapping[int, int], cpu_nodes: Mapping[int, int]) -> None:
    """The threads of one guest core must sit in one host node (one guest cell)."""
    topology = root.find("cpu/topology")
    threads = _number(topology.get("threads", "1"), "<topology> threads") if topology is not None else 1
    node_of_core: dict[int, int] = {}
    for vcpu, cpu in sorted(pins.items()):
        core, node = vcpu // max(threads, 1), cpu_nodes[cpu]
        if node_of_core.setdefault(core, node) != node:
            raise RuleError(
                "cores-within-host-cells",
                needed=f"the {threads} threads of guest core {core} on one host node",
                available=f"host nodes {node_of_core[core]} and {node}",
                detail=f"vCPU {vcpu} on CPU {cpu}",
            )


def _memory_bytes(root: ET.Element) -> int:
    memory = root.find("memory")
    if memory is None:
        raise InputError(_WHERE, "no <memory>")
    unit = memory.get("unit", "KiB").lower()
    if unit not in _UNITS:
        raise InputError(_WHERE, f"<memory unit={memory.get('unit')!r}> is not a unit libvirt knows")
    value = (memory.text or "").strip()
    if not value.isdecimal() or len(value) > 20:
        raise InputError(_WHERE, f"<memory> {value[:30]!r} is not a number")
    return int(value) * _UNITS[unit]


def _write_cells(root: ET.Element, cells: list[tuple[int, list[int], int, list[tuple[int, int]]]]) -> None:
    cpu = root.find("cpu")
    if cpu is None:
        cpu = ET.Element("cpu")
        _insert_top(root, cpu, after=("features", "os"))
    old = cpu.find("numa")
    numa = ET.Element("numa")
    for guest, vcpus, size, siblings in cells:
        cell = ET.SubElement(
            numa, "cell", id=str(guest), cpus=",".join(map(str, vcpus)), memory=str(size), unit="b"
        )
        if siblings:
            element = ET.SubElement(cell, "distances")
            for other, value in siblings:
                ET.SubElement(element, "sibling", id=str(other), value=str(value))
    if old is not None:
        position = list(cpu).index(old)
        numa.tail = old.tail
        cpu.remove(old)
        _indent(numa, cpu, _depth_unit(root), 2)
        cpu.insert(position, numa)
    else:
        _append(cpu, numa, _depth_unit(root), 2)


def _depth_unit(root: ET.Element) -> str | None:
    text = root.text or ""
    return text[text.rindex("\n") + 1 :] if "\n" in text and not text.strip() else None


def _indent(element: ET.Element, parent: ET.Element, unit: str | None, depth: int) -> None:
    if unit is not None and len(element):
        ET.indent(element, space=unit, level=depth)


def _append(parent: ET.Element, child: ET.Element, unit: str | None, depth: int) -> None:
    _indent(child, parent, unit, depth)
    if unit is not None:
        if len(parent):
            last = parent[-1]
            child.tail = last.tail
            last.tail = "\n" + unit * depth
        else:
            parent.text = "\n" + unit * depth
            child.tail = "\n" + unit * (depth - 1)
    parent.append(child)


def _insert_top(root: ET.Element, element: ET.Element, *, after: tuple[str, ...]) -> None:
    """Put ``element`` under the root after the first of ``after`` present (else first)."""
    unit = _depth_unit(root)
    _indent(element, root, unit, 1)
    kids = list(root)
    anchor = next((root.find(tag) for tag in after if root.find(tag) is not None), None)
    position = kids.index(anchor) + 1 if anchor is not None else 0
    if unit is not None:
        if position == 0:
            element.tail = root.text
            root.text = "\n" + unit
        else:
            before = kids[position - 1]
            element.tail = before.tail
            before.tail = "\n" + unit
    root.insert(position, element)
