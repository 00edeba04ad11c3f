"""Turn a kvnuma-rendered domain into one that boots on this test machine.

Rendered domains target real (or synthetic multi-cell) hosts and passthrough devices; this machine
has one NUMA node, two CPUs, no usable KVM and nothing to pass through. The functions here keep
everything the guest should see (vCPUs, guest NUMA cells, memory backing, PCI controllers and
addresses) and change only what the host side needs: TCG, direct kernel boot, a serial log file,
host pCPU/node ids folded onto this host, emulated endpoints in place of hostdevs.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Literal

from kvnuma.model import CpuSet

__all__ = [
    "EmulatedModel",
    "make_bootable",
    "memory_kib",
    "project_onto_this_host",
    "replace_hostdevs_with",
    "set_console_log",
    "vcpu_count",
]

EmulatedModel = Literal["virtio-rng", "e1000e"]
CMDLINE = "console=ttyS0 panic=-1 quiet"
# devices that make sense in a diskless, headless TCG guest; everything else is dropped
_KEPT_DEVICES = {"controller", "rng", "interface", "iommu", "memory", "watchdog", "panic"}
_UNITS = {"b": 1, "bytes": 1, "k": 1024, "kib": 1024, "kb": 1000, "m": 1 << 20, "mib": 1 << 20,
          "mb": 10**6, "g": 1 << 30, "gib": 1 << 30, "gb": 10**9, "t": 1 << 40, "tib": 1 << 40,
          "tb": 10**12}  # fmt: skip


def _child(parent: ET.Element, tag: str) -> ET.Element:
    found = parent.find(tag)
    return found if found is not None else ET.SubElement(parent, tag)


def _replace(parent: ET.Element, tag: str, new: ET.Element) -> None:
    for old in parent.findall(tag):
        parent.remove(old)
    parent.append(new)


def memory_kib(xml: str) -> int:
    """The domain's ``<memory>`` in KiB (libvirt's default unit)."""
    element = ET.fromstring(xml).find("memory")
    if element is None or not (element.text or "").strip():
        raise AssertionError("domain has no <memory>")
    scale = _UNITS[element.get("unit", "KiB").lower()]
    return int(element.text or "0") * scale // 1024


def vcpu_count(xml: str) -> int:
    element = ET.fromstring(xml).find("vcpu")
    return int((element.text or "1").strip()) if element is not None else 1


def make_bootable(domain_xml: str, name: str, *, kernel: Path, initrd: Path, console_log: Path) -> str:
    """TCG, q35 direct kernel boot, serial to ``console_log``, ACPI, no USB/balloon/hostdevs."""
    root = ET.fromstring(domain_xml)
    root.set("type", "qemu")
    _child(root, "name").text = name
    uuid = root.find("uuid")
    if uuid is not None:
        root.remove(uuid)

    os_el = ET.Element("os")
    ET.SubElement(os_el, "type", arch="x86_64", machine="q35").text = "hvm"
    ET.SubElement(os_el, "kernel").text = str(kernel)
    ET.SubElement(os_el, "initrd").text = str(initrd)
    ET.SubElement(os_el, "cmdline").text = CMDLINE
    _replace(root, "os", os_el)

    features = _child(root, "features")
    for tag in ("acpi", "apic"):
        _child(features, tag)
    for kvm_only in features.findall("kvm"):
        features.remove(kvm_only)

    cpu = _child(root, "cpu")
    cpu.attrib = {"mode": "custom", "match": "exact", "check": "none"}
    for child in list(cpu):
        if child.tag not in ("topology", "numa"):
            cpu.remove(child)  # host-passthrough/host-model features mean nothing under TCG
    cpu.insert(0, ET.Element("model", fallback="allow"))
    cpu[0].text = "qemu64"

    for event in ("on_poweroff", "on_reboot", "on_crash"):
        _replace(root, event, _text_element(event, "destroy"))

    devices = _child(root, "devices")
    for device in list(devices):
        drop = device.tag not in _KEPT_DEVICES
        drop = drop or (device.tag == "interface" and device.get("type") != "user")
        drop = drop or (device.tag == "controller" and device.get("type") == "usb")
        if drop:
            devices.remove(device)
    ET.SubElement(devices, "controller", type="usb", model="none")
    ET.SubElement(devices, "memballoon", model="none")
    serial = ET.SubElement(devices, "serial", type="file")
    ET.SubElement(serial, "source", path=str(console_log), append="off")
    ET.SubElement(serial, "target", type="isa-serial", port="0")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")


def set_console_log(xml: str, console_log: Path) -> str:
    """Point the bootable domain's file serial at ``console_log``."""
    root = ET.fromstring(xml)
    source = root.find("devices/serial[@type='file']/source")
    if source is None:
        raise AssertionError("domain has no file serial: call make_bootable first")
    source.set("path", str(console_log))
    return ET.tostring(root, encoding="unicode")


def _text_element(tag: str, text: str) -> ET.Element:
    element = ET.Element(tag)
    element.text = text
    return element


def replace_hostdevs_with(xml: str, model: EmulatedModel = "virtio-rng") -> str:
    """Each ``<hostdev>`` becomes an emulated PCIe endpoint at the same guest ``<address>``."""
    root = ET.fromstring(xml)
    devices = root.find("devices")
    if devices is None:
        return xml
    for index, hostdev in enumerate(list(devices)):
        if hostdev.tag != "hostdev":
            continue
        if model == "virtio-rng":
            endpoint = ET.Element("rng", model="virtio")
            ET.SubElement(endpoint, "backend", model="random").text = "/dev/urandom"
        else:
            endpoint = ET.Element("interface", type="user")
            ET.SubElement(endpoint, "model", type="e1000e")
        address = hostdev.find("address")  # the guest side; the host side sits under <source>
        if address is not None:
            endpoint.append(address)
        devices.remove(hostdev)
        devices.insert(index, endpoint)
    return ET.tostring(root, encoding="unicode")


def project_onto_this_host(xml: str, host_cpus: list[int], host_node: int = 0) -> tuple[str, dict[int, int]]:
    """Fold host-side ids onto this machine; return the XML and the pCPU mapping used.

    Every pCPU id in ``<vcpu cpuset>``, vcpupin, emulatorpin and iothreadpin becomes
    ``host_cpus[id % len(host_cpus)]``; every numatune nodeset (``<memory>`` and ``<memnode>``)
    becomes ``host_node``. Guest-side ids (cells, vCPUs, hugepage ``nodeset`` = guest cells) stay.
    """
    if not host_cpus:
        raise AssertionError("project_onto_this_host needs at least one host CPU")
    root = ET.fromstring(xml)
    mapping: dict[int, int] = {}

    def fold(element: ET.Element) -> None:
        cpus = CpuSet.parse(element.get("cpuset", ""), source="cpuset", exclusions=True)
        for cpu in cpus:
            mapping[cpu] = host_cpus[cpu % len(host_cpus)]
        element.set("cpuset", CpuSet.of(mapping[c] for c in cpus).format())

    vcpu = root.find("vcpu")
    if vcpu is not None and vcpu.get("cpuset"):
        fold(vcpu)
    for path in ("cputune/vcpupin", "cputune/emulatorpin", "cputune/iothreadpin"):
        for element in root.findall(path):
            fold(element)
    for element in (*root.findall("numatune/memory"), *root.findall("numatune/memnode")):
        if element.get("nodeset") is not None:
            element.set("nodeset", str(host_node))
    return ET.tostring(root, encoding="unicode"), mapping
