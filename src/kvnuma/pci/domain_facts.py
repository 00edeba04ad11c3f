"""What PCI placement reads from a libvirt domain: guest cells, how they bind to host nodes,
the PCI controllers and the PCI hostdevs.

Works on an ``xml.etree.ElementTree`` element with plain tag names (libvirt's domain elements
carry no namespace). Standard library only.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kvnuma.cpulist import parse_cpulist
from kvnuma.errors import InputError
from kvnuma.pci.address import MdevUuid, PciAddress

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "OWNED_ALIAS_PREFIX",
    "CellBinding",
    "Hostdev",
    "PciController",
    "bind_host_nodes",
    "guest_cells",
    "hostdevs",
    "pci_controllers",
]

OWNED_ALIAS_PREFIX = "ua-kvnuma-"
"""kvnuma marks the controllers it adds with libvirt user aliases starting with this."""


@dataclass(frozen=True)
class PciController:
    element: ET.Element
    index: int
    model: str
    alias: str

    @property
    def owned(self) -> bool:
        return self.alias.startswith(OWNED_ALIAS_PREFIX)


@dataclass(frozen=True)
class Hostdev:
    """A ``<hostdev type='pci'>`` with its host source address, or a PCI ``<hostdev type='mdev'>``
    with its uuid (an ``MdevUuid``), and its guest address (if any)."""

    element: ET.Element
    source: PciAddress
    guest_bus: int | None


@dataclass(frozen=True)
class CellBinding:
    """Host node -> guest cell, and the host nodes that could not be bound (with why)."""

    cell_of_node: Mapping[int, int]
    unbound: Mapping[int, str]


def _number(text: str, source: str, problem: str) -> int:
    """``text`` as an int; else InputError(source, problem)."""
    try:
        return int(text)
    except ValueError:
        raise InputError(source, problem) from None


def _alias(element: ET.Element) -> str:
    alias = element.find("alias")
    return alias.get("name", "") if alias is not None else ""


def pci_controllers(root: ET.Element) -> list[PciController]:
    found = []
    for element in root.findall("devices/controller"):
        if element.get("type") != "pci":
            continue
        text = element.get("index", "")
        index = _number(text, "domain XML", f"<controller type='pci' index={text!r}> is not a number")
        found.append(PciController(element, index, element.get("model", ""), _alias(element)))
    return found


def _is_pci_mdev(element: ET.Element) -> bool:
    """A mediated device the guest sees as a PCI device (a vGPU): ``type='mdev'`` with
    ``model='vfio-pci'`` (s390's ``vfio-ccw``/``vfio-ap`` are not PCI)."""
    return element.get("type") == "mdev" and element.get("model") == "vfio-pci"


def hostdevs(root: ET.Element) -> list[Hostdev]:
    """The PCI hostdevs by host address, and the PCI mediated devices (vGPUs) by uuid."""
    found = []
    for element in root.findall("devices/hostdev"):
        if element.get("mode", "subsystem") != "subsystem":
            continue
        if element.get("type") != "pci" and not _is_pci_mdev(element):
            continue
        source = element.find("source/address")
        if source is None:
            continue
        where = f"domain XML: <hostdev> {_alias(element) or '(no alias)'} <source><address>"
        address: PciAddress = (
            MdevUuid.parse(source.get("uuid", ""), source=f"{where} uuid")
            if element.get("type") == "mdev"
            else PciAddress.from_attributes(dict(source.attrib), source=where)
        )
        guest = next((a for a in element.findall("address") if a.get("type") == "pci"), None)
        guest_bus = None
        if guest is not None:
            guest_bus = PciAddress.from_attributes(dict(guest.attrib), source=f"{where} (guest)").bus
        found.append(Hostdev(element, address, guest_bus))
    return found


def guest_cells(root: ET.Element) -> dict[int, frozenset[int]]:
    """Guest cell id -> its vCPUs, from ``<cpu><numa><cell>``."""
    cells = {}
    for cell in root.findall("cpu/numa/cell"):
        where = "domain XML: <cpu><numa><cell>"
        cell_id = _number(cell.get("id", ""), where, f"id={cell.get('id')!r} is not a number")
        cells[cell_id] = parse_cpulist(
            cell.get("cpus", ""), exclusions=True, source=f"{where} id={cell_id} cpus"
        )
    return cells


def _invert(cells_of_node: dict[int, set[int]]) -> tuple[dict[int, int], dict[int, str]]:
    bound, unbound = {}, {}
    for node, cells in sorted(cells_of_node.items()):
        if len(cells) == 1:
            bound[node] = next(iter(cells))
        else:
            unbound[node] = f"host node {node} backs guest cells {sorted(cells)} (ambiguous)"
    return bound, unbound


def bind_host_nodes(
    root: ET.Element, cells: Mapping[int, frozenset[int]], host_cpu_nodes: Mapping[int, int]
) -> CellBinding:
    """Which guest cell each host node backs: first from ``<numatune><memnode cellid nodeset>``
    (as KubeVirt's VEP 115 placement does), else for nodes not named there from the vCPU pins
    (``<vcpupin vcpu cpuset>`` -> host CPU -> host node, via ``host_cpu_nodes``). A host node
    that backs two guest cells is ambiguous and left unbound."""
    from_memnodes: dict[int, set[int]] = {}
    for memnode in root.findall("numatune/memnode"):
        cell = _number(memnode.get("cellid", ""), "domain XML: <numatune><memnode>", "cellid is not a number")
        nodes = parse_cpulist(
            memnode.get("nodeset", ""), exclusions=True, source="domain XML: <memnode> nodeset"
        )
        for node in nodes:
            from_memnodes.setdefault(node, set()).add(cell)
    cell_of_vcpu = {vcpu: cell for cell, vcpus in cells.items() for vcpu in vcpus}
    from_pins: dict[int, set[int]] = {}
    for pin in root.findall("cputune/vcpupin"):
        vcpu = _number(pin.get("vcpu", ""), "domain XML: <cputune><vcpupin>", "vcpu is not a number")
        host_cpus = parse_cpulist(
            pin.get("cpuset", ""), exclusions=True, source="domain XML: <vcpupin> cpuset"
        )
        pin_nodes = {host_cpu_nodes[cpu] for cpu in host_cpus if cpu in host_cpu_nodes}
        if len(pin_nodes) == 1 and vcpu in cell_of_vcpu:
            from_pins.setdefault(next(iter(pin_nodes)), set()).add(cell_of_vcpu[vcpu])
    bound, unbound = _invert(from_memnodes)
    pin_bound, pin_unbound = _invert({n: c for n, c in from_pins.items() if n not in from_memnodes})
    bound.update(pin_bound)
    unbound.update(pin_unbound)
    return CellBinding(cell_of_node=bound, unbound=unbound)
