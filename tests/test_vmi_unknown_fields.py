"""Unknown VMI fields in the sections the NUMA features read: one warning each, never a refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from kvnuma.admission import AdmissionConfig, ClusterCapacity, decide
from kvnuma.cli.render import render
from kvnuma.vmi import unknown_fields

CAPS = Path(__file__).parent.parent / "examples" / "engine" / "two-socket-smt-caps.xml"


def _vmi(domain: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "metadata": {"name": "v"},
            "spec": {"domain": domain}}  # fmt: skip


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        pytest.param({"cpu": {"cores": 2}}, [], id="known"),
        pytest.param(
            {"cpu": {"coress": 2}},
            ["spec.domain.cpu.coress: unknown field (did you mean cores?)"],
            id="coress",
        ),
        pytest.param(
            {"memory": {"hugepages": {"pagesize": "2Mi"}}},
            ["spec.domain.memory.hugepages.pagesize: unknown field (did you mean pageSize?)"],
            id="hugepages-case",
        ),
        pytest.param(
            {"resources": {"request": {"cpu": 1}}},
            ["spec.domain.resources.request: unknown field (did you mean requests?)"],
            id="resources-request",
        ),
        pytest.param(
            {"ioThreads": {"supplementalPoolThreads": 2}},
            [
                "spec.domain.ioThreads.supplementalPoolThreads: unknown field"
                " (did you mean supplementalPoolThreadCount?)"
            ],
            id="iothreads-count",
        ),
        pytest.param(
            {"cpu": {"numa": {"zzz": {}}}},
            ["spec.domain.cpu.numa.zzz: unknown field (known: guestMappingPassthrough)"],
            id="no-close-name",
        ),
        pytest.param({"somethingElse": 1}, [], id="sections-not-read-are-not-checked"),
    ],
)
def test_unknown_fields_name_the_path_and_the_closest_name(
    domain: dict[str, Any], expected: list[str]
) -> None:
    assert list(unknown_fields(_vmi(domain))) == expected


def test_render_warns_on_stderr_and_still_renders(tmp_path: Path) -> None:
    domain = {"cpu": {"cores": 2, "coress": 3, "dedicatedCpuPlacement": True}, "memory": {"guest": "64Mi"}}
    path = tmp_path / "vmi.yaml"
    path.write_text(yaml.safe_dump(_vmi(domain)), encoding="utf-8")
    done = CliRunner().invoke(render, ["--vmi", str(path), "--capabilities", str(CAPS), "--cpuset", "2-3"])
    assert done.exit_code == 0, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"kvnuma: warning: {path}: spec.domain.cpu.coress: unknown field (did you mean cores?)"
    ]
    assert "<vcpu" in done.stdout


def test_webhook_adds_them_to_the_review_warnings() -> None:
    obj = _vmi({"cpu": {"coress": 3}, "memory": {"guest": "64Mi"}})
    kind = {"group": "kubevirt.io", "version": "v1", "kind": "VirtualMachineInstance"}
    request = {"uid": "u1", "operation": "CREATE", "kind": kind, "object": obj}
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    decision = decide(review, ClusterCapacity(), AdmissionConfig(enabled=True))
    assert "VMI spec.domain.cpu.coress: unknown field (did you mean cores?)" in decision.warnings
