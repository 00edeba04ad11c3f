"""End to end: the bundled hook places devices, a real guest (QEMU TCG) reports their NUMA nodes.

Passthrough is impossible here, so after the hook has placed the hostdevs, each one becomes an
emulated PCIe endpoint (e1000e, virtio-rng) at the guest address the hook chose. The fake host
sysfs puts 0000:3b:00.0 on host node 0, 0000:af:00.0 on host node 1 and 0000:5e:00.0 nowhere (-1).
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pci.pci_domains import numa_domain
from pci.pci_sysfs_tree import FakePciDevice, build_sysfs
from support.guest import boot_and_report, make_bootable, project_onto_this_host, this_host_cpus
from support.libvirt import Libvirtd

BUNDLE = Path(__file__).resolve().parents[2] / "deploy" / "hook" / "onDefineDomain"
VIRTIO_RNG = ("0x1af4", "0x1044")
E1000E = ("0x8086", "0x10d3")


def emulate(xml: str) -> str:
    """Hostdev 0 -> e1000e, the others -> virtio-rng, each at the hostdev's guest address and alias."""
    root = ET.fromstring(xml)
    devices = root.find("devices")
    assert devices is not None
    for position, hostdev in enumerate(list(devices)):
        if hostdev.tag != "hostdev":
            continue
        source = hostdev.find("source/address")
        assert source is not None
        if source.get("bus") == "0x3b":
            endpoint = ET.Element("interface", type="user")
            ET.SubElement(endpoint, "model", type="e1000e")
        else:
            endpoint = ET.Element("rng", model="virtio")
            ET.SubElement(endpoint, "backend", model="random").text = "/dev/urandom"
        guest_address = hostdev.find("address")
        if guest_address is not None:
            endpoint.append(guest_address)
        alias = hostdev.find("alias")  # the device's QEMU id (the Generic Initiator names it)
        if alias is not None:
            endpoint.append(alias)
        devices.remove(hostdev)
        devices.insert(position, endpoint)
    return ET.tostring(root, encoding="unicode")


@pytest.mark.boot
def test_guest_sees_each_device_on_its_planned_node(libvirtd: Libvirtd, tmp_path: Path) -> None:
    sysfs = build_sysfs(
        tmp_path / "sys",
        [
            FakePciDevice("0000:3b:00.0", 0, "pci0000:3a", ("0000:3a:00.0",)),
            FakePciDevice("0000:af:00.0", 1, "pci0000:ae", ("0000:ae:00.0",)),
            FakePciDevice("0000:5e:00.0", -1, "pci0000:5d", ("0000:5d:00.0",)),
        ],
        {0: "0", 1: "1"},
    )
    domain = numa_domain(2, ["0000:3b:00.0", "0000:af:00.0", "0000:5e:00.0"], cell_mib=384, name="pci-numa")
    hooked = subprocess.run(
        [sys.executable, "-I", str(BUNDLE), "--vmi", "{}", "--domain", domain],
        capture_output=True,
        text=True,
        env={**os.environ, "KVNUMA_SYSFS_ROOT": str(sysfs)},
        timeout=60,
        check=True,
    )
    assert "left in place: 0000:5e:00.0 has no host NUMA node (-1)" in hooked.stderr
    projected, _ = project_onto_this_host(hooked.stdout, this_host_cpus())
    report = boot_and_report(libvirtd, make_bootable(emulate(projected), "pci-numa"))
    print(
        "\n".join(f"guest pci {f.address} {f.vendor}:{f.device} numa_node={f.numa_node}" for f in report.pci)
    )
    assert sorted(report.nodes) == [0, 1]
    endpoints = [
        (f.vendor, f.device, f.numa_node) for f in report.pci if (f.vendor, f.device) in (VIRTIO_RNG, E1000E)
    ]
    assert sorted(endpoints) == sorted([(*E1000E, 0), (*VIRTIO_RNG, 1), (*VIRTIO_RNG, -1)])
    bridges = {f.numa_node for f in report.pci if f.pci_class == "0x060400"}
    assert {0, 1} <= bridges  # the root ports behind the expanders carry the nodes too


