"""The PCI NUMA affinity policy through the real hook process (``python -m kvnuma.hook``), as
KubeVirt's sidecar-shim runs it: the refusal fails the definition (exit 3, nothing on stdout),
a bad value leaves the domain unchanged with one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kvnuma.names import PCI_NUMA_POLICY_ANNOTATION
from pci.pci_domains import numa_domain
from pci.pci_sysfs_tree import (
    GPU_HOST,
    GPU_HOST_MDEVS,
    GPU_HOST_NODES,
    TWO_SOCKET_HOST,
    TWO_SOCKET_NODES,
    TWO_SOCKET_SOCKETS,
    VGPU0,
    VGPU1,
    FakeMdev,
    add_mdevs,
    build_sysfs,
)
from support.libvirt import validate_domain

ALL = [device.address for device in TWO_SOCKET_HOST]
SRC = Path(__file__).resolve().parents[2] / "src"


def run_hook(sysfs: Path, domain: str, vmi_json: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(SRC), "KVNUMA_SYSFS_ROOT": str(sysfs)}
    command = [sys.executable, "-m", "kvnuma.hook", "--vmi", vmi_json, "--domain", domain]
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=60, check=False)


def expander_cells(xml: str) -> set[str | None]:
    return {
        c.findtext("target/node")
        for c in ET.fromstring(xml).iter("controller")
        if c.get("model") == "pcie-expander-bus"
    }


def vmi(policy: str) -> str:
    return json.dumps(
        {"kind": "VirtualMachineInstance", "metadata": {"annotations": {PCI_NUMA_POLICY_ANNOTATION: policy}}}
    )


@pytest.fixture
def host(tmp_path: Path) -> Path:
    return build_sysfs(tmp_path / "sys", TWO_SOCKET_HOST, TWO_SOCKET_NODES, TWO_SOCKET_SOCKETS)


@pytest.mark.parametrize(
    ("policy", "devices", "code", "named"),
    [
        pytest.param("legacy", ALL, 0, ["0000:3b:00.0"], id="legacy"),
        pytest.param("preferred", ALL, 0, ALL, id="preferred"),
        pytest.param("socket", ALL[:2], 0, ALL[:2], id="socket-same-socket"),
        pytest.param("socket", ALL, 3, ALL[2:], id="socket-other-socket"),
        pytest.param("required", ALL[:1], 0, ALL[:1], id="required-local"),
        pytest.param("required", ALL[:2], 3, ALL[1:2], id="required-same-socket"),
    ],
)
def test_policy_through_the_hook(
    host: Path, policy: str, devices: list[str], code: int, named: list[str]
) -> None:
    """``named``: the devices placed (exit 0) or the devices the refusal names (exit 3)."""
    domain = numa_domain(1, devices, memnodes={0: 0})
    done = run_hook(host, domain, vmi(policy))
    assert done.returncode == code, done.stderr
    if code == 3:
        assert done.stdout == ""
        (line,) = done.stderr.splitlines()
        assert line.startswith("kvnuma hook: refused: pci-numa-affinity-policy: ")
        assert f"({policy})" in line
        assert [address for address in devices if address in line] == named
        return
    assert expander_cells(done.stdout) == {"0"}
    ports = done.stdout.count("ua-kvnuma-rp-")
    assert ports == len(named)
    warnings = [line for line in done.stderr.splitlines() if line.startswith("kvnuma hook: warning: ")]
    assert len(warnings) == (len(devices) - 1 if policy == "preferred" else 0)
    validate_domain(done.stdout)


@pytest.mark.parametrize("value", ["strict", "requierd", "x" * 10_000], ids=["other", "typo", "huge"])
def test_a_bad_value_leaves_the_domain_unchanged_in_one_line(host: Path, value: str) -> None:
    domain = numa_domain(1, ALL, memnodes={0: 0})
    done = run_hook(host, domain, vmi(value))
    assert done.returncode == 0
    assert done.stdout == domain
    (line,) = done.stderr.splitlines()
    assert PCI_NUMA_POLICY_ANNOTATION in line
    assert "is not one of legacy, preferred, socket, required" in line
    assert line.endswith("domain left unchanged")
    assert len(line) < 300


def test_vgpus_through_the_hook_follow_their_parent(tmp_path: Path) -> None:
    root = add_mdevs(build_sysfs(tmp_path / "sys", GPU_HOST, GPU_HOST_NODES), GPU_HOST_MDEVS)
    domain = numa_domain(2, [], mdevs=[VGPU0, VGPU1])
    done = run_hook(root, domain, vmi("required"))
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"kvnuma hook: guest cell 0: pcie-expander-bus index 3 busNr 254 host pci0000:3a: {VGPU0}",
        f"kvnuma hook: guest cell 1: pcie-expander-bus index 5 busNr 252 host pci0000:ae: {VGPU1}",
    ]
    validate_domain(done.stdout)


def test_a_vgpu_with_a_bad_link_is_one_line_and_left_in_place(tmp_path: Path) -> None:
    bad = FakeMdev(VGPU0, "0000:3b:00.0", "../../../devices/virtual/" + VGPU0)
    root = add_mdevs(build_sysfs(tmp_path / "sys", GPU_HOST, GPU_HOST_NODES), [bad, GPU_HOST_MDEVS[1]])
    done = run_hook(root, numa_domain(2, [], mdevs=[VGPU0, VGPU1]), vmi("legacy"))
    assert done.returncode == 0, done.stderr
    left = [line for line in done.stderr.splitlines() if VGPU0 in line]
    assert left == [
        f"kvnuma hook: left in place: mediated device {VGPU0}: bus/mdev/devices link "
        f"'../../../devices/virtual/{VGPU0}' does not end in <parent BDF>/<uuid>"
    ]
    assert f"ua-kvnuma-rp-mdev-{VGPU1}" in done.stdout
    assert f"ua-kvnuma-rp-mdev-{VGPU0}" not in done.stdout


def test_the_bundled_hook_refuses_on_a_bare_python(host: Path) -> None:
    """As the sidecar-shim runs it: the ConfigMap's single file, no site-packages, no kvnuma."""
    bundle = Path(__file__).resolve().parents[2] / "deploy" / "hook" / "onDefineDomain"
    domain = numa_domain(1, ALL[:2], memnodes={0: 0})
    done = subprocess.run(
        ["/usr/bin/python3", "-I", "-S", str(bundle), "--vmi", vmi("required"), "--domain", domain],
        capture_output=True,
        text=True,
        env={"KVNUMA_SYSFS_ROOT": str(host)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith("kvnuma hook: refused: pci-numa-affinity-policy: ")
    assert ALL[1] in done.stderr


def test_the_readme_example_is_real_output(host: Path) -> None:
    """The README's hook example: each ``$ onDefineDomain --sysfs sys …`` line run with the
    bundled hook on this host and ``numa_domain(1, ALL)``, its stderr (and exit line) compared."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("$ onDefineDomain --sysfs sys ", 1)[1].split("```", 1)[0]
    bundle = Path(__file__).resolve().parents[2] / "deploy" / "hook" / "onDefineDomain"
    domain = numa_domain(1, ALL)
    steps = [step.splitlines() for step in ("$ onDefineDomain --sysfs sys " + block).split("$ ")[1:]]
    assert len(steps) == 2
    for command, *expected in steps:
        policy = json.loads(command.split("--vmi '", 1)[1].split("'", 1)[0])["metadata"]["annotations"]
        done = subprocess.run(
            ["/usr/bin/python3", "-I", "-S", str(bundle), "--sysfs", str(host),
             "--vmi", json.dumps({"metadata": {"annotations": policy}}), "--domain", domain],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        actual = done.stderr.splitlines() + ([f"(exit {done.returncode})"] if "echo" in command else [])
        assert actual == expected
