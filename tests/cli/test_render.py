"""``kvnuma render`` end to end in-process: real files in, XML/JSON out, one line and exit 2 on bad input."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from kvnuma.cli import cli
from support.hostbuilder import render_capabilities, render_sysfs, synthetic_host
from support.libvirt import validate_domain

MiB = 1 << 20


def numa_vmi(cores: int = 3, threads: int = 2, memory: str = "1026Mi", **cpu: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"name": "numavm"},
        "spec": {
            "domain": {
                "cpu": {
                    "cores": cores,
                    "threads": threads,
                    "dedicatedCpuPlacement": True,
                    "isolateEmulatorThread": True,
                    "numa": {"guestMappingPassthrough": {}},
                    **cpu,
                },
                "memory": {"guest": memory, "hugepages": {"pageSize": "2Mi"}},
            }
        },
    }


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    host = synthetic_host(cells=2, sockets=2, cores_per_cell=4, threads=2, hugepages={2 * MiB: 400})
    caps = tmp_path / "caps.xml"
    caps.write_text(render_capabilities(host))
    render_sysfs(host, tmp_path / "sys")
    vmi = tmp_path / "vmi.yaml"
    vmi.write_text(yaml.safe_dump(numa_vmi()))
    return {"caps": caps, "sysfs": tmp_path / "sys", "vmi": vmi, "dir": tmp_path}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_render_from_capabilities_matches_the_derived_example(files: dict[str, Path]) -> None:
    code, out, _ = run(
        "render", "--vmi", str(files["vmi"]), "--capabilities", str(files["caps"]), "--cpuset", "2-5,10-12"
    )
    assert code == 0
    validate_domain(out)
    root = ET.fromstring(out)
    assert [p.get("cpuset") for p in root.iter("vcpupin")] == ["2", "10", "3", "11", "4", "12"]
    assert root.find("cputune/emulatorpin").get("cpuset") == "5"  # type: ignore[union-attr]
    assert [int(c.get("memory", "0")) // MiB for c in root.iter("cell")] == [514, 512]


def test_render_json_and_sysfs_and_proportional_split(files: dict[str, Path]) -> None:
    code, out, _ = run(
        "render", "--vmi", str(files["vmi"]), "--sysfs", str(files["sysfs"]), "--cpuset", "2-5,10-12",
        "--memory-split", "proportional", "-o", "json",
    )  # fmt: skip
    assert code == 0
    document = json.loads(out)
    assert [c["memoryBytes"] // MiB for c in document["plan"]["cells"]] == [684, 342]
    validate_domain(document["domainXml"])


def test_render_merges_into_a_base_domain(files: dict[str, Path]) -> None:
    base = files["dir"] / "base.xml"
    base.write_text(
        "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>b</name>"
        "<memory>1</memory><os><type>hvm</type></os><devices><emulator>/usr/bin/qemu-system-x86_64</emulator>"
        "</devices><qemu:commandline><qemu:arg value='-S'/></qemu:commandline></domain>"
    )
    code, out, _ = run(
        "render", "--vmi", str(files["vmi"]), "--capabilities", str(files["caps"]), "--cpuset", "2-5,10-12",
        "--domain", str(base),
    )  # fmt: skip
    assert code == 0
    assert '<qemu:commandline><qemu:arg value="-S" /></qemu:commandline>' in out
    assert "<emulator>/usr/bin/qemu-system-x86_64</emulator>" in out
    validate_domain(out)


@pytest.mark.parametrize(
    ("vmi", "cpuset", "fragment"),
    [
        pytest.param(numa_vmi(), "2-5", "cpuset-size: needed 7 CPUs", id="too-few-cpus"),
        pytest.param(numa_vmi(memory="1025Mi"), "2-5,10-12", "memory-multiple-of-page-size", id="odd-memory"),
        pytest.param(
            numa_vmi(cores=2, threads=1, memory="2Mi"), "3,4,5", "memory-one-page-per-cell", id="tiny"
        ),
        pytest.param(numa_vmi(realtime={"mask": "0-9"}), "2-5,10-12", "realtime.mask", id="mask"),
        pytest.param(numa_vmi(), "2-x", "--cpuset: malformed", id="bad-cpuset"),
        pytest.param(
            numa_vmi(memory="1800Mi"), "2-5,10-12", "hugepages-per-node: needed 450 pages", id="pages"
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    files: dict[str, Path], vmi: dict[str, Any], cpuset: str, fragment: str
) -> None:
    path = files["dir"] / "bad.yaml"
    path.write_text(yaml.safe_dump(vmi))
    code, out, err = run("render", "--vmi", str(path), "--sysfs", str(files["sysfs"]), "--cpuset", cpuset)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert fragment in err


def test_bad_files_are_one_line_and_exit_2(files: dict[str, Path]) -> None:
    broken = files["dir"] / "broken.xml"
    broken.write_text("<capabilities><host>")
    for args in (
        ("--vmi", str(files["dir"] / "missing.yaml"), "--capabilities", str(files["caps"])),
        ("--vmi", str(files["vmi"]), "--capabilities", str(broken)),
        ("--vmi", str(files["vmi"]), "--capabilities", str(files["caps"]), "--domain", str(broken)),
    ):
        code, _, err = run("render", *args, "--cpuset", "2-5,10-12")
        assert code == 2
        assert err.count("\n") == 1
        assert str(args[1]) in err or "broken.xml" in err


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_render_a_vm_with_its_instance_type_and_preference(tmp_path: Path) -> None:
    host = synthetic_host(cells=2, sockets=2, cores_per_cell=8, threads=1, hugepages={2 * MiB: 8192})
    caps = tmp_path / "caps.xml"
    caps.write_text(render_capabilities(host))
    code, out, err = run(
        "render", "--vmi", str(EXAMPLES / "instancetypes" / "vm-cx1.yaml"),
        "--instancetype", str(EXAMPLES / "instancetypes" / "cx1-numa-instancetype.yaml"),
        "--preference", str(EXAMPLES / "instancetypes" / "spread-preference.yaml"),
        "--capabilities", str(caps), "--cpuset", "0-8",
    )  # fmt: skip
    assert code == 0, err
    validate_domain(out)
    root = ET.fromstring(out)
    # cx1.2xlarge-numa: 8 vCPUs as 4 sockets x 2 cores (spread-2), maxSockets 8, isolated emulator
    assert root.find("cpu/topology").attrib == {"sockets": "8", "cores": "2", "threads": "1"}  # type: ignore[union-attr]
    assert root.findtext("vcpu") == "16"
    assert [p.get("cpuset") for p in root.iter("vcpupin")] == [str(i) for i in range(8)]
    assert root.find("cputune/emulatorpin").get("cpuset") == "8"  # type: ignore[union-attr]
    assert root.findtext("memory") == str(16 << 30)


def test_render_applies_the_cluster_hotplug_defaults(files: dict[str, Path]) -> None:
    args = [
        "render",
        "--vmi",
        str(files["vmi"]),
        "--capabilities",
        str(files["caps"]),
        "--cpuset",
        "2-5,10-12",
    ]
    _, plain, _ = run(*args)
    code, out, _ = run(
        *args, "--cluster-config", str(EXAMPLES / "instancetypes" / "hyperconverged-ratio-1.yaml")
    )
    assert code == 0
    assert ET.fromstring(plain).find("vcpus") is None
    root = ET.fromstring(out)
    # KubeVirt sizes hotplug from the VMI's own sockets: unset here, so 0 x ratio = no hotplug slot
    assert root.find("vcpus") is None
    assert root.findtext("vcpu") == "6"
    validate_domain(out)
    sockets_set = files["vmi"].parent / "with-sockets.yaml"
    sockets_set.write_text(files["vmi"].read_text().replace("cores: 3", "sockets: 1\n      cores: 3"))
    code, out, err = run(
        "render", "--vmi", str(sockets_set), "--capabilities", str(files["caps"]), "--cpuset", "2-5,10-12",
        "--cluster-config", str(EXAMPLES / "instancetypes" / "hyperconverged-ratio-1.yaml"),
    )  # fmt: skip
    assert code == 0, err
    # ratio 1 with sockets set: maxSockets = sockets, every vCPU enabled, none hotpluggable
    root = ET.fromstring(out)
    assert [v.get("hotpluggable") for v in root.iter("vcpu") if v.get("id") is not None] == ["no"] * 6
    validate_domain(out)
