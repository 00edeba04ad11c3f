"""Smoke tests of the real-parts harness: libvirtd accepts, TCG guests boot and report their NUMA view.

The domain is hand-written (2 guest cells, 4 vCPUs) and pinned as if the host had pCPUs 4-9 and
two NUMA nodes; ``project_onto_this_host`` folds that onto this machine before the boot.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from kvnuma.model import CpuSet
from support.guest import (
    GuestReport,
    boot_and_report,
    make_bootable,
    project_onto_this_host,
    replace_hostdevs_with,
    this_host_cpus,
)
from support.libvirt import Libvirtd, assert_libvirt_accepts, define_domain, validate_domain

TWO_CELLS = """
<domain type='kvm'>
  <name>two-cells</name>
  <memory unit='MiB'>1024</memory>
  <vcpu placement='static'>4</vcpu>
  <cputune>
    <vcpupin vcpu='0' cpuset='4'/>
    <vcpupin vcpu='1' cpuset='5'/>
    <vcpupin vcpu='2' cpuset='6'/>
    <vcpupin vcpu='3' cpuset='7'/>
    <emulatorpin cpuset='8-9'/>
  </cputune>
  <numatune>
    <memory mode='strict' nodeset='0-1'/>
    <memnode cellid='0' mode='strict' nodeset='0'/>
    <memnode cellid='1' mode='strict' nodeset='1'/>
  </numatune>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <cpu mode='host-passthrough'>
    <topology sockets='2' dies='1' cores='2' threads='1'/>
    <numa>
      <cell id='0' cpus='0-1' memory='512' unit='MiB'/>
      <cell id='1' cpus='2-3' memory='512' unit='MiB'/>
    </numa>
  </cpu>
  <devices>
    <controller type='pci' index='0' model='pcie-root'/>
  </devices>
