from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from kvnuma.cli import cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize(
    ("review", "extra", "allowed", "patched"),
    [
        pytest.param("large-vmi.json", [], True, True, id="mutated"),
        pytest.param("large-vmi.json", ["--disabled"], True, False, id="disabled-override"),
        pytest.param("small-vmi.json", [], True, False, id="fits"),
        pytest.param("large-vmi-shared-cpus.json", ["--mode", "reject"], False, False, id="reject"),
        pytest.param("pinned-vmi.json", [], True, True, id="pinned-cluster-threshold"),
        pytest.param("pinned-vmi.json", ["--threshold", "feasible"], True, False, id="pinned-feasible-fits"),
        pytest.param("large-vmi.json", ["--threshold", "feasible"], True, True, id="large-feasible-mutated"),
    ],
)
def test_admit_prints_the_review_response(
    review: str, extra: list[str], allowed: bool, patched: bool
) -> None:
    args = [
        "admit",
        "--review",
        str(EXAMPLES / "reviews" / review),
        "--source",
        f"file:{EXAMPLES / 'cluster'}",
    ]
    result = CliRunner().invoke(cli, args + extra)
    assert result.exit_code == 0, result.output
    response = orjson.loads(result.stdout)["response"]
    assert response["allowed"] is allowed
    assert ("patch" in response) is patched
    if patched:
        ops = orjson.loads(base64.b64decode(response["patch"]))
        assert ops[0]["value"] == {"guestMappingPassthrough": {}}


@pytest.mark.parametrize(
    ("content", "source", "named"),
    [
        pytest.param('{"apiVersion": "v1"}', "", "kind: expected AdmissionReview", id="not-a-review"),
        pytest.param("{: nope", "", "malformed YAML/JSON", id="malformed"),
        pytest.param(None, "kube", "file:DIR", id="kube-source-offline"),
        pytest.param(None, "file:/nonexistent-kvnuma", "not a directory", id="missing-folder"),
    ],
)
def test_admit_bad_input_is_one_line_exit_2(
    tmp_path: Path, content: str | None, source: str, named: str
) -> None:
    path = tmp_path / "review.json"
    if content is None:
        path = EXAMPLES / "reviews" / "large-vmi.json"
    else:
        path.write_text(content)
    args = ["admit", "--review", str(path)] + (["--source", source] if source else [])
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert named in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_admit_feasible_says_which_nodes(tmp_path: Path) -> None:
    args = ["admit", "--review", str(EXAMPLES / "reviews" / "large-vmi.json"), "--source",
            f"file:{EXAMPLES / 'cluster'}", "--threshold", "feasible", "-o", "table"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    # the control plane is tainted NoSchedule and publishes nothing: 2 workers, no selector
    assert "warning: auto-NUMA: smallest NUMA node among 2 of 2 nodes: 16 CPUs, 64Gi" in result.stdout
