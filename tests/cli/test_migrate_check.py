"""``kvnuma migrate-check``: exit 0 will work, 1 will not, 2 bad input (one line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from kvnuma.agent.desired import desired
from kvnuma.cli import cli
from kvnuma.topology.capabilities import parse_capabilities
from support.hostbuilder import render_sysfs, synthetic_host

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
VM = EXAMPLES / "instancetypes" / "vm-cx1.yaml"
CX1 = EXAMPLES / "instancetypes" / "cx1-numa-instancetype.yaml"
SPREAD = EXAMPLES / "instancetypes" / "spread-preference.yaml"
NODE_A = EXAMPLES / "migration" / "node-a-capabilities.xml"
NODE_B = EXAMPLES / "migration" / "node-b-capabilities.xml"
NODE_C = EXAMPLES / "migration" / "node-c.yaml"
NODE_D = EXAMPLES / "migration" / "node-d-capabilities.xml"
NODE_D_OBJECT = EXAMPLES / "migration" / "node-d.yaml"
NODE_B_OBJECT = EXAMPLES / "migration" / "node-b.yaml"
XL = EXAMPLES / "migration" / "vmi-xl.yaml"
MiB = 1 << 20


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["migrate-check", *args])
    return result.exit_code, result.stdout, result.stderr


def vm_args(target: Path, policy: str) -> list[str]:
    return [
        "--vmi",
        str(VM),
        "--instancetype",
        str(CX1),
        "--preference",
        str(SPREAD),
        "--source-node",
        str(NODE_A),
        "--target-node",
        str(target),
        "--policy",
        policy,
    ]


@pytest.mark.parametrize(
    ("target", "policy", "code"),
    [
        pytest.param(NODE_A, "single-numa-node", 0, id="same-layout-snn-works"),
        pytest.param(NODE_C, "best-effort", 0, id="node-object-target-works"),
        pytest.param(NODE_A, "none", 1, id="large-none-fails"),
        pytest.param(NODE_B, "single-numa-node", 1, id="xl-on-small-cells-snn-fails"),
    ],
)
def test_exit_codes(target: Path, policy: str, code: int) -> None:
    got, out, err = run(*vm_args(target, policy))
    assert (got, err) == (code, "")
    assert ("verdict: will work" in out) == (code == 0)


@pytest.mark.parametrize(
    ("capabilities", "node"),
    [
        pytest.param(NODE_A, EXAMPLES / "migration" / "node-c.yaml", id="node-c-is-node-a"),
        pytest.param(EXAMPLES / "migration" / "node-b-capabilities.xml", NODE_B_OBJECT, id="node-b"),
        pytest.param(NODE_D, NODE_D_OBJECT, id="node-d"),
    ],
)
def test_example_nodes_carry_what_the_agent_publishes(capabilities: Path, node: Path) -> None:
    topology = parse_capabilities(capabilities.read_text(), source=str(capabilities))
    published = yaml.safe_load(node.read_text())["metadata"]["annotations"]
    assert published == dict(desired(topology, realtime=False).annotations)


@pytest.mark.parametrize(
    ("target", "code", "checks"),
    [
        # asymmetric target (16 + 8 CPUs): the guest's 10Gi cell 1 does not fit cell 1's 8Gi
        pytest.param(NODE_D, 1, ["ok", "ok", "ok", "ok", "ok", "FAIL"], id="capabilities-decides-all"),
        # the same host as a Node object: everything is within its largest cell, nothing decidable
        pytest.param(NODE_D_OBJECT, 0, ["n/a"] * 6, id="node-object-says-n/a"),
        # a Node whose largest cell (8) is under the guest's 16-vCPU cell: decided from the Node alone
        pytest.param(
            NODE_B_OBJECT, 1, ["n/a", "FAIL", "FAIL", "n/a", "FAIL", "FAIL"], id="node-object-over-largest"
        ),
    ],
)
def test_xl_on_asymmetric_and_node_object_targets(target: Path, code: int, checks: list[str]) -> None:
    got, out, err = run(
        "--vmi",
        str(XL),
        "--source-node",
        str(NODE_A),
        "--target-node",
        str(target),
        "--policy",
        "best-effort",
    )
    assert (got, err) == (code, "")
    section = out.split("layout checks:\n")[1].split("verdict:")[0]
    assert [line.split()[0] for line in section.splitlines()] == checks
    assert ("checks n/a" in out) == (code == 0 and "n/a" in checks)
    assert "smallest cell on" not in out


@pytest.mark.parametrize(
    ("target", "code", "size_class", "decided"),
    [
        # 6 CPUs over half of cell 1 (8 CPUs), which can hold the pod: large, fails with policy none
        pytest.param(NODE_D, 1, "large", True, id="capabilities-large"),
        # the Node gives only 16: small against it, large on a cell of 6-12 CPUs: not decidable
        pytest.param(NODE_D_OBJECT, 0, "small", False, id="node-object-not-decidable"),
    ],
)
def test_small_vm_on_asymmetric_targets(target: Path, code: int, size_class: str, decided: bool) -> None:
    vmi = EXAMPLES / "migration" / "vmi-small.yaml"
    got, out, _ = run(
        "--vmi", str(vmi), "--source-node", str(NODE_A), "--target-node", str(target), "-o", "json"
    )
    document = json.loads(out)
    assert got == code
    assert (document["sizeClass"], document["sizeClassDecided"]) == (size_class, decided)
    assert [text.split(":")[0] for text in document["unchecked"]] == ([] if decided else ["size-class"])


def test_json_lists_every_reason() -> None:
    code, out, _ = run(*vm_args(NODE_B, "single-numa-node"), "-o", "json")
    document = json.loads(out)
    assert code == 1
    assert document["works"] is False
    assert document["sizeClass"] == "extra-large"
    assert len(document["reasons"]) == 2
    assert document["guestCells"] == [{"cell": 0, "vcpus": 8, "memoryBytes": 16 << 30}]


def test_sysfs_root_as_node(tmp_path: Path) -> None:
    render_sysfs(
        synthetic_host(cells=2, sockets=2, cores_per_cell=8, threads=2, hugepages={2 * MiB: 8192}), tmp_path
    )
    code, out, _ = run(
        "--vmi",
        str(XL),
        "--source-node",
        str(tmp_path),
        "--target-node",
        str(tmp_path),
        "--policy",
        "best-effort",
    )
    assert code == 0, out
    assert "guest NUMA on" in out
    assert "2 cells" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        pytest.param(["--vmi", "/nonexistent.yaml"], "/nonexistent.yaml: no such file", id="missing-file"),
        pytest.param(
            ["--vmi", str(VM)],
            'virtualmachineclusterinstancetype.instancetype.kubevirt.io "cx1.2xlarge-numa" not found',
            id="missing-instancetype",
        ),
        pytest.param(
            ["--vmi", str(EXAMPLES / "instancetypes" / "vm-conflict.yaml"), "--instancetype", str(CX1)],
            "conflicts with selected instance type",
            id="conflict",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2(args: list[str], words: str) -> None:
    code, out, err = run(*args, "--source-node", str(NODE_A), "--target-node", str(NODE_C))
    assert code == 2
    assert out == ""
    assert words in err
    assert err.count("\n") == 1


def test_malformed_quantity_and_bad_node(tmp_path: Path) -> None:
    vmi = tmp_path / "vmi.yaml"
    vmi.write_text(XL.read_text().replace("guest: 20Gi", "guest: 20Gx"))
    code, _, err = run("--vmi", str(vmi), "--source-node", str(NODE_A), "--target-node", str(NODE_A))
    assert code == 2
    assert "spec.domain.memory.guest" in err
    node = tmp_path / "node.yaml"
    node.write_text(
        "kind: Node\nmetadata:\n  name: x\n  annotations:\n    kubevirt.io/max-single-numa-cpus: lots\n"
    )
    code, _, err = run("--vmi", str(XL), "--source-node", str(NODE_A), "--target-node", str(node))
    assert code == 2
    assert "max-single-numa-cpus" in err
