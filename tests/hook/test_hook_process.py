"""The hook as KubeVirt's sidecar-shim runs it: ``onDefineDomain --vmi JSON --domain XML``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pci.pci_domains import fixture
from pci.pci_sysfs_tree import GPU_HOST, GPU_HOST_NODES, FakePciDevice, build_sysfs
from support.libvirt import Libvirtd, define_domain, undefine_domain, validate_domain

SRC = Path(__file__).resolve().parents[2] / "src"
VMI = json.dumps(
    {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "metadata": {"name": "gpu-vm"}}
)


def vmi_with(annotation: str) -> str:
    return json.dumps(
        {"kind": "VirtualMachineInstance", "metadata": {"annotations": {"kvnuma.io/pci-numa": annotation}}}
    )


def run_hook(
    sysfs: Path, domain: str, vmi: str = VMI, *extra: str, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(SRC), "KVNUMA_SYSFS_ROOT": str(sysfs), **env}
    return subprocess.run(
        [sys.executable, "-m", "kvnuma.hook", *extra, "--vmi", vmi, "--domain", domain],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


@pytest.fixture
def gpu_host(tmp_path: Path) -> Path:
    return build_sysfs(tmp_path / "sys", GPU_HOST, GPU_HOST_NODES)


def expanders(xml: str) -> list[tuple[str | None, str | None]]:
    root = ET.fromstring(xml)
    return [
        (c.get("index"), c.findtext("target/node"))
        for c in root.iter("controller")
        if c.get("model") == "pcie-expander-bus"
    ]


def test_places_and_explains(gpu_host: Path) -> None:
    done = run_hook(gpu_host, fixture("kubevirt-gpu-2cell.xml"))
    assert done.returncode == 0, done.stderr
    assert expanders(done.stdout) == [("4", "0"), ("7", "1")]
    assert done.stderr.splitlines() == [
        "kvnuma hook: guest cell 0: pcie-expander-bus index 4 busNr 253 host pci0000:3a: "
        "0000:3b:00.0, 0000:3c:00.1",
        "kvnuma hook: guest cell 1: pcie-expander-bus index 7 busNr 251 host pci0000:ae: 0000:af:00.0",
        "kvnuma hook: left in place: 0000:5e:00.0 has no host NUMA node (-1)",
    ]
    validate_domain(done.stdout)


def test_called_again_with_its_own_output_changes_nothing(gpu_host: Path) -> None:
    first = run_hook(gpu_host, fixture("kubevirt-gpu-2cell.xml")).stdout
    second = run_hook(gpu_host, first)
    third = run_hook(gpu_host, second.stdout)
    assert second.returncode == third.returncode == 0
    assert second.stdout == third.stdout == first


def test_libvirt_readback_then_hook_again_keeps_what_libvirt_filled_in(
    libvirtd: Libvirtd, gpu_host: Path
) -> None:
    # KubeVirt defines the hook's output, reads the domain back from libvirt and calls the hook again
    first = run_hook(gpu_host, fixture("kubevirt-gpu-2cell.xml")).stdout
    name = define_domain(libvirtd, first)
    try:
        readback = libvirtd.virsh("dumpxml", "--inactive", name)
    finally:
        undefine_domain(libvirtd, name)
    again = run_hook(gpu_host, readback)
    assert again.returncode == 0, again.stderr
    assert ET.canonicalize(again.stdout, strip_text=True) == ET.canonicalize(readback, strip_text=True)
    assert "<model name='pxb-pcie'/>" in readback


def test_opt_out_annotation_returns_the_domain_untouched(gpu_host: Path) -> None:
    domain = fixture("kubevirt-gpu-2cell.xml")
    done = run_hook(gpu_host, domain, vmi_with("off"))
    assert done.returncode == 0
    assert done.stdout == domain
    assert "kvnuma.io/pci-numa=off" in done.stderr


@pytest.mark.parametrize(
    ("how", "extra", "env"),
    [
        pytest.param("annotation", (), {}, id="annotation"),
        pytest.param("flag", ("--strict",), {}, id="flag"),
        pytest.param("env", (), {"KVNUMA_PCI_NUMA_STRICT": "1"}, id="env"),
    ],
)
def test_strict_fails_on_a_device_without_affinity(
    gpu_host: Path, how: str, extra: tuple[str, ...], env: dict[str, str]
) -> None:
    vmi = vmi_with("strict") if how == "annotation" else VMI
    done = run_hook(gpu_host, fixture("kubevirt-gpu-2cell.xml"), vmi, *extra, **env)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip() == (
        "kvnuma hook: error (strict): pci-numa-affinity: needed every PCI hostdev placed on its guest "
        "NUMA cell, available 1 of 4 not placeable (0000:5e:00.0 has no host NUMA node (-1))"
    )


def test_malformed_domain_is_one_line_and_returned_unchanged(gpu_host: Path) -> None:
    done = run_hook(gpu_host, "<domain><devices></domain>")
    assert done.returncode == 0
    assert done.stdout == "<domain><devices></domain>"
    assert done.stderr.splitlines() == [
        "kvnuma hook: error: --domain: malformed XML: mismatched tag at line 1, column 20; "
        "domain left unchanged"
    ]


def test_a_failure_leaves_the_domain_unchanged_unless_strict(tmp_path: Path) -> None:
    broken = build_sysfs(tmp_path, [FakePciDevice("0000:3b:00.0", 0, numa_node_text="garbage")], {})
    domain = fixture("kubevirt-gpu-2cell.xml")
    done = run_hook(broken, domain)
    assert done.returncode == 0
    assert done.stdout == domain
    assert "domain left unchanged" in done.stderr
    assert "numa_node: expected an integer id or -1, got 'garbage'" in done.stderr
    assert run_hook(broken, domain, VMI, "--strict").returncode == 1


def test_a_device_missing_on_the_host_is_reported(tmp_path: Path) -> None:
    sysfs = build_sysfs(tmp_path, GPU_HOST[:1], GPU_HOST_NODES)
    done = run_hook(sysfs, fixture("kubevirt-gpu-2cell.xml"))
    assert done.returncode == 0
    assert "left in place: 0000:af:00.0 is not present on this host" in done.stderr
    assert expanders(done.stdout) == [("4", "0")]
