"""The harness's pure parts: folding a domain onto this host, making it bootable, parsing reports."""

from __future__ import annotations

import gzip
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvnuma.model import CpuSet
from support.guest import parse_console, parse_emulatorpin, parse_vcpuinfo, parse_vcpupin
from support.guest_initrd import INIT_SCRIPT, build_initrd
from support.guest_xml import make_bootable, project_onto_this_host, replace_hostdevs_with
from support.libvirt import validate_domain

RENDERED = """
<domain type='kvm'>
  <name>vm1</name>
  <uuid>6f1c3e3a-8d5e-4a57-9a3f-2f3c1c0f0b11</uuid>
  <memory unit='KiB'>1048576</memory>
  <vcpu placement='static' cpuset='{vcpu_set}'>4</vcpu>
  <cputune>{pins}<emulatorpin cpuset='{emulator}'/></cputune>
  <numatune>
    <memory mode='strict' nodeset='2-3'/>
    <memnode cellid='0' mode='strict' nodeset='2'/>
    <memnode cellid='1' mode='strict' nodeset='3'/>
  </numatune>
  <os><type arch='x86_64' machine='q35'>hvm</type><boot dev='hd'/></os>
  <features><acpi/><kvm><hidden state='on'/></kvm></features>
  <cpu mode='host-passthrough'>
    <topology sockets='2' dies='1' cores='2' threads='1'/>
    <feature policy='require' name='invtsc'/>
    <numa>
      <cell id='0' cpus='0-1' memory='524288' unit='KiB'/>
      <cell id='1' cpus='2-3' memory='524288' unit='KiB'/>
    </numa>
  </cpu>
  <devices>
    <disk type='file' device='disk'><source file='/nonexistent.img'/><target dev='vda' bus='virtio'/></disk>
    <controller type='usb' model='qemu-xhci'/>
    <controller type='pci' index='0' model='pcie-root'/>
    <controller type='pci' index='1' model='pcie-root-port'/>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source><address domain='0x0000' bus='0x3b' slot='0x00' function='0x0'/></source>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </hostdev>
    <console type='pty'/>
  </devices>
</domain>
"""


def rendered(pins: list[str], emulator: str = "10-11", vcpu_set: str = "8-15") -> str:
    pin_xml = "".join(f"<vcpupin vcpu='{v}' cpuset='{cpus}'/>" for v, cpus in enumerate(pins))
    return RENDERED.format(pins=pin_xml, emulator=emulator, vcpu_set=vcpu_set)


cpu_lists = st.sets(st.integers(0, 63), min_size=1, max_size=6).map(lambda ids: CpuSet.of(ids).format())


@given(
    pins=st.lists(cpu_lists, min_size=4, max_size=4),
    emulator=cpu_lists,
    host_cpus=st.lists(st.integers(0, 7), min_size=1, max_size=4, unique=True),
)
def test_projection_folds_every_host_id_and_keeps_guest_ids(
    pins: list[str], emulator: str, host_cpus: list[int]
) -> None:
    xml = rendered(pins, emulator)
    projected, mapping = project_onto_this_host(xml, host_cpus, host_node=0)
    root = ET.fromstring(projected)
    for original, element in zip(
        [*pins, emulator], [*root.findall("cputune/vcpupin"), root.find("cputune/emulatorpin")], strict=True
    ):
        assert element is not None
        assert CpuSet.parse(element.get("cpuset", "")) == CpuSet.of(
            mapping[c] for c in CpuSet.parse(original)
        )
    assert all(host == host_cpus[pcpu % len(host_cpus)] for pcpu, host in mapping.items())
    assert {e.get("nodeset") for e in root.iter() if e.tag in ("memory", "memnode") and e.get("nodeset")} == {
        "0"
    }
    before = ET.fromstring(xml)
    assert [c.attrib for c in root.findall("cpu/numa/cell")] == [
        c.attrib for c in before.findall("cpu/numa/cell")
    ]


def test_projection_needs_a_host_cpu() -> None:
    with pytest.raises(AssertionError, match="at least one host CPU"):
        project_onto_this_host(rendered(["1", "2", "3", "4"]), [])


@pytest.mark.parametrize(
    "model", [pytest.param("virtio-rng", id="virtio-rng"), pytest.param("e1000e", id="e1000e")]
)
def test_hostdevs_become_emulated_endpoints_at_the_same_guest_address(model: str) -> None:
    xml = rendered(["0", "1", "2", "3"])
    guest_address = ET.fromstring(xml).find("devices/hostdev/address")
    assert guest_address is not None
    replaced = ET.fromstring(replace_hostdevs_with(xml, "virtio-rng" if model == "virtio-rng" else "e1000e"))
    assert replaced.find("devices/hostdev") is None
    endpoint = replaced.find("devices/rng" if model == "virtio-rng" else "devices/interface[@type='user']")
    assert endpoint is not None
    address = endpoint.find("address")
    assert address is not None
    assert address.attrib == guest_address.attrib


