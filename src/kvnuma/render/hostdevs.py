"""The VMI's ``spec.domain.devices.gpus`` and ``hostDevices`` as libvirt PCI ``<hostdev>``s.

Which host device backs a VMI's GPU or host device is only known when KubeVirt's device plugin
allocates it at pod start, so the host PCI address is an input (``--host-device NAME=ADDRESS``),
the way ``render --domain`` takes the hostdevs virt-launcher wrote. Each device is written as
KubeVirt's converter writes a PCI one: ``<hostdev mode='subsystem' type='pci' managed='no'>`` with
the host address as ``<source><address>`` and the user alias ``ua-gpu-NAME`` /
``ua-hostdevice-NAME``; a mediated device (a vGPU, ``NAME=UUID``) as KubeVirt writes one:
``<hostdev mode='subsystem' type='mdev' model='vfio-pci'>`` with ``<source><address uuid>``.
A device without an address is not rendered and is reported (``missing``); a device already in
the domain (same alias) is left as it is.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kvnuma.errors import InputError
from kvnuma.pci.address import MdevUuid, PciAddress, is_mdev_uuid
from kvnuma.xmldoc import SPACED, parse_document, to_text

__all__ = ["VmiDevice", "add_hostdevs", "parse_host_device", "vmi_devices"]

_KINDS = (("gpus", "gpu"), ("hostDevices", "hostdevice"))
_MAX_DEVICES = 256


@dataclass(frozen=True, slots=True)
class VmiDevice:
    kind: str
    """``gpu`` or ``hostdevice`` (the alias prefix KubeVirt uses)."""
    name: str
    device_name: str
    """The resource name (``nvidia.com/GA102GL_A10``)."""

    @property
    def alias(self) -> str:
        return f"ua-{self.kind}-{self.name}"

    @property
    def path(self) -> str:
        field = "gpus" if self.kind == "gpu" else "hostDevices"
        return f"spec.domain.devices.{field}[{self.name}]"


def vmi_devices(vmi: Mapping[str, Any], *, source: str = "VMI") -> list[VmiDevice]:
    """The VMI's GPUs and host devices, in the VMI's order; InputError on a malformed entry."""
    spec = vmi.get("spec") or {}
    devices = ((spec.get("domain") or {}).get("devices") or {}) if isinstance(spec, Mapping) else {}
    if not isinstance(devices, Mapping):
        raise InputError(f"{source}: spec.domain.devices", "expected an object")
    found: list[VmiDevice] = []
    for field, kind in _KINDS:
        entries = devices.get(field) or []
        where = f"{source}: spec.domain.devices.{field}"
        if not isinstance(entries, list):
            raise InputError(where, "expected a list")
        if len(entries) > _MAX_DEVICES:
            raise InputError(where, f"{len(entries)} entries: more than the limit of {_MAX_DEVICES}")
        for index, entry in enumerate(entries):
            if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str) or not entry["name"]:
                raise InputError(f"{where}[{index}]", "expected an object with a name")
            found.append(VmiDevice(kind, entry["name"], str(entry.get("deviceName", ""))))
    return found


def parse_host_device(text: str, *, source: str = "--host-device") -> tuple[str, PciAddress]:
    """``NAME=DDDD:BB:SS.F`` -> (name, address); ``NAME=UUID`` -> (name, the mediated device)."""
    name, sep, address = text.partition("=")
    if not sep or not name:
        raise InputError(source, f"expected NAME=DDDD:BB:SS.F or NAME=MDEV-UUID, got {text[:80]!r}")
    if is_mdev_uuid(address.strip()):
        return name, MdevUuid.parse(address, source=f"{source} {name}")
    return name, PciAddress.parse(address, source=f"{source} {name}")


def add_hostdevs(
    xml: str, devices: list[VmiDevice], addresses: Mapping[str, PciAddress], *, source: str = "domain"
) -> tuple[str, list[VmiDevice]]:
    """``xml`` with a ``<hostdev>`` for each device that has an address (by name), and the devices
    that have none. InputError when an address names no GPU or host device of the VMI."""
    names = {device.name for device in devices}
    unknown = sorted(set(addresses) - names)
    if unknown:
        known = ", ".join(sorted(names)) or "none"
        raise InputError(
            "--host-device", f"{', '.join(unknown)}: not a GPU or host device of the VMI ({known})"
        )
    placed = [d for d in devices if d.name in addresses]
    missing = [d for d in devices if d.name not in addresses]
    if not placed:
        return xml, missing
    doc = parse_document(xml, source=source, root="domain")
    root = doc.root
    parent = root.find("devices")
    if parent is None:
        parent = ET.SubElement(root, "devices")
    present = {alias.get("name") for alias in parent.iter("alias")}
    for device in placed:
        if device.alias in present:
            continue
        address = addresses[device.name]
        if isinstance(address, MdevUuid):
            hostdev = ET.SubElement(parent, "hostdev", mode="subsystem", type="mdev", model="vfio-pci")
            ET.SubElement(ET.SubElement(hostdev, "source"), "address", uuid=str(address))
            ET.SubElement(hostdev, "alias", name=device.alias)
            continue
        hostdev = ET.SubElement(parent, "hostdev", mode="subsystem", type="pci", managed="no")
        source_el = ET.SubElement(hostdev, "source")
        ET.SubElement(
            source_el,
            "address",
            domain=f"0x{address.domain:04x}",
            bus=f"0x{address.bus:02x}",
            slot=f"0x{address.slot:02x}",
            function=f"0x{address.function:x}",
        )
        ET.SubElement(hostdev, "alias", name=device.alias)
    _indent_new(parent, len(parent) - sum(1 for d in placed if d.alias not in present))
    return to_text(doc, empty=SPACED), missing


def _indent_new(parent: ET.Element, first_new: int) -> None:
    """Indent only the hostdevs just added (two spaces a level), leaving the rest as it was."""
    kids = list(parent)
    if first_new >= len(kids):
        return
    for kid in kids[first_new:]:
        ET.indent(kid, "  ", level=2)
    closing = kids[first_new - 1].tail if first_new else parent.text
    if first_new:
        kids[first_new - 1].tail = "\n    "
    else:
        parent.text = "\n    "
    for kid in kids[first_new:-1]:
        kid.tail = "\n    "
    kids[-1].tail = closing if closing and closing.strip() == "" and first_new else "\n  "
