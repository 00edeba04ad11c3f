"""Rendering: the sections' shapes, validation by the installed libvirt, merging into a base."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kvnuma.errors import InputError
from kvnuma.model import CpuSet, HostTopology
from kvnuma.placement import GuestPlan, plan_guest
from kvnuma.render import merge_into, render_domain
from kvnuma.vmi import VmiSpec
from placement.engine_inputs import smt_host, vmi
from support.libvirt import Libvirtd, assert_libvirt_accepts, validate_domain

BASE = (Path(__file__).parent / "kubevirt_base_domain.xml").read_text()

_DISK_A = {"name": "a", "disk": {"bus": "virtio"}}
_DISK_D = {"name": "d", "disk": {"bus": "virtio"}, "dedicatedIOThread": True}
SHAPES: list[tuple[str, VmiSpec, str, HostTopology]] = [
    ("derived-1.5", vmi(cores=3, threads=2, emulator=True, memory="1026Mi"), "2-5,10-12", smt_host(2, 4)),
    ("one-cell", vmi(cores=2, memory="64Mi"), "0-1", smt_host(1, 2)),
    ("three-cells-1Gi", vmi(cores=3, memory="3Gi", page="1Gi"), "0,2,4", smt_host(3, 2, smt=False)),
    ("realtime", vmi(cores=4, realtime_mask="0-3,^1", memory="128Mi"), "0-3", smt_host(2, 2)),
    ("hotplug", vmi(sockets=2, cores=2, max_sockets=4), "0-3", smt_host(2, 2, smt=False)),
    ("iothreads", vmi(cores=2, supplemental=2, emulator=True), "0-4", smt_host(1, 5, smt=False)),
    ("no-passthrough", vmi(cores=2, passthrough=False, page=None), "0-1", smt_host(1, 2)),
    (
        "iothreads-auto-disks",
        vmi(cores=4, io_policy="auto", disks=[_DISK_A, _DISK_D]),
        "2-5",
        smt_host(2, 4, smt=False),
    ),
    (
        "iothreads-shared-emulator",
        vmi(cores=2, emulator=True, io_policy="shared", disks=[_DISK_A]),
        "0-2",
        smt_host(1, 4, smt=False),
    ),
    (
        "iothreads-shared-emulator-no-disks",
        vmi(cores=2, emulator=True, io_policy="shared"),
        "0-2",
        smt_host(1, 4, smt=False),
    ),
]


def plans() -> list[tuple[str, GuestPlan]]:
    return [
        (name, plan_guest(spec, CpuSet.parse(cpus), host, check_hugepages=False))
        for name, spec, cpus, host in SHAPES
    ]


@pytest.mark.parametrize(("name", "plan"), [pytest.param(n, p, id=n) for n, p in plans()])
def test_rendered_and_merged_domains_pass_virt_xml_validate(name: str, plan: GuestPlan) -> None:
    validate_domain(render_domain(plan))
    validate_domain(merge_into(BASE, plan))


def test_sections_match_kubevirt_shapes() -> None:
    plan = plans()[0][1]
    root = ET.fromstring(render_domain(plan))
    assert root.findtext("memory") == str(1026 << 20)
    assert [(p.get("vcpu"), p.get("cpuset")) for p in root.iter("vcpupin")] == [
        (str(i), str(c)) for i, c in enumerate([2, 10, 3, 11, 4, 12])
    ]
    assert root.find("cputune/emulatorpin").get("cpuset") == "5"  # type: ignore[union-attr]
    assert [(c.get("id"), c.get("cpus"), c.get("memory"), c.get("unit")) for c in root.iter("cell")] == [
        ("0", "0,1,2,3", str(514 << 20), "b"),
        ("1", "4,5", str(512 << 20), "b"),
    ]
    assert [(m.get("cellid"), m.get("nodeset")) for m in root.iter("memnode")] == [("0", "0"), ("1", "1")]
    assert root.find("numatune/memory").attrib == {"mode": "strict", "nodeset": "0,1"}  # type: ignore[union-attr]
    assert [p.get("nodeset") for p in root.iter("page")] == ["0", "1"]
    assert root.find("memoryBacking/allocation").get("mode") == "immediate"  # type: ignore[union-attr]
    assert root.find("features/pmu") is None


def test_realtime_sections() -> None:
    root = ET.fromstring(render_domain(dict(plans())["realtime"]))
    assert root.find("cputune/vcpusched").attrib == {  # type: ignore[union-attr]
        "vcpus": "0,2-3",
        "scheduler": "fifo",
        "priority": "1",
    }
    assert root.find("features/pmu").get("state") == "off"  # type: ignore[union-attr]
    assert root.find("memoryBacking/nosharepages") is not None


def test_merge_replaces_only_the_engine_parts() -> None:
    plan = plans()[0][1]
    merged = merge_into(BASE, plan)
    root = ET.fromstring(merged)
    base = ET.fromstring(BASE)
    for path in (
        "metadata",
        "sysinfo",
        "os",
        "clock",
        "devices",
        "{http://libvirt.org/schemas/domain/qemu/1.0}commandline",
    ):
        assert ET.tostring(root.find(path)) == ET.tostring(base.find(path)), path  # type: ignore[arg-type]
    assert "xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'" in merged or 'xmlns:qemu="' in merged
    assert "<qemu:commandline>" in merged
    assert "<!-- written by virt-launcher; kvnuma must keep this comment -->" in merged
    assert merged.startswith('<?xml version="1.0"?>')
    assert root.findtext("cputune/shares") == "2048"
    assert len(root.findall("cputune/vcpupin")) == 6
    assert root.find("memoryBacking/source").get("type") == "memfd"  # type: ignore[union-attr]
    assert root.find("cpu").get("mode") == "host-model"  # type: ignore[union-attr]
    assert root.find("cpu/feature").get("name") == "tsc-deadline"  # type: ignore[union-attr]
    assert root.find("cpu/topology").attrib == {"sockets": "1", "cores": "3", "threads": "2"}  # type: ignore[union-attr]
    assert root.findtext("currentMemory") == str(1026 << 20)
    assert root.find("features/acpi") is not None


def test_merge_is_idempotent_and_keeps_untouched_lines() -> None:
    plan = plans()[0][1]
    once = merge_into(BASE, plan)
    assert merge_into(once, plan) == once
    # every line of the parts kvnuma does not own comes back, up to ElementTree's quoting
    start, end = BASE.index("  <sysinfo"), BASE.index("  <os>")
    kept = BASE[start:end].splitlines() + BASE[BASE.index("  <devices>") :].splitlines()
    for line in kept:
        assert line.replace("'", '"').replace("/>", " />") in once.splitlines(), line


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("<domain>", "malformed XML", id="truncated"),
        pytest.param("<vm/>", "expected a <domain>", id="not-a-domain"),
        pytest.param('<!DOCTYPE d [<!ENTITY x "y">]><domain/>', "DOCTYPE", id="doctype"),
    ],
)
def test_bad_base_domains_are_refused(text: str, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        merge_into(text, plans()[1][1], source="base.xml")


@pytest.mark.parametrize(("name", "plan"), [pytest.param(n, p, id=n) for n, p in plans()])
def test_libvirt_defines_every_rendered_domain(libvirtd: Libvirtd, name: str, plan: GuestPlan) -> None:
    assert_libvirt_accepts(libvirtd, render_domain(plan))
    assert_libvirt_accepts(libvirtd, merge_into(BASE, plan))