def shape(element: ET.Element | None) -> list[tuple[str, dict[str, str], str]]:
    """Tags, attributes and text of a subtree, blind to indentation."""
    assert element is not None
    return [(e.tag, e.attrib, (e.text or "").strip()) for e in element.iter()]


def test_make_bootable_keeps_the_guest_view_and_validates(tmp_path: Path) -> None:
    xml = replace_hostdevs_with(rendered(["0", "1", "2", "3"]))
    console = tmp_path / "c.log"
    bootable = make_bootable(
        xml, "bootable", kernel=tmp_path / "k", initrd=tmp_path / "i", console_log=console
    )
    validate_domain(bootable)
    root, before = ET.fromstring(bootable), ET.fromstring(xml)
    assert root.get("type") == "qemu"
    assert root.findtext("name") == "bootable"
    assert root.find("uuid") is None
    assert root.findtext("os/kernel") == str(tmp_path / "k")
    assert root.find("features/kvm") is None
    assert root.find("features/acpi") is not None
    assert root.find("devices/disk") is None
    assert root.find("devices/console") is None
    assert [c.get("model") for c in root.findall("devices/controller[@type='usb']")] == ["none"]
    assert [s.get("path") for s in root.findall("devices/serial/source")] == [str(console)]
    assert root.find("cpu/feature") is None
    for path in ("cpu/numa", "cpu/topology", "cputune", "numatune", "devices/rng", "vcpu", "memory"):
        assert shape(root.find(path)) == shape(before.find(path)), path


CONSOLE = """\r
[    0.512] some kernel noise\r
E2E nproc=4\r
E2E node=0 cpulist=0-1 MemTotal: 514388 kB\r
E2E node=1 cpulist=2-3 MemTotal: 469972 kB\r
E2E pci=0000:81:00.0 vendor=0x8086 device=0x10d3 class=0x020000 numa_node=1\r
E2E pci=0000:01:00.0 vendor=0x1af4 device=0x1044 class=0x00ff00 numa_node=-1\r
E2E done\r
"""


def test_parse_console() -> None:
    nproc, nodes, pci = parse_console(CONSOLE)
    assert nproc == 4
    assert nodes == {0: (CpuSet.parse("0-1"), 514388), 1: (CpuSet.parse("2-3"), 469972)}
    assert [(p.address, p.vendor, p.numa_node) for p in pci] == [
        ("0000:81:00.0", "0x8086", 1),
        ("0000:01:00.0", "0x1af4", -1),
    ]


def test_parse_console_without_report_fails() -> None:
    with pytest.raises(AssertionError, match="no 'E2E nproc='"):
        parse_console("Kernel panic - not syncing")


def test_parse_virsh_pin_outputs() -> None:
    vcpuinfo = (
        "VCPU:           0\nCPU:            0\nCPU Affinity:   y-\n\nVCPU:           1\nCPU Affinity:   yy\n"
    )
    assert parse_vcpuinfo(vcpuinfo) == {0: CpuSet.of([0]), 1: CpuSet.of([0, 1])}
    assert parse_vcpupin(" 0      0\n 1      0-1\n") == {0: CpuSet.of([0]), 1: CpuSet.of([0, 1])}
    header = " VCPU   CPU Affinity\n----------------------\n 0      1\n"
    assert parse_vcpupin(header) == {0: CpuSet.of([1])}
    assert parse_emulatorpin(
        " emulator: CPU Affinity\n----------------------------------\n       *: 0-1\n"
    ) == (CpuSet.of([0, 1]))
    assert parse_emulatorpin("1\n") == CpuSet.of([1])


def test_initrd_holds_busybox_and_the_report_script(tmp_path: Path) -> None:
    archive = gzip.decompress(build_initrd(tmp_path).read_bytes())
    listing = subprocess.run(["cpio", "-it"], input=archive, capture_output=True, check=True).stdout.split()
    assert {b"init", b"bin/busybox", b"bin/sh", b"dev/console"} <= set(listing)
    init = subprocess.run(
        ["cpio", "-i", "--to-stdout", "init"], input=archive, capture_output=True, check=True
    ).stdout
    assert init.decode() == INIT_SCRIPT
    assert build_initrd(tmp_path) == build_initrd(tmp_path)
