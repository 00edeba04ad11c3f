"""IOThreads on the right cell, on the domain KubeVirt generated (``kvnuma.io/iothread-placement``).

With ``cell`` every ``<iothreadpin>`` of ``<cputune>`` is rewritten so that each IOThread (1 ..
``<iothreads>``) runs inside one host node, as the engine decides it
(``kvnuma.placement.iothreads.cell_pins``; the two are checked to agree by the tests):

* the node: the guest cell its disks' controller sits on (every disk whose ``<driver iothread>``
  or ``<driver><iothreads><iothread id>`` names the thread, its PCI ``bus`` walked up the
  ``<controller>`` chain to a ``pcie-expander-bus`` with ``<target><node>``, that guest cell's
  ``<memnode>`` nodeset), else the emulator thread's node (``<emulatorpin>``'s lowest CPU, else
  vCPU 0's); a thread that KubeVirt pinned on one CPU that no vCPU uses (a supplemental one)
  stays on that CPU's node;
* the CPUs: its own such CPU when it lies there; else the pod's CPUs on that node that no vCPU is
  pinned to; else the pod's CPUs on that node, shared with its vCPUs. "The pod's CPUs" are the
  CPUs the domain already pins (vcpupin, emulatorpin, iothreadpin).

``apply_iothread_cells`` edits the element in place and returns one line (None: not asked), or
raises ``InputError`` (the caller leaves the domain unchanged). Standard library only, Python 3.9.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from kvnuma.cpulist import format_cpulist, parse_cpulist
from kvnuma.errors import InputError
from kvnuma.names import IOTHREAD_PLACEMENT_ANNOTATION, iothread_placement

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["apply_iothread_cells"]

_WHERE = "domain XML"
_MAX_THREADS = 4096


def _int(text: str | None, what: str) -> int:
    value = (text or "").strip()
    try:
        number = int(value, 0) if value.lower().startswith("0x") else int(value)
    except ValueError:
        raise InputError(_WHERE, f"{what} {value[:30]!r} is not a number") from None
    if number < 0:
        raise InputError(_WHERE, f"{what} {value[:30]!r} is negative")
    return number


def _cpus(element: ET.Element, what: str) -> frozenset[int]:
    return parse_cpulist(element.get("cpuset", ""), source=f"{_WHERE}: {what} cpuset")


def _disk_threads(root: ET.Element) -> dict[int, list[ET.Element]]:
    users: dict[int, list[ET.Element]] = {}
    for disk in root.findall("devices/disk"):
        driver = disk.find("driver")
        if driver is None:
            continue
        ids = [driver.get("iothread")] + [t.get("id") for t in driver.findall("iothreads/iothread")]
        for raw in ids:
            if raw is not None:
                users.setdefault(_int(raw, "<driver> iothread"), []).append(disk)
    return users


def _guest_cell(disk: ET.Element, controllers: Mapping[int, ET.Element]) -> int | None:
    """The guest NUMA node of the expander bus above ``disk``'s PCI address (None: none)."""
    address = disk.find("address")
    seen: set[int] = set()
    while address is not None and address.get("type") == "pci":
        bus = _int(address.get("bus", "0"), "<address> bus")
        controller = controllers.get(bus)
        if controller is None or bus in seen:
            return None
        seen.add(bus)
        if controller.get("model") == "pcie-expander-bus":
            node = controller.findtext("target/node")
            return None if node is None else _int(node, "<controller> <target><node>")
        address = controller.find("address")
    return None


