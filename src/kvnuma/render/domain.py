"""Domain XML from a GuestPlan: a complete minimal domain, or a base domain with only the
engine's parts replaced.

What the engine owns in a domain (everything else is kept as parsed: devices, metadata,
``qemu:commandline`` with its namespace, comments, unknown elements):

    <maxMemory> (memory hotplug), <memory>, <currentMemory> (set to the guest memory if present),
    <vcpu>, <vcpus>,
    <iothreads> (only when IOThreads are planned), <numatune> (removed without guest cells),
    <cputune>: vcpupin, emulatorpin, iothreadpin, vcpusched (other children kept),
    <memoryBacking>: hugepages, nosharepages, source (memfd; kept without huge pages), allocation
        (access, locked... kept),
    <cpu>: topology, numa (mode, model, features kept; a complete domain gets the VMI's),
    <features>: pmu (realtime), kvm/hint-dedicated (amd64).

Whitespace: when the base is indented, the parents the engine touched are re-indented in the
base's own indent unit; nothing else is re-flowed. The tree is ElementTree's; parsing and writing
are ``kvnuma.xmldoc``'s: the XML declaration, prefixes, attribute order and the comments inside
the root are kept (not the comments around the root: the merged domain is a new document);
attributes are written with double quotes and every empty element as ``<x />`` (ElementTree's
form, which ``kvnuma render``'s output has always used).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from kvnuma.placement import GuestPlan
from kvnuma.render import sections
from kvnuma.xmldoc import SPACED, XmlDoc, parse_document, to_text

__all__ = ["merge_into", "render_domain"]

# libvirt's usual order of the domain's children; new ones are inserted by it
_ORDER = (
    "name", "uuid", "genid", "title", "description", "metadata", "maxMemory", "memory", "currentMemory",
    "blkiotune", "memtune", "memoryBacking", "vcpu", "vcpus", "iothreads", "iothreadids", "cputune",
    "numatune", "resource", "sysinfo", "bootloader", "os", "features", "cpu", "clock", "on_poweroff",
    "on_reboot", "on_crash", "pm", "devices",
)  # fmt: skip
_CPUTUNE_OWNED = frozenset({"vcpupin", "emulatorpin", "iothreadpin", "vcpusched"})
_BACKING_OWNED = frozenset({"hugepages", "nosharepages", "source", "allocation"})
_CPU_OWNED = frozenset({"topology", "numa"})


def render_domain(plan: GuestPlan, *, arch: str = "x86_64", machine: str = "q35") -> str:
    """A complete minimal domain (type kvm, q35, the plan's CPU model) around the plan."""
    root = ET.Element("domain", type="kvm")
    ET.SubElement(root, "name").text = plan.name
    os_el = ET.SubElement(root, "os")
    ET.SubElement(os_el, "type", arch=arch, machine=machine).text = "hvm"
    features = ET.SubElement(root, "features")
    ET.SubElement(features, "acpi")
    ET.SubElement(features, "apic")
    cpu = ET.SubElement(root, "cpu")
    if plan.cpu_model in ("host-model", "host-passthrough"):
        cpu.set("mode", plan.cpu_model)
    else:
        cpu.set("mode", "custom")
        ET.SubElement(cpu, "model").text = plan.cpu_model
    for name, policy in plan.cpu_features:
        ET.SubElement(cpu, "feature", name=name, policy=policy)
    for event in ("on_poweroff", "on_reboot", "on_crash"):
        ET.SubElement(root, event).text = "destroy"
    devices = ET.SubElement(root, "devices")
    ET.SubElement(devices, "controller", type="pci", index="0", model="pcie-root")
    ET.SubElement(devices, "memballoon", model="none")
    _Merger(root, unit="").apply(plan)
    ET.indent(root, "  ")
    return to_text(XmlDoc(root), empty=SPACED)


def merge_into(base_xml: str, plan: GuestPlan, *, source: str = "base domain") -> str:
    """``base_xml`` with the engine's parts replaced by the plan's; InputError if it is not a
    well-formed ``<domain>`` document (DTDs and entities are refused)."""
    parsed = parse_document(base_xml, source=source, root="domain")
    text = parsed.root.text or ""
    unit = text.split("\n")[-1] if "\n" in text and not text.strip() else ""
    _Merger(parsed.root, unit=unit).apply(plan)
    declaration = parsed.declaration
    merged = XmlDoc(parsed.root, f"{declaration}\n" if declaration else "")
    return to_text(merged, empty=SPACED)


class _Merger:
    def __init__(self, root: ET.Element, *, unit: str) -> None:
        self.root = root
        self.unit = unit
        self.touched: list[tuple[ET.Element, int]] = [(root, 0)]
        self.created: list[tuple[ET.Element, int]] = []

    def apply(self, plan: GuestPlan) -> None:
        self.top("maxMemory", sections.max_memory(plan))
        self.top("memory", sections.memory(plan))
        if self.root.find("currentMemory") is not None:
            self.top("currentMemory", sections.memory(plan, "currentMemory"))
        self.top("vcpu", sections.vcpu(plan))
        self.top("vcpus", sections.vcpus(plan))
        if plan.iothread_count:
            self.top("iothreads", sections.iothreads(plan))
        self.top("numatune", sections.numatune(plan))
        self.children("cputune", _CPUTUNE_OWNED, sections.cputune_children(plan))
        # without huge pages the memory source is KubeVirt's (memfd for virtiofs/passt): kept
        backing = _BACKING_OWNED if plan.page_size_bytes is not None else _BACKING_OWNED - {"source"}
        self.children("memoryBacking", backing, sections.memory_backing_children(plan))
        self.children("cpu", _CPU_OWNED, sections.cpu_children(plan))
        if plan.realtime:
            self.children("features", frozenset({"pmu"}), [ET.Element("pmu", state="off")])
        if plan.hint_dedicated:
            features = self.ensure(self.root, "features", 1)
            kvm = features.find("kvm")
            if kvm is None:
                kvm = ET.Element("kvm")
                self.insert(features, kvm, len(features), 2)
            self.touched.append((kvm, 2))
            self.splice(kvm, frozenset({"hint-dedicated"}), [ET.Element("hint-dedicated", state="on")], 2)
        if self.unit:
            self.reindent()

    # --- edits ---------------------------------------------------------------------------
    def top(self, tag: str, new: ET.Element | None) -> None:
        old = self.root.find(tag)
        if old is not None:
            index = list(self.root).index(old)
            self.root.remove(old)
            if new is not None:
                self.insert(self.root, new, index, 1)
        elif new is not None:
            self.insert(self.root, new, self.position(tag), 1)

    def children(self, tag: str, owned: frozenset[str], new: list[ET.Element]) -> None:
        parent = self.root.find(tag)
        if parent is None and not new:
            return
        parent = self.ensure(self.root, tag, 1)
        self.touched.append((parent, 1))
        self.splice(parent, owned, new, 1)
        if len(parent) == 0 and not parent.attrib and tag != "cpu":
            self.root.remove(parent)

    def splice(self, parent: ET.Element, owned: frozenset[str], new: list[ET.Element], depth: int) -> None:
        kids = list(parent)
        positions = [i for i, kid in enumerate(kids) if kid.tag in owned]
        at = positions[0] if positions else len(kids)
        for i in reversed(positions):
            parent.remove(kids[i])
        for offset, element in enumerate(new):
            self.insert(parent, element, at + offset, depth + 1)

    def ensure(self, parent: ET.Element, tag: str, depth: int) -> ET.Element:
        found = parent.find(tag)
        if found is not None:
            return found
        element = ET.Element(tag)
        self.insert(parent, element, self.position(tag) if parent is self.root else len(parent), depth)
        return element

    def insert(self, parent: ET.Element, element: ET.Element, index: int, depth: int) -> None:
        parent.insert(index, element)
        self.created.append((element, depth))

    def position(self, tag: str) -> int:
        rank = _ORDER.index(tag)
        for index, kid in enumerate(self.root):
            if isinstance(kid.tag, str) and kid.tag in _ORDER and _ORDER.index(kid.tag) > rank:
                return index
        return len(self.root)

    # --- whitespace ------------------------------------------------------------------------
    def reindent(self) -> None:
        for element, depth in self.created:
            ET.indent(element, self.unit, level=depth)
        for parent, depth in self.touched:
            kids = list(parent)
            if not kids:
                parent.text = None
                continue
            parent.text = "\n" + self.unit * (depth + 1)
            for kid in kids:
                kid.tail = "\n" + self.unit * (depth + 1)
            kids[-1].tail = "\n" + self.unit * depth
