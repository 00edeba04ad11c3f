"""Write a PciPlan into a domain element, touching only what kvnuma owns.

kvnuma owns the controllers whose alias starts with ``ua-kvnuma-`` and the guest addresses of
the hostdevs it places. Before writing, its previous controllers are taken out; an element that
libvirt had addressed onto one of them loses that address (libvirt assigns a new one). A
controller that comes back with the same alias, index and model is reused, so what libvirt
filled in (``<model name>``, chassis/port, the expander's own slot) survives a second run.
New elements are indented like their neighbours.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from kvnuma.pci.domain_facts import Hostdev, PciController
    from kvnuma.pci.plan import Expander, PciPlan, Port

__all__ = ["apply_plan"]


def _indent_unit(root: ET.Element) -> str | None:
    text = root.text or ""
    if "\n" not in text:
        return None
    return text[text.rindex("\n") + 1 :]


def _place_child(parent: ET.Element, child: ET.Element, position: int, depth: int, unit: str | None) -> None:
    """Insert ``child`` at ``position`` among ``parent``'s children (``depth`` = the child's)."""
    if unit is not None:
        if len(child):
            ET.indent(child, space=unit, level=depth)
        inner = "\n" + unit * depth
        outer = "\n" + unit * (depth - 1)
        if position == 0:
            child.tail = parent.text if len(parent) else outer
            parent.text = inner
        else:
            before = parent[position - 1]
            child.tail = before.tail if position < len(parent) else outer
            before.tail = inner
    parent.insert(position, child)


def _pci_address(bus: int, slot: int) -> ET.Element:
    return ET.Element(
        "address",
        {"type": "pci", "domain": "0x0000", "bus": f"{bus:#04x}", "slot": f"{slot:#04x}", "function": "0x0"},
    )


def _set_address(element: ET.Element, bus: int, slot: int, unit: str | None, depth: int) -> None:
    current = next((a for a in element.findall("address") if a.get("type") == "pci"), None)
    if current is not None:
        for key, value in _pci_address(bus, slot).attrib.items():
            current.set(key, value)
        for key in [k for k in current.attrib if k not in ("type", "domain", "bus", "slot", "function")]:
            del current.attrib[key]
        return
    _place_child(element, _pci_address(bus, slot), len(element), depth, unit)


def _drop(parent: ET.Element, child: ET.Element) -> None:
    position = list(parent).index(child)
    if position > 0 and position == len(parent) - 1:
        parent[position - 1].tail = child.tail
    elif position == 0 and len(parent) == 1:
        parent.text = None
    parent.remove(child)


def _expander_element(expander: Expander, old: ET.Element | None) -> ET.Element:
    element = (
        old
        if old is not None
        else ET.Element(
            "controller", {"type": "pci", "index": str(expander.index), "model": "pcie-expander-bus"}
        )
    )
    target = element.find("target")
    if target is None:
        target = ET.SubElement(element, "target")
    target.set("busNr", str(expander.bus_nr))
    node = target.find("node")
    if node is None:
        node = ET.SubElement(target, "node")
    node.text = str(expander.cell)
    if element.find("alias") is None:
        ET.SubElement(element, "alias", {"name": expander.alias})
    return element


def _port_element(port: Port, expander: Expander, old: ET.Element | None) -> ET.Element:
    element = (
        old
        if old is not None
        else ET.Element("controller", {"type": "pci", "index": str(port.index), "model": "pcie-root-port"})
    )
    if element.find("alias") is None:
        ET.SubElement(element, "alias", {"name": port.alias})
    _set_address(element, expander.index, port.slot, None, 0)
    return element


def apply_plan(
    root: ET.Element, plan: PciPlan, controllers: Iterable[PciController], hostdevs: Iterable[Hostdev]
) -> None:
    """Replace kvnuma's previous controllers and addresses in ``root`` (in place) by ``plan``'s."""
    devices = root.find("devices")
    if devices is None:
        return
    unit = _indent_unit(root)
    owned = [c for c in controllers if c.owned]
    old_by_alias = {c.alias: c for c in owned}
    owned_indexes = {c.index for c in owned}
    hostdevs = list(hostdevs)
    port_of = {port.device: port for expander in plan.expanders for port in expander.ports}
    placed = {id(h.element) for h in hostdevs if h.source in port_of}
    children = list(devices)
    first_owned = min((children.index(c.element) for c in owned), default=None)
    for controller in owned:
        _drop(devices, controller.element)
    for element in devices:
        address = next((a for a in element.findall("address") if a.get("type") == "pci"), None)
        if address is not None and _bus(address) in owned_indexes and id(element) not in placed:
            _drop(element, address)

    def reusable(alias: str, index: int, model: str) -> ET.Element | None:
        old = old_by_alias.get(alias)
        return old.element if old and old.index == index and old.model == model else None

    new_elements = []
    for expander in plan.expanders:
        old = reusable(expander.alias, expander.index, "pcie-expander-bus")
        new_elements.append(_expander_element(expander, old))
        for port in expander.ports:
            old_port = reusable(port.alias, port.index, "pcie-root-port")
            new_elements.append(_port_element(port, expander, old_port))
    children = list(devices)
    after_controllers = [i + 1 for i, child in enumerate(children) if child.tag == "controller"]
    position = first_owned if first_owned is not None else max(after_controllers, default=len(children))
    for offset, element in enumerate(new_elements):
        _place_child(devices, element, position + offset, 2, unit)
    for hostdev in hostdevs:
        target_port = port_of.get(hostdev.source)
        if target_port is not None:
            _set_address(hostdev.element, target_port.index, 0, unit, 3)


def _bus(address: ET.Element) -> int | None:
    try:
        return int(address.get("bus", ""), 0)
    except ValueError:
        return None