CPULESS_VMI = '{"metadata": {"annotations": {"kvnuma.io/cpuless-device-cells": "on"}}}'


def cpuless_host(root: Path) -> Path:
    """Host nodes 0 and 1 with CPUs 0 and 1; node 2 (CPU-less) holds the GPU 0000:3b:00.0."""
    sysfs = build_sysfs(
        root, [FakePciDevice("0000:3b:00.0", 2, "pci0000:3a", ("0000:3a:00.0",))], {0: "0", 1: "1", 2: ""}
    )
    for node, row in {0: "10 21 40", 1: "21 10 30", 2: "40 30 10"}.items():
        (sysfs / "devices" / "system" / "node" / f"node{node}" / "distance").write_text(row + "\n")
    return sysfs


def run_bundle(vmi: str, domain: str, sysfs: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", str(BUNDLE), "--vmi", vmi, "--domain", domain],
        capture_output=True,
        text=True,
        env={**os.environ, "KVNUMA_SYSFS_ROOT": str(sysfs), **env},
        timeout=60,
        check=True,
    )


@pytest.mark.boot
def test_guest_sees_a_device_on_its_cpuless_node(libvirtd: Libvirtd, tmp_path: Path) -> None:
    """The hook (bundle, real process) gives the GPU on CPU-less host node 2 a CPU-less guest cell
    and, with this host's QEMU (10.0: ``<emulator> --version``), an ACPI Generic Initiator; the
    booted guest reports node 2 without CPUs and the device on it."""
    domain = numa_domain(2, ["0000:3b:00.0"], vcpupins={0: 0, 1: 1}, cell_mib=256, name="cpuless")
    hooked = run_bundle(CPULESS_VMI, domain, cpuless_host(tmp_path / "sys"))
    assert "guest cell 2: CPU-less, for host node 2 (0000:3b:00.0)" in hooked.stderr
    assert "ACPI generic initiator" in hooked.stderr
    projected, _ = project_onto_this_host(hooked.stdout, this_host_cpus())
    report = boot_and_report(libvirtd, make_bootable(emulate(projected), "pci-cpuless"))
    print(
        "\n".join(f"guest node {n}: cpus {c} MemTotal {m} kB" for n, (c, m) in sorted(report.nodes.items()))
    )
    print(
        "\n".join(f"guest pci {f.address} {f.vendor}:{f.device} numa_node={f.numa_node}" for f in report.pci)
    )
    assert sorted(report.nodes) == [0, 1, 2]
    assert not report.nodes[2][0]  # no CPUs on guest node 2
    assert report.nodes[0][0]
    assert report.nodes[1][0]
    assert [f.numa_node for f in report.pci if (f.vendor, f.device) == E1000E] == [2]
    assert any("acpi-generic-initiator" in arg for arg in report.qemu_args)


def test_cpuless_cells_are_off_without_the_annotation_and_a_bad_value_changes_nothing(tmp_path: Path) -> None:
    sysfs = cpuless_host(tmp_path / "sys")
    domain = numa_domain(2, ["0000:3b:00.0"], vcpupins={0: 0, 1: 1}, cell_mib=256, name="cpuless")
    plain = run_bundle("{}", domain, sysfs)
    assert "no guest cell is bound to host node 2" in plain.stderr
    assert '<cell id="2"' not in plain.stdout
    assert "<cell id='2'" not in plain.stdout
    bad = run_bundle(
        '{"metadata": {"annotations": {"kvnuma.io/cpuless-device-cells": "yes"}}}', domain, sysfs
    )
    assert bad.stdout == domain
    assert bad.stderr.strip().splitlines() == [
        "kvnuma hook: error: annotation kvnuma.io/cpuless-device-cells: 'yes' is not one of on, off; "
        "domain left unchanged"
    ]
    old_qemu = run_bundle(CPULESS_VMI, domain, sysfs, KVNUMA_QEMU_VERSION="7.2.0")
    assert "guest cell 2: CPU-less" in old_qemu.stderr
    assert "generic" not in old_qemu.stderr.lower()
    assert "acpi-generic-initiator" not in old_qemu.stdout
