"""``kvnuma plan --host-device``: the PCI step as the hook would run it, one verdict per device,
a refusal shown rather than raised; ``-o json`` matches docs/schemas/plan.json.

Host: two cells on two sockets; the cpuset puts every vCPU on host node 1 (one guest cell)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from kvnuma.cli import cli
from kvnuma.model import PciDevice
from kvnuma.names import PCI_NUMA_POLICY_ANNOTATION
from support.hostbuilder import render_sysfs, synthetic_host

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
GPU0, GPU1, NVME = "0000:3b:00.0", "0000:af:00.0", "0000:5e:00.0"
MiB = 1 << 20


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    devices = [PciDevice(GPU0, numa_node=0), PciDevice(GPU1, numa_node=1), PciDevice(NVME, numa_node=-1)]
    topology = synthetic_host(
        cells=2, sockets=2, cores_per_cell=4, threads=2, hugepages={2 * MiB: 1024}, pci_devices=devices
    )
    render_sysfs(topology, tmp_path / "sys")
    return tmp_path / "sys"


def plan(tmp_path: Path, sysfs: Path, policy: str, *extra: str) -> tuple[int, str, str]:
    cpu = {"cores": 3, "threads": 2, "dedicatedCpuPlacement": True, "numa": {"guestMappingPassthrough": {}}}
    devices = {
        "gpus": [
            {"name": "gpu0", "deviceName": "nvidia.com/A10"},
            {"name": "gpu1", "deviceName": "nvidia.com/A10"},
        ],
        "hostDevices": [{"name": "nvme", "deviceName": "example.com/nvme"}],
    }
    vmi = {
        "kind": "VirtualMachineInstance",
        "metadata": {"name": "gpu-vm", "annotations": {PCI_NUMA_POLICY_ANNOTATION: policy}},
        "spec": {
            "domain": {
                "cpu": cpu,
                "memory": {"guest": "1Gi", "hugepages": {"pageSize": "2Mi"}},
                "devices": devices,
            }
        },
    }
    path = tmp_path / "vmi.yaml"
    path.write_text(yaml.safe_dump(vmi))
    result = CliRunner().invoke(
        cli,
        ["plan", "--vmi", str(path), "--sysfs", str(sysfs), "--cpuset", "4-7,12-14",
         "--host-device", f"gpu0={GPU0}", "--host-device", f"gpu1={GPU1}", "--host-device", f"nvme={NVME}",
         *extra],
    )  # fmt: skip
    return result.exit_code, result.stdout, result.stderr


def schema_errors(document: Any) -> list[str]:
    resources = [
        (f"urn:kvnuma:schemas:{p.name}", Resource.from_contents(json.loads(p.read_text())))
        for p in SCHEMAS.glob("*.json")
    ]
    registry = Registry[Any]().with_resources(resources)
    schema = json.loads((SCHEMAS / "plan.json").read_text())
    validator = Draft202012Validator(schema, registry=registry)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


@pytest.mark.parametrize(
    ("policy", "outcomes", "note"),
    [
        pytest.param("preferred", ["placed", "left in place", "placed"], "", id="preferred"),
        pytest.param("required", ["refused", "refused", "placed"], "the hook would refuse", id="required"),
    ],
)
def test_json_shows_every_device_and_matches_the_schema(
    tmp_path: Path, sysfs: Path, policy: str, outcomes: list[str], note: str
) -> None:
    code, out, err = plan(tmp_path, sysfs, policy, "-o", "json")
    assert code == 0, err
    document = json.loads(out)
    pci = document["pci"]
    assert [(d["device"], d["outcome"]) for d in pci["devices"]] == list(
        zip([GPU0, NVME, GPU1], outcomes, strict=True)
    )
    assert note in (pci["note"] or "")
    assert schema_errors(document) == []
    assert ("pcie-expander-bus" in document["domainXml"]) == (policy != "required")


def test_text_has_a_row_per_device(tmp_path: Path, sysfs: Path) -> None:
    code, out, err = plan(tmp_path, sysfs, "socket")
    assert code == 0, err
    assert "PCI devices (GPUDeviceNUMA step, pci-numa-affinity-policy socket)" in out
    rows = [
        line.split("│")[1:-1] for line in out.splitlines() if GPU0 in line or GPU1 in line or NVME in line
    ]
    cells = [[c.strip() for c in row] for row in rows if row]
    assert cells[-3:] == [
        [GPU0, "0", "other socket", "refused", "-"],
        [NVME, "-1", "no NUMA node", "refused", "-"],
        [GPU1, "1", "pod node", "placed", "0"],
    ]
    assert "the hook would refuse the definition (exit 3)" in out


def test_a_bad_policy_value_is_one_line_and_exit_2(tmp_path: Path, sysfs: Path) -> None:
    code, out, err = plan(tmp_path, sysfs, "always")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "'always' is not one of legacy, preferred, socket, required" in err
