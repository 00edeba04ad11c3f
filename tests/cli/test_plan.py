"""``kvnuma plan``: this host by default with the embedded example VMI, or given files."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from kvnuma.cli import cli
from kvnuma.topology.sysfs import read_sysfs
from support.hostbuilder import render_capabilities, synthetic_host
from support.libvirt import validate_domain

MiB = 1 << 20


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_plan_on_this_host_with_the_embedded_example() -> None:
    code, out, _ = run("plan", "-o", "json")
    assert code == 0
    document = json.loads(out)
    online = sum(1 for cpu in read_sysfs().cpus if cpu.online)
    assert document["plan"]["vcpus"]["enabled"] == online
    assert len(document["plan"]["vcpu_pins"]) == online
    assert document["decision"]["outcome"] == "has-numa"
    assert document["decision_without_numa"]["outcome"] in {"fits", "mutated"}
    validate_domain(document["domain_xml"])


def test_plan_text_shows_every_section(tmp_path: Path) -> None:
    caps = tmp_path / "caps.xml"
    caps.write_text(
        render_capabilities(synthetic_host(cells=2, cores_per_cell=2, threads=2, hugepages={2 * MiB: 8}))
    )
    code, out, _ = run("plan", "--capabilities", str(caps))
    assert code == 0
    for heading in ("Host topology", "Auto-NUMA decision", "Guest layout", "Domain XML", "<domain"):
        assert heading in out
    # embedded example: 8 CPUs in whole SMT pairs -> 4 cores x 2 threads over both cells, 256Mi
    assert "topology 1 sockets x 4 cores x 2 threads" in out
    assert "WARNING hugepages-per-node" in out  # 8 pages per cell are not enough for 64 pages


def test_plan_applies_the_webhook_mutation(tmp_path: Path) -> None:
    caps = tmp_path / "caps.xml"
    caps.write_text(render_capabilities(synthetic_host(cells=2, cores_per_cell=2, threads=1)))
    vmi = tmp_path / "big.yaml"
    vmi.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kubevirt.io/v1",
                "kind": "VirtualMachineInstance",
                "metadata": {"name": "big"},
                "spec": {
                    "domain": {
                        "cpu": {"cores": 4, "dedicatedCpuPlacement": True},
                        "memory": {"guest": "128Mi", "hugepages": {"pageSize": "2Mi"}},
                        "resources": {"requests": {"memory": "128Mi"}},
                    }
                },
            }
        )
    )
    code, out, _ = run("plan", str(vmi), "--capabilities", str(caps), "-o", "json")
    assert code == 0
    document = json.loads(out)
    assert document["decision"]["outcome"] == "mutated"
    assert [c["host_cell"] for c in document["plan"]["cells"]] == [0, 1]


def test_plan_bad_input_exit_2(tmp_path: Path) -> None:
    code, _, err = run("plan", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "no such file" in err
    code, _, err = run("plan", "--cpuset", "0-1,zz")
    assert code == 2
    assert err.count("\n") == 1
