"""Guest cells for devices on CPU-less host nodes (GB200-class hosts: a GPU's host NUMA node has
memory or nothing, but no CPUs).

KubeVirt's VEP 115 placement binds a host node to a guest cell through the vCPU pins or the
``<numatune>`` memnodes, so a device whose host node has no CPUs matches no guest cell and stays
on ``pcie.0`` (KubeVirt #17493, closed unmerged, proposed CPU-less guest cells for it). With the
VMI annotation ``kvnuma.io/cpuless-device-cells: "on"``, ``add_cpuless_cells`` gives each such host
node a guest cell of its own, so that the device can go behind an expander bus on it:

* a cell ``<cell id='N' memory='M' unit='KiB'/>`` without ``cpus``. libvirt backs every guest
  cell with a memory backend and QEMU refuses one of size 0, so the cell gets the smallest slice
  the guest can have: one huge page when the domain uses huge pages, else 2 MiB; the slice is
  taken from the cell whose host node is nearest (by the host's distances; the guest's total
  memory does not change). The cell gets no ``<memnode>``: its memory comes from the nodes the
  domain's ``<numatune><memory>`` (and the pod's cgroup) allow;
* ``<distances>`` for every cell, from the host's distance matrix, when every cell's host node
  is known (otherwise none are added, and the summary says so);
* with ``generic_initiator`` (QEMU 9.0 or newer), an ACPI Generic Initiator affinity entry that
  ties the device to that cell, as the firmware of such a host does
  (``-object acpi-generic-initiator,id=…,pci-dev=<device id>,node=<cell>`` in
  ``<qemu:commandline>``; the device id is the hostdev's libvirt alias, added when it has none).

A second run over its own output reuses the cells it made: a CPU-less cell that carries a kvnuma
expander is the cell of the host node of the devices behind that expander.
Pure: the host facts come in as arguments. Standard library only (the hook bundle).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kvnuma.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from kvnuma.pci.domain_facts import Hostdev
    from kvnuma.pci.plan import DeviceRequest

__all__ = [
    "GENERIC_INITIATOR_QEMU",
    "QEMU_NS",
    "CpulessCell",
    "CpulessOutcome",
    "add_cpuless_cells",
    "has_generic_initiator",
]

QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"
GENERIC_INITIATOR_QEMU = (9, 0)
"""The first QEMU with ``acpi-generic-initiator``."""
_SMALL_SLICE_KIB = 2048
_UNIT_BYTES = {  # libvirt's scaled units
    **dict.fromkeys(("b", "bytes"), 1),
    "KB": 1000,
    **dict.fromkeys(("k", "K", "KiB"), 1 << 10),
    "MB": 1000**2,
    **dict.fromkeys(("M", "MiB"), 1 << 20),
    "GB": 1000**3,
    **dict.fromkeys(("G", "GiB"), 1 << 30),
    "TB": 1000**4,
    **dict.fromkeys(("T", "TiB"), 1 << 40),
}


def _to_kib(text: str, unit: str) -> int | None:
    if unit not in _UNIT_BYTES or not text.isdecimal() or len(text) > 20:
        return None
    return int(text) * _UNIT_BYTES[unit] // 1024


def has_generic_initiator(qemu_version: str) -> bool:
    """Whether a QEMU of ``qemu_version`` (``10.0.2``, ``9.0``; "" = unknown) has
    ``acpi-generic-initiator``; unknown counts as no."""
    parts = qemu_version.strip().split(".")
    try:
        version = (int(parts[0]), int(parts[1].split()[0]) if len(parts) > 1 else 0)
    except (ValueError, IndexError):
        return False
    return version >= GENERIC_INITIATOR_QEMU


@dataclass(frozen=True)
class CpulessCell:
    cell: int
    host_node: int
    memory_kib: int
    donor_cell: int
    devices: tuple[str, ...]
    generic_initiator: bool


@dataclass(frozen=True)
class CpulessOutcome:
    """Host node -> its new guest cell (for placement), and one line per cell or problem."""

    cell_of_node: dict[int, int]
    cells: tuple[CpulessCell, ...]
    lines: tuple[str, ...]


def _kib(cell: ET.Element) -> int:
    unit = cell.get("unit", "KiB")
    text = cell.get("memory", "")
    kib = _to_kib(text, unit)
    if kib is None:
        raise InputError("domain XML: <cpu><numa><cell>", f"memory={text!r} unit={unit!r} is not a size")
    return kib


def _slice_kib(root: ET.Element) -> int:
    """The smallest memory a cell can have here: one huge page (2 MiB when the domain names no
    size: x86's default), or 2 MiB of ordinary memory."""
    page = root.find("memoryBacking/hugepages/page")
    if page is None:
        return _SMALL_SLICE_KIB
    unit = page.get("unit", "KiB")
    size = page.get("size", "")
    kib = _to_kib(size, unit)
    if not kib:
        raise InputError(
            "domain XML: <memoryBacking><hugepages><page>", f"size={size!r} unit={unit!r} is not a size"
        )
    return kib


def _reused(root: ET.Element, devices: Sequence[Hostdev], cells: Mapping[int, ET.Element]) -> dict[str, int]:
    """Device address -> the CPU-less cell kvnuma put it on in an earlier run."""
    expander_cell: dict[str, int] = {}
    for controller in root.findall("devices/controller"):
        node = controller.find("target/node")
        alias = controller.find("alias")
        if node is None or alias is None or not alias.get("name", "").startswith("ua-kvnuma-pxb-"):
            continue
        text = (node.text or "").strip()
        if text.isdecimal() and int(text) in cells and not cells[int(text)].get("cpus"):
            expander_cell[controller.get("index", "")] = int(text)
    port_cell = {}
    for controller in root.findall("devices/controller"):
        address = controller.find("address")
        if controller.get("model") == "pcie-root-port" and address is not None:
            bus = address.get("bus", "")
            cell = expander_cell.get(str(int(bus, 16)) if bus.startswith("0x") else bus)
            if cell is not None:
                port_cell[controller.get("index", "")] = cell
    found = {}
    for device in devices:
        guest = device.element.find("address")
        bus = guest.get("bus", "") if guest is not None else ""
        index = str(int(bus, 16)) if bus.startswith("0x") else bus
        if index in port_cell:
            found[str(device.source)] = port_cell[index]
    return found


def add_cpuless_cells(
    root: ET.Element,
    requests: Sequence[DeviceRequest],
    devices: Sequence[Hostdev],
    cell_of_node: Mapping[int, int],
    *,
    nodes_with_cpus: frozenset[int],
    distances: Mapping[int, Mapping[int, int]],
    generic_initiator: bool,
) -> CpulessOutcome:
    """Add a CPU-less guest cell to ``root`` for each host node without CPUs that a device in
    ``requests`` sits on and no guest cell is bound to (see the module text)."""
    numa = root.find("cpu/numa")
    if numa is None:
        return CpulessOutcome({}, (), ())
    cells = {int(c.get("id", "-1")): c for c in numa.findall("cell")}
    reused = _reused(root, devices, cells)
    wanted: dict[int, list[str]] = {}
    for request in requests:
        node = request.host_node
        if node is None or node < 0 or node in cell_of_node or node in nodes_with_cpus:
            continue
        wanted.setdefault(node, []).append(str(request.address))
    if not wanted:
        return CpulessOutcome({}, (), ())
    result: dict[int, int] = {}
    made: list[CpulessCell] = []
    lines: list[str] = []
    node_of_cell = {cell: node for node, cell in cell_of_node.items()}
    for node, addresses in sorted(wanted.items()):
        earlier = {reused[a] for a in addresses if a in reused}
        if len(earlier) == 1:
            result[node] = earlier.pop()
            continue
        row = distances.get(node, {})
        candidates = [(row[n], cell) for n, cell in cell_of_node.items() if n in row]
        if not candidates:
            lines.append(
                f"left in place: {', '.join(addresses)} on CPU-less host node {node}: "
                "the host reports no distances from it to the pod's nodes"
            )
            continue
        _distance, donor = min(candidates)
        slice_kib = _slice_kib(root)
        donor_kib = _kib(cells[donor])
        if donor_kib < 2 * slice_kib:
            lines.append(
                f"left in place: {', '.join(addresses)} on CPU-less host node {node}: guest cell "
                f"{donor} has {donor_kib} KiB, too little to give a {slice_kib} KiB slice"
            )
            continue
        cells[donor].set("memory", str(donor_kib - slice_kib))
        cells[donor].set("unit", "KiB")
        new_id = max(cells) + 1
        attributes = {"id": str(new_id), "memory": str(slice_kib), "unit": "KiB"}
        for name in ("memAccess", "discard"):
            if cells[donor].get(name):
                attributes[name] = cells[donor].get(name, "")
        cells[new_id] = ET.SubElement(numa, "cell", attributes)
        node_of_cell[new_id] = node
        page = root.find("memoryBacking/hugepages/page")
        if page is not None and page.get("nodeset"):
            page.set("nodeset", f"{page.get('nodeset')},{new_id}")
        result[node] = new_id
        made.append(CpulessCell(new_id, node, slice_kib, donor, tuple(addresses), generic_initiator))
        lines.append(
            f"guest cell {new_id}: CPU-less, for host node {node} ({', '.join(addresses)}); "
            f"{slice_kib} KiB from guest cell {donor}"
            + ("; ACPI generic initiator" if generic_initiator else "")
        )
    if made:
        if not _set_distances(cells, node_of_cell, distances):
            lines.append(
                "no <distances> added: the host node of some guest cell or its distances are unknown"
            )
        if generic_initiator:
            by_address = {str(d.source): d for d in devices}
            for cell in made:
                for address in cell.devices:
                    _tie(root, by_address[address], cell.cell)
    return CpulessOutcome(result, tuple(made), tuple(lines))


def _set_distances(
    cells: Mapping[int, ET.Element],
    node_of_cell: Mapping[int, int],
    distances: Mapping[int, Mapping[int, int]],
) -> bool:
    if any(cell not in node_of_cell for cell in cells):
        return False
    matrix = {}
    for cell, node in node_of_cell.items():
        row = distances.get(node, {})
        if any(other not in row for other in node_of_cell.values()):
            return False
        matrix[cell] = {other: row[node_of_cell[other]] for other in cells}
    for cell, element in cells.items():
        old = element.find("distances")
        if old is not None:
            element.remove(old)
        block = ET.SubElement(element, "distances")
        for other in sorted(cells):
            ET.SubElement(block, "sibling", {"id": str(other), "value": str(matrix[cell][other])})
    return True


def _tie(root: ET.Element, device: Hostdev, cell: int) -> None:
    """The ACPI Generic Initiator entry for ``device`` on ``cell`` (QEMU's ``acpi-generic-initiator``)."""
    alias = device.element.find("alias")
    if alias is None:
        alias = ET.SubElement(device.element, "alias", {"name": f"ua-kvnuma-gi-{device.source.alias_part}"})
    name = alias.get("name", "")
    prefix = next(
        (
            key[len("xmlns:") :]
            for key, value in root.attrib.items()
            if key.startswith("xmlns:") and value == QEMU_NS
        ),
        None,
    )
    if prefix is None:
        prefix = "qemu"
        root.set("xmlns:qemu", QEMU_NS)
    line = next((child for child in root if child.tag == f"{prefix}:commandline"), None)
    if line is None:
        line = ET.SubElement(root, f"{prefix}:commandline")
    value = f"acpi-generic-initiator,id=kvnuma-gi-{device.source.alias_part},pci-dev={name},node={cell}"
    if any(arg.get("value") == value for arg in line):
        return
    ET.SubElement(line, f"{prefix}:arg", {"value": "-object"})
    ET.SubElement(line, f"{prefix}:arg", {"value": value})
