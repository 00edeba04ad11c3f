"""``kvnuma render`` with the GPUDeviceNUMA step: hostdevs of a base domain go behind
pcie-expander-buses on the guest cell of their host node (fake sysfs with numa_node per device);
without the gate, or without guest NUMA, nothing changes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from kvnuma.cli import cli
from kvnuma.model import PciDevice
from support.hostbuilder import render_capabilities, render_sysfs, synthetic_host
from support.libvirt import Libvirtd, assert_libvirt_accepts, validate_domain

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BASE = EXAMPLES / "pci" / "gpu-base-domain.xml"
KUBEVIRT = EXAMPLES / "pci" / "kubevirt-gpudevicenuma.yaml"
GPU0, GPU1, NVME = "0000:3b:00.0", "0000:af:00.0", "0000:5e:00.0"
MiB = 1 << 20


def vmi(passthrough: bool = True) -> dict[str, object]:
    cpu: dict[str, object] = {
        "cores": 3,
        "threads": 2,
        "dedicatedCpuPlacement": True,
        "isolateEmulatorThread": True,
    }
    memory: dict[str, object] = {"guest": "1026Mi"}
    if passthrough:
        cpu["numa"] = {"guestMappingPassthrough": {}}
        memory["hugepages"] = {"pageSize": "2Mi"}
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"name": "gpu-vm"},
        "spec": {"domain": {"cpu": cpu, "memory": memory}},
    }


@pytest.fixture
def host(tmp_path: Path) -> dict[str, Path]:
    """2 host cells (CPUs 0-3,8-11 and 4-7,12-15), GPU0 on node 0, GPU1 on node 1, NVMe on -1."""
    devices = [PciDevice(GPU0, numa_node=0), PciDevice(GPU1, numa_node=1), PciDevice(NVME, numa_node=-1)]
    topology = synthetic_host(
        cells=2, sockets=2, cores_per_cell=4, threads=2, hugepages={2 * MiB: 1024}, pci_devices=devices
    )
    render_sysfs(topology, tmp_path / "sys")
    (tmp_path / "caps.xml").write_text(render_capabilities(topology))
    for name, passthrough in (("vmi.yaml", True), ("flat.yaml", False)):
        (tmp_path / name).write_text(yaml.safe_dump(vmi(passthrough)))
    return {"sys": tmp_path / "sys", "caps": tmp_path / "caps.xml", "vmi": tmp_path / "vmi.yaml",
            "flat": tmp_path / "flat.yaml"}  # fmt: skip


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["render", "--domain", str(BASE), *args])
    return result.exit_code, result.stdout, result.stderr


def placement(xml: str) -> dict[str, int | None]:
    """Host address -> the guest NUMA node (expander <node>) its hostdev sits under, or None."""
    root = ET.fromstring(xml)
    controllers = {int(c.get("index", "-1")): c for c in root.iter("controller") if c.get("type") == "pci"}

    def bus(element: ET.Element) -> int | None:
        address = element.find("address")
        return None if address is None else int(address.get("bus", "0"), 0)

    result: dict[str, int | None] = {}
    for hostdev in root.iter("hostdev"):
        source = hostdev.find("source/address")
        assert source is not None
        name = "{:04x}:{:02x}:{:02x}.{:x}".format(
            *(int(source.get(k, "0"), 0) for k in ("domain", "bus", "slot", "function"))
        )
        port = controllers.get(bus(hostdev) or 0)
        expander = (
            None if port is None or port.get("model") != "pcie-root-port" else controllers.get(bus(port) or 0)
        )
        node = None if expander is None else expander.find("target/node")
        result[name] = None if node is None or node.text is None else int(node.text)
    return result


@pytest.mark.parametrize(
    ("cpuset", "expected", "left"),
    [
        # guest cell 0 <- host node 0, guest cell 1 <- host node 1
        pytest.param("2-5,10-12", {GPU0: 0, GPU1: 1, NVME: None}, [NVME], id="two-cells"),
        # every vCPU on host node 1: one guest cell 0 bound to host node 1; GPU0's node has no cell
        pytest.param("4-7,12-14", {GPU0: None, GPU1: 0, NVME: None}, [GPU0, NVME], id="only-host-node-1"),
    ],
)
def test_gate_places_devices_on_the_guest_cell_of_their_host_node(
    host: dict[str, Path], cpuset: str, expected: dict[str, int | None], left: list[str]
) -> None:
    code, out, err = run(
        "--vmi", str(host["vmi"]), "--sysfs", str(host["sys"]), "--cpuset", cpuset,
        "--kubevirt", str(KUBEVIRT),
    )  # fmt: skip
    assert code == 0, err
    assert placement(out) == expected
    assert [line for line in err.splitlines() if "left in place" in line] == [
        line for line in err.splitlines() if any(address in line for address in left)
    ]
    assert len(err.splitlines()) == len(left)
    assert out.startswith('<?xml version="1.0"?>')
    validate_domain(out)


def test_capabilities_with_pci_sysfs_and_feature_gate_option(host: dict[str, Path]) -> None:
    code, out, _ = run(
        "--vmi", str(host["vmi"]), "--capabilities", str(host["caps"]), "--pci-sysfs", str(host["sys"]),
        "--cpuset", "2-5,10-12", "--feature-gate", "GPUDeviceNUMA", "-o", "json",
    )  # fmt: skip
    assert code == 0
    document = json.loads(out)
    assert placement(document["domainXml"]) == {GPU0: 0, GPU1: 1, NVME: None}
    assert document["pci"]["applied"] is True
    assert [(d["device"], d["rule"]) for d in document["pci"]["leftInPlace"]] == [(NVME, "pci-numa-affinity")]


def test_without_the_gate_nothing_changes(host: dict[str, Path]) -> None:
    args = ("--vmi", str(host["vmi"]), "--sysfs", str(host["sys"]), "--cpuset", "2-5,10-12")
    plain = run(*args)
    other_gate = run(*args, "--feature-gate", "CPUManager", "--pci-sysfs", str(host["sys"]))
    assert plain[0] == other_gate[0] == 0
    assert plain[1] == other_gate[1]
    assert "pcie-expander-bus" not in plain[1]
    assert set(placement(plain[1]).values()) == {None}
    assert plain[2] == other_gate[2] == ""


def test_no_guest_numa_means_no_pci_step(host: dict[str, Path]) -> None:
    # no host PCI facts given at all: the step must not even ask for them
    code, out, err = run(
        "--vmi", str(host["flat"]), "--capabilities", str(host["caps"]), "--cpuset", "2-5,10-12",
        "--feature-gate", "GPUDeviceNUMA", "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    document = json.loads(out)
    assert document["pci"]["applied"] is False
    assert "no guest NUMA cells" in document["pci"]["note"]
    assert "pcie-expander-bus" not in document["domainXml"]


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        pytest.param(("--pci-strict", "--sysfs", "{sys}"), "pci-numa-affinity", id="strict-minus-one"),
        pytest.param(("--capabilities", "{caps}"), "--pci-sysfs", id="no-pci-facts"),
        pytest.param(
            ("--sysfs", "{sys}", "--kubevirt", "{vmi}"), "expected one KubeVirt object", id="bad-cr"
        ),
    ],
)
def test_pci_bad_input_is_one_line_and_exit_2(
    host: dict[str, Path], extra: tuple[str, ...], fragment: str
) -> None:
    args = [a.format(sys=host["sys"], caps=host["caps"], vmi=host["vmi"]) for a in extra]
    code, out, err = run(
        "--vmi", str(host["vmi"]), "--cpuset", "2-5,10-12", "--feature-gate", "GPUDeviceNUMA", *args
    )
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert fragment in err


def test_libvirt_defines_the_placed_domain(libvirtd: Libvirtd, host: dict[str, Path]) -> None:
    code, out, _ = run(
        "--vmi", str(host["vmi"]), "--sysfs", str(host["sys"]), "--cpuset", "2-5,10-12",
        "--kubevirt", str(KUBEVIRT),
    )  # fmt: skip
    assert code == 0
    assert "pcie-expander-bus" in out
    assert_libvirt_accepts(libvirtd, out)


def test_a_gpu_on_a_cpuless_host_node_gets_a_cpuless_guest_cell(tmp_path: Path) -> None:
    """Host nodes 0 and 1 with CPUs, node 2 memory only with GPU0 (a GB200-like host): with
    ``kvnuma.io/cpuless-device-cells: on`` the GPU goes behind an expander on a CPU-less guest
    cell 2; with QEMU 9.0+ an ACPI Generic Initiator ties it there. Without the annotation it
    stays in place, as in KubeVirt."""
    topology = synthetic_host(
        cells=2,
        sockets=2,
        cores_per_cell=4,
        threads=2,
        hugepages={2 * MiB: 1024},
        memory_only_cells=1,
        pci_devices=[PciDevice(GPU0, numa_node=2)],
    )
    render_sysfs(topology, tmp_path / "sys")
    document = vmi()
    args = ["--sysfs", str(tmp_path / "sys"), "--cpuset", "2-5,10-12", "--kubevirt", str(KUBEVIRT)]
    (tmp_path / "plain.yaml").write_text(yaml.safe_dump(document))
    document["metadata"] = {"name": "gpu-vm", "annotations": {"kvnuma.io/cpuless-device-cells": "on"}}
    (tmp_path / "on.yaml").write_text(yaml.safe_dump(document))

    code, out, err = run("--vmi", str(tmp_path / "plain.yaml"), *args)
    assert code == 0, err
    assert placement(out) == {GPU0: None, GPU1: None, NVME: None}

    code, out, err = run("--vmi", str(tmp_path / "on.yaml"), *args, "--qemu-version", "10.0")
    assert code == 0, err
    assert placement(out)[GPU0] == 2
    root = ET.fromstring(out)
    cells = {c.get("id", ""): c.get("cpus") for c in root.iter("cell")}
    assert sorted(cells) == ["0", "1", "2"]
    assert cells["0"]
    assert cells["1"]
    assert cells["2"] is None
    assert "guest cell 2: CPU-less, for host node 2 (0000:3b:00.0)" in err
    assert any(
        "acpi-generic-initiator" in (a.get("value") or "") for a in root.iter() if a.tag.endswith("arg")
    )
    validate_domain(out)

    code, out, err = run("--vmi", str(tmp_path / "on.yaml"), *args, "--qemu-version", "7.2", "-o", "json")
    assert code == 0, err
    summary = json.loads(out)["pci"]["summary"]
    assert any("CPU-less" in line and "generic" not in line for line in summary)
