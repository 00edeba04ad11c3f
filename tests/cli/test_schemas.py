"""Every JSON document the CLI prints validates against its JSON Schema in docs/schemas/, uses one
key style (camelCase) throughout, and its YAML form is the same document."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from kvnuma.cli import cli
from kvnuma.model import PciDevice
from support.hostbuilder import render_capabilities, render_sysfs, synthetic_host

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "schemas"
EXAMPLES = ROOT / "examples"
CAPS = str(EXAMPLES / "engine/two-socket-smt-caps.xml")
NUMAVM = str(EXAMPLES / "engine/numavm.yaml")
MIGRATION = EXAMPLES / "migration"
GPU = PciDevice("0000:3b:00.0", "0x10de", "0x20b5", "0x030200", 1)
MAPS = frozenset({"distances", "maxSingleNumaHugepagesBytes", "annotations", "labels", "auditAnnotations"})
"""Objects whose keys are data (cell ids, page sizes, annotation names), not field names."""
CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")


def _registry() -> Registry[Any]:
    resources = []
    for path in sorted(SCHEMAS.glob("*.json")):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry[Any]().with_resources(resources)


REGISTRY = _registry()


def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=REGISTRY)


def _keys(value: object, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if path.rsplit(".", 1)[-1] not in MAPS:
                yield path, key
            yield from _keys(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item, path)


def _host_tree(tmp_path: Path) -> str:
    render_sysfs(synthetic_host(cells=4, cores_per_cell=4, offline=[5], pci_devices=[GPU]), tmp_path / "sys")
    return str(tmp_path / "sys")


def _caps_file(tmp_path: Path) -> str:
    path = tmp_path / "caps.xml"
    path.write_text(render_capabilities(synthetic_host(cells=2, cores_per_cell=2, cell_ids=(0, 16))))
    return str(path)


def _agent(tmp_path: Path) -> list[str]:
    proc = tmp_path / "proc" / "sys" / "kernel" / "sched_rt_runtime_us"
    proc.parent.mkdir(parents=True)
    proc.write_text("-1\n")
    node = ["--node-name", "n1", "--sysfs", _host_tree(tmp_path), "--proc", str(tmp_path / "proc")]
    return ["agent", "--once", "--dry-run", *node]


def _migrate(vmi: str, target: str, *extra: str) -> list[str]:
    nodes = [
        "--source-node",
        str(MIGRATION / "node-a-capabilities.xml"),
        "--target-node",
        str(MIGRATION / target),
    ]
    return ["migrate-check", "--vmi", str(MIGRATION / vmi), *nodes, *extra]


Args = Callable[[Path], list[str]]
_REVIEW = ["admit", "--source", f"file:{EXAMPLES / 'cluster'}", "--review"]
_VM = [
    "--vmi",
    str(EXAMPLES / "instancetypes/vm-cx1.yaml"),
    "--instancetype",
    str(EXAMPLES / "instancetypes/cx1-numa-instancetype.yaml"),
    "--preference",
    str(EXAMPLES / "instancetypes/spread-preference.yaml"),
    "--cluster-config",
    str(EXAMPLES / "instancetypes/hyperconverged-ratio-1.yaml"),
]
_ON_CAPS = ["--vmi", NUMAVM, "--capabilities", CAPS, "--cpuset", "2-5,10-12"]
_MEMNUMA = [
    "--vmi",
    str(EXAMPLES / "engine/memnuma-vm.yaml"),
    "--capabilities",
    CAPS,
    "--cpuset",
    "2-5,10-12",
]
_GATE_ON = ["--cpuset", "0-3,16-19", "--no-hugepage-check", "--feature-gate", "GPUDeviceNUMA"]
CASES: list[Any] = [
    pytest.param("discover.json", lambda t: ["discover", "--sysfs", _host_tree(t)], id="discover-sysfs"),
    pytest.param(
        "discover.json", lambda t: ["discover", "--capabilities", _caps_file(t)], id="discover-caps"
    ),
    pytest.param("discover.json", lambda t: ["discover"], id="discover-this-host"),
    pytest.param("plan.json", lambda t: ["plan"], id="plan-this-host"),
    pytest.param("plan.json", lambda t: ["plan", *_ON_CAPS], id="plan"),
    pytest.param("plan.json", lambda t: ["plan", *_VM, "--capabilities", CAPS], id="plan-vm-hotplug"),
    pytest.param("render.json", lambda t: ["render", *_ON_CAPS], id="render"),
    pytest.param("plan.json", lambda t: ["plan", *_MEMNUMA], id="plan-guest-numa-no-hugepages"),
    pytest.param("render.json", lambda t: ["render", *_MEMNUMA], id="render-guest-numa-no-hugepages"),
    pytest.param(
        "render.json",
        lambda t: ["render", "--vmi", NUMAVM, "--sysfs", _host_tree(t), *_GATE_ON],
        id="render-gate-on",
    ),
    pytest.param(
        "migrate-check.json", lambda t: _migrate("vmi-xl.yaml", "node-b.yaml"), id="migrate-node-object"
    ),
    pytest.param(
        "migrate-check.json",
        lambda t: _migrate("vmi-xl.yaml", "node-b-capabilities.xml", "--policy", "restricted"),
        id="migrate-caps",
    ),
    pytest.param(
        "migrate-check.json", lambda t: _migrate("vmi-small.yaml", "node-d.yaml"), id="migrate-small"
    ),
    pytest.param(
        "admit.json", lambda t: [*_REVIEW, str(EXAMPLES / "reviews/large-vmi.json")], id="admit-mutated"
    ),
    pytest.param(
        "admit.json", lambda t: [*_REVIEW, str(EXAMPLES / "reviews/small-vmi.json")], id="admit-fits"
    ),
    pytest.param(
        "admit-patch.json",
        lambda t: [*_REVIEW, str(EXAMPLES / "reviews/large-vmi.json"), "-o", "patch"],
        id="admit-patch",
    ),
    pytest.param("agent-dry-run.json", _agent, id="agent-dry-run"),
]


def _run(args: list[str]) -> Any:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 1), result.output  # 1: migrate-check's "will not work"
    return (
        json.loads(result.stdout) if "-o" not in args or "yaml" not in args else yaml.safe_load(result.stdout)
    )


@pytest.mark.parametrize(("schema", "make_args"), CASES)
def test_json_output_matches_its_schema_in_one_key_style(
    tmp_path: Path, schema: str, make_args: Args
) -> None:
    args = make_args(tmp_path)
    as_json = args if "-o" in args else [*args, "-o", "json"]
    document = _run(as_json)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _validator(schema).iter_errors(document)]
    assert errors == []
    assert [(path, key) for path, key in _keys(document) if not CAMEL.match(key)] == []
    if isinstance(document, dict) and "apiVersion" not in document and "metadata" not in document:
        assert isinstance(document.get("schemaVersion"), int)
    if "patch" not in as_json:
        assert _run([*args, "-o", "yaml"]) == document


def test_every_schema_is_used_and_valid() -> None:
    used = {case.values[0] for case in CASES}
    assert used | {"common.json"} == {path.name for path in SCHEMAS.glob("*.json")}
    for path in SCHEMAS.glob("*.json"):
        Draft202012Validator.check_schema(json.loads(path.read_text()))