def apply_iothread_cells(
    root: ET.Element, annotations: Mapping[str, str], cpu_nodes: Mapping[int, int]
) -> str | None:
    """Edit ``root`` as the annotation asks; one line on what was done (None: not asked)."""
    if IOTHREAD_PLACEMENT_ANNOTATION not in annotations or iothread_placement(annotations) != "cell":
        return None
    label = f"{IOTHREAD_PLACEMENT_ANNOTATION}=cell"
    count = _int(root.findtext("iothreads"), "<iothreads>") if root.find("iothreads") is not None else 0
    cputune = root.find("cputune")
    if not count or cputune is None:
        return f"{label}: not applied: the domain has no <iothreads> or no <cputune>"
    if count > _MAX_THREADS:
        raise InputError(_WHERE, f"<iothreads> {count} is more than {_MAX_THREADS}")
    vcpus = {_int(p.get("vcpu"), "<vcpupin> vcpu"): _cpus(p, "<vcpupin>") for p in cputune.findall("vcpupin")}
    if not vcpus:
        return f"{label}: not applied: the domain has no <vcpupin> (no dedicated CPUs)"
    emulator_pin = cputune.find("emulatorpin")
    emulator = _cpus(emulator_pin, "<emulatorpin>") if emulator_pin is not None else frozenset()
    old = {
        _int(p.get("iothread"), "<iothreadpin> iothread"): _cpus(p, "<iothreadpin>")
        for p in cputune.findall("iothreadpin")
    }
    vcpu_cpus = frozenset().union(*vcpus.values())
    pod = vcpu_cpus | emulator | frozenset().union(*old.values())
    for cpu in sorted(pod):
        if cpu not in cpu_nodes:
            raise InputError("sysfs devices/system/node", f"CPU {cpu} of the domain's pins is on no node")
    node_cpus: dict[int, set[int]] = {}
    for cpu in pod:
        node_cpus.setdefault(cpu_nodes[cpu], set()).add(cpu)
    host_of_guest = {}
    for memnode in root.findall("numatune/memnode"):
        nodes = parse_cpulist(memnode.get("nodeset", ""), source=f"{_WHERE}: <memnode> nodeset")
        if len(nodes) == 1:
            host_of_guest[_int(memnode.get("cellid"), "<memnode> cellid")] = next(iter(nodes))
    controllers = {
        _int(c.get("index"), "<controller> index"): c for c in root.findall("devices/controller[@type='pci']")
    }
    users = _disk_threads(root)
    first = vcpus[min(vcpus)]
    emulator_node = cpu_nodes[min(emulator)] if emulator else cpu_nodes[min(first)]
    spare = pod - vcpu_cpus
    pins: list[tuple[int, frozenset[int], str]] = []
    for thread in range(1, count + 1):
        cells = sorted(
            {c for c in (_guest_cell(d, controllers) for d in users.get(thread, [])) if c is not None}
        )
        node, why, by_controller = emulator_node, "emulator's node", False
        if len(cells) == 1 and node_cpus.get(host_of_guest.get(cells[0], -1)):
            node, by_controller = host_of_guest[cells[0]], True
            why = f"disk controller on guest cell {cells[0]}"
        own = old.get(thread, frozenset())
        own_nodes = {cpu_nodes[cpu] for cpu in own}
        if not by_controller and own and not own & vcpu_cpus and len(own_nodes) == 1:
            node, why = own_nodes.pop(), "its own CPU's node"
        in_node = frozenset(node_cpus.get(node, ()))
        if own and own <= in_node and not own & vcpu_cpus:
            cpus, which = own, "its own non-vCPU CPU"
        elif spare & in_node:
            cpus, which = spare & in_node, "the pod's non-vCPU CPUs"
        else:
            cpus, which = in_node, "the pod's CPUs there, shared with vCPUs"
        pins.append((thread, cpus, f"{thread}: {format_cpulist(cpus)} (host node {node}, {why}, {which})"))
    _write_pins(cputune, pins)
    return f"{label}: IOThread " + "; ".join(line for _, _, line in pins)


def _write_pins(cputune: ET.Element, pins: list[tuple[int, frozenset[int], str]]) -> None:
    """Replace the ``<iothreadpin>`` children with ``pins``, after the last vcpupin/emulatorpin."""
    for kid in cputune.findall("iothreadpin"):
        cputune.remove(kid)
    kids = list(cputune)
    anchors = [i for i, kid in enumerate(kids) if kid.tag in ("vcpupin", "emulatorpin")]
    position = anchors[-1] + 1 if anchors else len(kids)
    interior = kids[0].tail if len(kids) > 1 else None
    before = kids[position - 1] if position else None
    for offset, (thread, cpus, _) in enumerate(pins):
        pin = ET.Element("iothreadpin", iothread=str(thread), cpuset=format_cpulist(cpus, ranges=False))
        if before is not None:
            pin.tail, before.tail = before.tail, interior if interior is not None else before.tail
        cputune.insert(position + offset, pin)
        before = pin