</domain>
"""


def planned_cells(xml: str) -> dict[int, tuple[CpuSet, int]]:
    """Guest cell id -> (vCPUs, memory KiB) as the domain asks for them."""
    cells = ET.fromstring(xml).findall("cpu/numa/cell")
    scale = {"KiB": 1, "MiB": 1024, "GiB": 1 << 20}
    return {
        int(c.get("id", "")): (
            CpuSet.parse(c.get("cpus", "")),
            int(c.get("memory", "")) * scale[c.get("unit", "KiB")],
        )
        for c in cells
    }


def expected_pins(projected_xml: str) -> tuple[dict[int, CpuSet], CpuSet]:
    root = ET.fromstring(projected_xml)
    vcpus = {
        int(p.get("vcpu", "")): CpuSet.parse(p.get("cpuset", "")) for p in root.findall("cputune/vcpupin")
    }
    emulator = root.find("cputune/emulatorpin")
    assert emulator is not None
    return vcpus, CpuSet.parse(emulator.get("cpuset", ""))


def qemu_objects(args: tuple[str, ...]) -> dict[str, dict[str, object]]:
    """The JSON ``-object`` arguments of a QEMU command line, by id."""
    values = (args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "-object")
    objects = (json.loads(v) for v in values if v.startswith("{"))
    return {o["id"]: o for o in objects if "id" in o}


def assert_sees_planned_cells(report: GuestReport, xml: str) -> None:
    plan = planned_cells(xml)
    assert report.nproc == sum(len(cpus) for cpus, _ in plan.values())
    assert set(report.nodes) == set(plan)
    for cell, (cpus, planned_kib) in plan.items():
        seen_cpus, memtotal_kib = report.nodes[cell]
        assert seen_cpus == cpus, f"guest node {cell}"
        # the guest kernel keeps part of each node for itself: MemTotal is a little below the plan
        assert 0.8 * planned_kib <= memtotal_kib <= planned_kib, f"guest node {cell}: {memtotal_kib} KiB"


def test_validate_domain_rejects_malformed_xml() -> None:
    broken = TWO_CELLS.replace("<vcpu placement='static'>4</vcpu>", "<vcpu>four</vcpu>")
    with pytest.raises(AssertionError, match="fails to validate"):
        validate_domain(broken)


def test_validate_domain_accepts_the_bootable_domain() -> None:
    projected, _ = project_onto_this_host(TWO_CELLS, this_host_cpus())
    validate_domain(make_bootable(projected, "validate-only"))


def test_libvirt_accepts_the_hand_written_domain(libvirtd: Libvirtd) -> None:
    before = set(libvirtd.domain_names())
    assert_libvirt_accepts(libvirtd, TWO_CELLS)
    assert set(libvirtd.domain_names()) == before


def test_define_reports_libvirts_rejection(libvirtd: Libvirtd) -> None:
    pxb_on_missing_cell = TWO_CELLS.replace(
        "</devices>",
        "<controller type='pci' index='1' model='pcie-expander-bus'>"
        "<target busNr='128'><node>2</node></target></controller></devices>",
    )
    validate_domain(pxb_on_missing_cell)  # the schema cannot know: libvirt itself rejects it
    with pytest.raises(AssertionError, match=r"not present in the domain's <cpu><numa>"):
        define_domain(libvirtd, pxb_on_missing_cell)


@pytest.mark.boot
def test_two_cell_guest_boots_with_planned_cells_and_pins(libvirtd: Libvirtd) -> None:
    projected, mapping = project_onto_this_host(TWO_CELLS, this_host_cpus())
    assert set(mapping) == set(range(4, 10))
    report = boot_and_report(libvirtd, make_bootable(projected, "two-cells"))
    print(f"two-cell TCG boot: {report.boot_seconds:.1f} s, attempts {report.attempts}")

    assert_sees_planned_cells(report, TWO_CELLS)
    vcpu_pins, emulator_pin = expected_pins(projected)
    assert report.vcpu_affinity == vcpu_pins
    assert report.vcpu_pins == vcpu_pins
    assert report.emulator_affinity == emulator_pin
    for cell, (cpus, _) in planned_cells(TWO_CELLS).items():
        assert f"node,nodeid={cell},cpus={cpus.format()}," in report.qemu_command_line


@pytest.mark.boot
def test_hugepage_backed_cell_boots(libvirtd: Libvirtd) -> None:
    backed = TWO_CELLS.replace(
        "<vcpu ",
        "<memoryBacking><hugepages><page size='2048' unit='KiB' nodeset='1'/></hugepages></memoryBacking>"
        "<vcpu ",
    )
    projected, _ = project_onto_this_host(backed, this_host_cpus())
    report = boot_and_report(libvirtd, make_bootable(projected, "hugepage-cell"))
    print(f"hugepage-cell TCG boot: {report.boot_seconds:.1f} s, attempts {report.attempts}")

    assert_sees_planned_cells(report, backed)
    objects = qemu_objects(report.qemu_args)
    assert objects["ram-node1"]["qom-type"] == "memory-backend-file"
    assert str(objects["ram-node1"]["mem-path"]).startswith("/dev/hugepages/")
    assert objects["ram-node0"]["qom-type"] == "memory-backend-ram"


PXB_WITH_HOSTDEV = """
<controller type='pci' index='1' model='pcie-expander-bus'>
  <target busNr='128'><node>1</node></target>
  <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>
</controller>
<controller type='pci' index='2' model='pcie-root-port'>
  <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
</controller>
<hostdev mode='subsystem' type='pci' managed='yes'>
  <source><address domain='0x0000' bus='0x3b' slot='0x00' function='0x0'/></source>
  <address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>
</hostdev>
</devices>
"""
E1000E = ("0x8086", "0x10d3")  # QEMU's e1000e model: Intel 82574L


@pytest.mark.boot
def test_hostdev_swapped_for_emulated_endpoint_sits_on_its_guest_node(libvirtd: Libvirtd) -> None:
    with_hostdev = TWO_CELLS.replace("</devices>", PXB_WITH_HOSTDEV)
    pxb_node = ET.fromstring(with_hostdev).findtext(
        "devices/controller[@model='pcie-expander-bus']/target/node"
    )
    assert pxb_node is not None
    projected, _ = project_onto_this_host(with_hostdev, this_host_cpus())
    report = boot_and_report(
        libvirtd, make_bootable(replace_hostdevs_with(projected, "e1000e"), "pxb-hostdev")
    )
    print(f"pxb-hostdev TCG boot: {report.boot_seconds:.1f} s, attempts {report.attempts}")

    endpoints = [p for p in report.pci if (p.vendor, p.device) == E1000E]
    assert [p.numa_node for p in endpoints] == [int(pxb_node)]
