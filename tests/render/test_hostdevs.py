"""The VMI's gpus/hostDevices as KubeVirt's PCI <hostdev>s, from host addresses given as input."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from kvnuma.cli import cli
from kvnuma.errors import InputError
from kvnuma.pci.address import PciAddress
from kvnuma.render.hostdevs import add_hostdevs, parse_host_device, vmi_devices
from support.hostbuilder import render_capabilities, synthetic_host
from support.libvirt import Libvirtd, assert_libvirt_accepts, validate_domain

MiB = 1 << 20


def _vmi() -> dict[str, Any]:
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"name": "gpuvm"},
        "spec": {
            "domain": {
                "cpu": {"cores": 2, "dedicatedCpuPlacement": True, "numa": {"guestMappingPassthrough": {}}},
                "memory": {"guest": "128Mi", "hugepages": {"pageSize": "2Mi"}},
                "devices": {
                    "gpus": [{"name": "gpu1", "deviceName": "nvidia.com/GA102GL_A10"}],
                    "hostDevices": [{"name": "nic1", "deviceName": "intel.com/E810"}],
                },
            }
        },
    }


def _render(tmp_path: Path, *extra: str) -> tuple[int, str, str]:
    caps = tmp_path / "caps.xml"
    caps.write_text(
        render_capabilities(synthetic_host(cells=2, cores_per_cell=2, threads=1, hugepages={2 * MiB: 512}))
    )
    vmi = tmp_path / "vmi.yaml"
    vmi.write_text(yaml.safe_dump(_vmi()))
    args = ["render", "--vmi", str(vmi), "--capabilities", str(caps), "--cpuset", "0-1", *extra]
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.stdout, result.stderr


def test_devices_with_addresses_are_rendered_as_kubevirt_writes_them(tmp_path: Path) -> None:
    code, out, err = _render(
        tmp_path, "--host-device", "gpu1=0000:3b:00.0", "--host-device", "nic1=0000:af:00.1"
    )
    assert code == 0, err
    root = ET.fromstring(out)
    hostdevs = root.findall("devices/hostdev")
    assert [(h.get("managed"), h.find("alias").get("name")) for h in hostdevs] == [  # type: ignore[union-attr]
        ("no", "ua-gpu-gpu1"),
        ("no", "ua-hostdevice-nic1"),
    ]
    address = hostdevs[1].find("source/address")
    assert address is not None
    assert address.attrib == {
        "domain": "0x0000",
        "bus": "0xaf",
        "slot": "0x00",
        "function": "0x1",
    }
    assert err == ""
    validate_domain(out)


def test_a_device_without_an_address_is_named(tmp_path: Path) -> None:
    code, out, err = _render(tmp_path, "--host-device", "gpu1=0000:3b:00.0")
    assert code == 0
    assert len(ET.fromstring(out).findall("devices/hostdev")) == 1
    assert "spec.domain.devices.hostDevices[nic1] (intel.com/E810): no host address: not rendered" in err
    code, out, _ = _render(tmp_path, "-o", "json")
    assert json.loads(out)["hostDevicesMissing"] == [
        "spec.domain.devices.gpus[gpu1]",
        "spec.domain.devices.hostDevices[nic1]",
    ]


@pytest.mark.parametrize(
    ("flag", "fragment"),
    [
        pytest.param("gpu9=0000:3b:00.0", "gpu9: not a GPU or host device of the VMI", id="unknown-name"),
        pytest.param("gpu1=3b:00.0", "is not a PCI address", id="bad-address"),
        pytest.param("gpu1", "expected NAME=DDDD:BB:SS.F", id="no-equals"),
    ],
)
def test_bad_host_device_flags_are_one_line(tmp_path: Path, flag: str, fragment: str) -> None:
    code, _, err = _render(tmp_path, "--host-device", flag)
    assert code == 2
    assert fragment in err
    assert len(err.strip().splitlines()) == 1


def test_adding_is_idempotent() -> None:
    devices = vmi_devices(_vmi())
    xml = "<domain type='kvm'><name>x</name><devices><emulator>/usr/bin/qemu</emulator></devices></domain>"
    once, missing = add_hostdevs(xml, devices, {"gpu1": PciAddress(0, 0x3B, 0, 0)})
    twice, _ = add_hostdevs(once, devices, {"gpu1": PciAddress(0, 0x3B, 0, 0)})
    assert once == twice
    assert [d.name for d in missing] == ["nic1"]
    with pytest.raises(InputError, match="expected an object with a name"):
        vmi_devices({"spec": {"domain": {"devices": {"gpus": [{"deviceName": "x"}]}}}})
    assert parse_host_device("a=0000:00:02.0") == ("a", PciAddress(0, 0, 2, 0))


def test_libvirt_defines_the_domain_with_hostdevs(tmp_path: Path, libvirtd: Libvirtd) -> None:
    code, out, err = _render(
        tmp_path, "--host-device", "gpu1=0000:3b:00.0", "--host-device", "nic1=0000:af:00.1"
    )
    assert code == 0, err
    assert_libvirt_accepts(libvirtd, out)
