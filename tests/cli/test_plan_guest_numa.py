"""``kvnuma plan`` / ``kvnuma render`` with ``kvnuma.io/guest-numa`` and ``kvnuma.io/memory-policy``:
what is shown (text and JSON), the rendered numatune, and bad values (one line, exit 2)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from kvnuma.cli import cli
from kvnuma.names import GUEST_NUMA_ANNOTATION, MEMORY_POLICY_ANNOTATION

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "engine"
CAPS = str(EXAMPLES / "two-socket-smt-caps.xml")
ON = ["--capabilities", CAPS, "--cpuset", "2-5,10-12"]


def vmi_file(tmp_path: Path, annotations: dict[str, str], *, passthrough: bool = False) -> str:
    document = yaml.safe_load((EXAMPLES / "memnuma-vm.yaml").read_text())
    document["metadata"]["annotations"] = annotations
    if passthrough:
        document["spec"]["domain"]["cpu"]["numa"] = {"guestMappingPassthrough": {}}
        document["spec"]["domain"]["memory"]["hugepages"] = {"pageSize": "2Mi"}
    path = tmp_path / "vmi.yaml"
    path.write_text(yaml.safe_dump(document))
    return str(path)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("policy", ["strict", "preferred", "interleave", "restrictive"])
def test_plan_shows_cells_and_policy(tmp_path: Path, policy: str) -> None:
    vmi = vmi_file(tmp_path, {GUEST_NUMA_ANNOTATION: "host-cells", MEMORY_POLICY_ANNOTATION: policy})
    code, out, _ = run("plan", "--vmi", vmi, *ON)
    assert code == 0
    nodes = "0" if policy == "preferred" else "0,1"
    assert f"memory policy: {policy} (<numatune> memory nodeset {nodes}, one memnode per cell)" in out
    assert "default memory" in out
    assert f"guest NUMA: {MEMORY_POLICY_ANNOTATION}={policy}: <numatune> memory and 2 memnode(s)" in out
    code, out, _ = run("plan", "--vmi", vmi, *ON, "-o", "json")
    plan = json.loads(out)["plan"]
    assert plan["memoryPolicy"] == policy
    assert plan["guestNuma"]["cellsFrom"] == "host-cells"
    assert [c["pageSizeBytes"] for c in plan["cells"]] == [None, None]
    assert sum(c["memoryBytes"] for c in plan["cells"]) == plan["memoryBytes"] == 1 << 30


def test_render_writes_the_policy_into_a_passthrough_domain(tmp_path: Path) -> None:
    vmi = vmi_file(tmp_path, {MEMORY_POLICY_ANNOTATION: "interleave"}, passthrough=True)
    code, out, _ = run("render", "--vmi", vmi, *ON, "--no-hugepage-check")
    assert code == 0
    root = ET.fromstring(out)
    assert {e.get("mode") for e in root.iterfind("numatune/*")} == {"interleave"}
    assert len(root.findall("memoryBacking/hugepages/page")) == 2


def test_without_the_annotations_nothing_changes(tmp_path: Path) -> None:
    code, out, _ = run("render", "--vmi", vmi_file(tmp_path, {}), *ON)
    assert code == 0
    root = ET.fromstring(out)
    assert root.find("numatune") is None
    assert root.find("cpu/numa") is None


@pytest.mark.parametrize("command", ["plan", "render"])
@pytest.mark.parametrize(
    ("annotations", "named"),
    [
        pytest.param({GUEST_NUMA_ANNOTATION: "true"}, GUEST_NUMA_ANNOTATION, id="guest-numa"),
        pytest.param({MEMORY_POLICY_ANNOTATION: "bind"}, MEMORY_POLICY_ANNOTATION, id="policy"),
    ],
)
def test_a_bad_value_is_one_line_and_exit_2(
    tmp_path: Path, command: str, annotations: dict[str, str], named: str
) -> None:
    code, out, err = run(command, "--vmi", vmi_file(tmp_path, annotations), *ON)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"kvnuma: error: annotation {named}: ")
