"""The hook's IOThread step (``kvnuma.io/iothread-placement: cell``) on stock KubeVirt domains:
it writes the pins the engine plans for the same VM, keeps a bad value's domain unchanged, and
libvirt accepts what it writes."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from kvnuma.hook.main import on_define_domain
from kvnuma.model import CpuSet
from kvnuma.names import IOTHREAD_PLACEMENT_ANNOTATION
from kvnuma.placement import plan_guest
from kvnuma.render import merge_into
from pci.pci_sysfs_tree import build_sysfs
from placement.engine_inputs import HOST_4, vmi
from support.libvirt import Libvirtd, assert_libvirt_accepts

BUNDLE = Path(__file__).resolve().parents[2] / "deploy" / "hook" / "onDefineDomain"
BASE = (Path(__file__).resolve().parents[1] / "render" / "kubevirt_base_domain.xml").read_text()
NODES = {0: "0-1", 1: "2-3", 2: "4-5", 3: "6-7"}  # HOST_4's cells as the pod's sysfs shows them


def cpuset(emulator: bool) -> CpuSet:
    """The pod's CPUs as the hook sees them (the CPUs the domain pins): vCPUs 2,3,4 on host
    cells 1 and 2, plus the isolated emulator's 5."""
    return CpuSet.parse("2-5" if emulator else "2-4")


DISKS: list[dict[str, Any]] = [
    {"name": "root", "disk": {"bus": "virtio"}},
    {"name": "data", "disk": {"bus": "virtio"}, "dedicatedIOThread": True},
]
EXPANDER = (
    "<controller type='pci' index='8' model='pcie-expander-bus'><target busNr='250'><node>{cell}</node>"
    "</target></controller><controller type='pci' index='9' model='pcie-root-port'>"
    "<address type='pci' domain='0x0000' bus='0x08' slot='0x00' function='0x0'/></controller>"
)


def _disk(thread: int, dev: str, behind: bool) -> str:
    address = "<address type='pci' domain='0x0000' bus='0x09' slot='0x00' function='0x0'/>" if behind else ""
    return (
        f"<disk type='file' device='disk'><driver name='qemu' type='raw' iothread='{thread}'/>"
        f"<source file='/var/run/kubevirt-private/vmi-disks/{dev}/disk.img'/>"
        f"<target dev='{dev}' bus='virtio'/>{address}</disk>"
    )


def _spec(policy: str, emulator: bool, placement: str | None) -> Any:
    annotations = {IOTHREAD_PLACEMENT_ANNOTATION: placement} if placement else {}
    threads = {"supplemental": 2} if policy == "supplementalPool" else {"io_policy": policy}
    return vmi(cores=3, memory="130Mi", emulator=emulator, disks=DISKS, annotations=annotations, **threads)


def stock(policy: str, emulator: bool, data_cell: int | None) -> str:
    """KubeVirt's domain (the engine's default pins) with its two disks; ``data_cell``: the data
    disk sits behind that guest cell's expander bus."""
    xml = merge_into(
        BASE, plan_guest(_spec(policy, emulator, None), cpuset(emulator), HOST_4, check_hugepages=False)
    )
    supplemental = policy == "supplementalPool"
    root_disk = _disk(1, "vda", False)
    data_disk = _disk(1 if supplemental else 2, "vdb", data_cell is not None)
    extra = root_disk + data_disk + (EXPANDER.format(cell=data_cell) if data_cell is not None else "")
    return xml.replace("<devices>", "<devices>" + extra, 1)


def pins(xml: str) -> dict[str, str]:
    root = ET.fromstring(xml)
    return {str(p.get("iothread")): str(p.get("cpuset")) for p in root.iterfind("cputune/iothreadpin")}


def vmi_json(annotations: dict[str, str]) -> str:
    return json.dumps({"kind": "VirtualMachineInstance", "metadata": {"annotations": annotations}})


CASES = [
    pytest.param(policy, emulator, cell, id=f"{policy}-{'isolated' if emulator else 'shared'}-{where}")
    for policy in ("shared", "auto")
    for emulator in (False, True)
    for cell, where in ((None, "no-expander"), (0, "expander-cell0"), (1, "expander-cell1"))
]


