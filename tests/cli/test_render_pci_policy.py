"""``kvnuma render`` with the VMI's ``kvnuma.io/pci-numa-affinity-policy``: the verdict per device
on stderr and in ``-o json``, a refusal or a bad value as one line and exit 2.

The host has two cells on two sockets; the cpuset puts every vCPU on host node 1, so the one
guest cell is bound to host node 1: GPU1 is on a pod node, GPU0 on the other socket, the NVMe
drive has no NUMA node."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from kvnuma.cli import cli
from kvnuma.model import PciDevice
from kvnuma.names import PCI_NUMA_POLICY_ANNOTATION
from pci.pci_sysfs_tree import VGPU0, FakeMdev, add_mdevs
from support.hostbuilder import render_sysfs, synthetic_host
from support.libvirt import validate_domain

MiB = 1 << 20
ON_NODE_1 = "4-7,12-14"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BASE = EXAMPLES / "pci" / "gpu-base-domain.xml"
KUBEVIRT = EXAMPLES / "pci" / "kubevirt-gpudevicenuma.yaml"
GPU0, GPU1, NVME = "0000:3b:00.0", "0000:af:00.0", "0000:5e:00.0"


def vmi() -> dict[str, object]:
    cpu: dict[str, object] = {
        "cores": 3,
        "threads": 2,
        "dedicatedCpuPlacement": True,
        "isolateEmulatorThread": True,
        "numa": {"guestMappingPassthrough": {}},
    }
    memory = {"guest": "1026Mi", "hugepages": {"pageSize": "2Mi"}}
    return {"kind": "VirtualMachineInstance", "spec": {"domain": {"cpu": cpu, "memory": memory}}}


def placement(xml: str) -> dict[str, int | None]:
    """Host address -> the guest cell of the expander its hostdev's root port sits on, or None."""
    root = ET.fromstring(xml)
    controllers = {c.get("index"): c for c in root.iter("controller") if c.get("type") == "pci"}

    def parent(element: ET.Element | None) -> ET.Element | None:
        address = None if element is None else element.find("address")
        return None if address is None else controllers.get(str(int(address.get("bus", "0"), 0)))

    found: dict[str, int | None] = {}
    for hostdev in root.iter("hostdev"):
        source = hostdev.find("source/address")
        assert source is not None
        name = "{:04x}:{:02x}:{:02x}.{:x}".format(
            *(int(source.get(k, "0"), 0) for k in ("domain", "bus", "slot", "function"))
        )
        node = (parent(parent(hostdev)) or ET.Element("none")).findtext("target/node")
        found[name] = None if node is None else int(node)
    return found


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    devices = [PciDevice(GPU0, numa_node=0), PciDevice(GPU1, numa_node=1), PciDevice(NVME, numa_node=-1)]
    topology = synthetic_host(
        cells=2, sockets=2, cores_per_cell=4, threads=2, hugepages={2 * MiB: 1024}, pci_devices=devices
    )
    render_sysfs(topology, tmp_path / "sys")
    return tmp_path / "sys"


def render(tmp_path: Path, sysfs: Path, policy: str, *extra: str) -> tuple[int, str, str]:
    document = vmi()
    document["metadata"] = {"name": "gpu-vm", "annotations": {PCI_NUMA_POLICY_ANNOTATION: policy}}
    path = tmp_path / "vmi.yaml"
    path.write_text(yaml.safe_dump(document))
    result = CliRunner().invoke(
        cli,
        ["render", "--domain", str(BASE), "--vmi", str(path), "--sysfs", str(sysfs), "--cpuset", ON_NODE_1,
         "--kubevirt", str(KUBEVIRT), *extra],
    )  # fmt: skip
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("policy", "expected", "outcomes"),
    [
        pytest.param(
            "legacy",
            {GPU0: None, GPU1: 0, NVME: None},
            ["left in place", "left in place", "placed"],
            id="legacy",
        ),
        pytest.param(
            "preferred", {GPU0: 0, GPU1: 0, NVME: None}, ["placed", "left in place", "placed"], id="preferred"
        ),
    ],
)
def test_json_has_the_verdict_per_device(
    tmp_path: Path, sysfs: Path, policy: str, expected: dict[str, int | None], outcomes: list[str]
) -> None:
    code, out, err = render(tmp_path, sysfs, policy, "-o", "json")
    assert code == 0, err
    document = json.loads(out)
    assert placement(document["domainXml"]) == expected
    assert document["pci"]["policy"] == policy
    devices = document["pci"]["devices"]
    assert [(d["device"], d["locality"], d["outcome"]) for d in devices] == list(
        zip([GPU0, NVME, GPU1], ["other socket", "no NUMA node", "pod node"], outcomes, strict=True)
    )
    validate_domain(document["domainXml"])


def test_stderr_says_the_verdict_of_each_device(tmp_path: Path, sysfs: Path) -> None:
    code, out, err = render(tmp_path, sysfs, "preferred")
    assert code == 0, err
    verdicts = [line for line in err.splitlines() if "PCI NUMA affinity policy preferred" in line]
    prefix = "kvnuma render: PCI NUMA affinity policy preferred: "
    assert verdicts == [
        f"{prefix}{GPU0}: other socket (host node 0): placed on guest cell 0",
        f"{prefix}{NVME}: no NUMA node: left in place",
        f"{prefix}{GPU1}: pod node (host node 1): placed on guest cell 0",
    ]
    assert placement(out) == {GPU0: 0, GPU1: 0, NVME: None}


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        pytest.param("required", "pci-numa-affinity-policy: needed every PCI device", id="required"),
        pytest.param("socket", f"{GPU0} is on host node 0, not on the pod's host nodes 1", id="socket"),
        pytest.param("sometimes", "is not one of legacy, preferred, socket, required", id="bad-value"),
    ],
)
def test_a_refusal_or_a_bad_value_is_one_line_and_exit_2(
    tmp_path: Path, sysfs: Path, policy: str, fragment: str
) -> None:
    code, out, err = render(tmp_path, sysfs, policy)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert fragment in err


def test_a_vgpu_host_device_is_rendered_as_an_mdev_and_placed_by_its_parent(
    tmp_path: Path, sysfs: Path
) -> None:
    add_mdevs(sysfs, [FakeMdev(VGPU0, GPU0)])  # parent GPU0 is on host node 0
    document = vmi()
    spec = document["spec"]
    assert isinstance(spec, dict)
    spec["domain"]["devices"] = {"gpus": [{"name": "vgpu1", "deviceName": "nvidia.com/GRID_A100-4C"}]}
    path = tmp_path / "vgpu.yaml"
    path.write_text(yaml.safe_dump(document))
    result = CliRunner().invoke(
        cli,
        ["render", "--vmi", str(path), "--sysfs", str(sysfs), "--cpuset", "2-5,10-12",
         "--kubevirt", str(KUBEVIRT), "--host-device", f"vgpu1={VGPU0.upper()}", "-o", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    output = json.loads(result.stdout)
    root = ET.fromstring(output["domainXml"])
    (hostdev,) = root.iter("hostdev")
    alias = hostdev.find("alias")
    assert alias is not None
    assert (hostdev.get("type"), hostdev.get("model"), alias.get("name")) == (
        "mdev",
        "vfio-pci",
        "ua-gpu-vgpu1",
    )
    assert [(d["device"], d["outcome"], d["cell"]) for d in output["pci"]["devices"]] == [
        (VGPU0, "placed", 0)
    ]
    validate_domain(output["domainXml"])