@pytest.mark.parametrize(("policy", "emulator", "data_cell"), CASES)
def test_hook_writes_the_engines_cell_pins(
    policy: str, emulator: bool, data_cell: int | None, tmp_path: Path
) -> None:
    sysfs = build_sysfs(tmp_path / "sys", [], NODES)
    out = on_define_domain(
        vmi_json({IOTHREAD_PLACEMENT_ANNOTATION: "cell", "kvnuma.io/pci-numa": "off"}),
        stock(policy, emulator, data_cell),
        sysfs_root=str(sysfs),
    )
    assert out.exit_code == 0
    assert any(f"{IOTHREAD_PLACEMENT_ANNOTATION}=cell: IOThread 1:" in line for line in out.stderr), (
        out.stderr
    )
    disk_cells = {} if data_cell is None else {"data": data_cell}
    spec = _spec(policy, emulator, "cell")
    engine = plan_guest(spec, cpuset(emulator), HOST_4, check_hugepages=False, disk_cells=disk_cells)
    assert pins(out.stdout) == {str(i): c.format(ranges=False) for i, c in engine.iothread_pins}


def test_a_bad_value_leaves_the_domain_unchanged(tmp_path: Path) -> None:
    sysfs = build_sysfs(tmp_path / "sys", [], NODES)
    domain = stock("shared", True, 1)
    out = on_define_domain(vmi_json({IOTHREAD_PLACEMENT_ANNOTATION: "numa"}), domain, sysfs_root=str(sysfs))
    assert out.exit_code == 0
    assert out.stdout == domain
    assert out.stderr == [
        f"kvnuma hook: error: annotation {IOTHREAD_PLACEMENT_ANNOTATION}: 'numa' is not one of"
        " kubevirt, cell; domain left unchanged"
    ]


def test_kubevirt_mode_and_no_annotation_leave_the_pins_alone(tmp_path: Path) -> None:
    sysfs = build_sysfs(tmp_path / "sys", [], NODES)
    domain = stock("shared", True, 1)
    for given in ({}, {IOTHREAD_PLACEMENT_ANNOTATION: "kubevirt"}):
        out = on_define_domain(
            vmi_json({**given, "kvnuma.io/pci-numa": "off"}), domain, sysfs_root=str(sysfs)
        )
        assert out.stdout == domain
        assert not any("iothread-placement" in line for line in out.stderr)


@pytest.mark.parametrize("data_cell", [None, 1], ids=["no-expander", "expander-cell1"])
def test_libvirt_defines_the_hooks_domain(libvirtd: Libvirtd, data_cell: int | None, tmp_path: Path) -> None:
    sysfs = build_sysfs(tmp_path / "sys", [], NODES)
    out = on_define_domain(
        vmi_json({IOTHREAD_PLACEMENT_ANNOTATION: "cell", "kvnuma.io/pci-numa": "off"}),
        stock("shared", False, data_cell),
        sysfs_root=str(sysfs),
    )
    assert pins(out.stdout)
    assert_libvirt_accepts(libvirtd, out.stdout)


def test_the_bundle_applies_it(tmp_path: Path) -> None:
    sysfs = build_sysfs(tmp_path / "sys", [], NODES)
    annotations = {IOTHREAD_PLACEMENT_ANNOTATION: "cell", "kvnuma.io/pci-numa": "off"}
    done = subprocess.run(
        [
            "/usr/bin/python3",
            "-IS",
            str(BUNDLE),
            "--vmi",
            vmi_json(annotations),
            "--domain",
            stock("auto", True, 0),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "KVNUMA_SYSFS_ROOT": str(sysfs)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    engine = plan_guest(
        _spec("auto", True, "cell"), cpuset(True), HOST_4, check_hugepages=False, disk_cells={"data": 0}
    )
    assert pins(done.stdout) == {str(i): c.format(ranges=False) for i, c in engine.iothread_pins}
    assert f"{IOTHREAD_PLACEMENT_ANNOTATION}=cell: IOThread 1:" in done.stderr
