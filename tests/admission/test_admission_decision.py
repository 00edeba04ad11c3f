# ruff: noqa: E501
from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from admission_reviews import large_dedicated, review, vmi

from kvnuma.admission import AdmissionConfig, ClusterCapacity, Mode, Outcome, decide
from kvnuma.admission.decision import MAX_WARNING
from kvnuma.errors import InputError

GI = 1 << 30
CLUSTER = ClusterCapacity(nodes=3, cpus=16, memory_bytes=64 * GI, hugepages={GI: 32 * GI, 2 << 20: 8 * GI})
ON = AdmissionConfig(enabled=True)


def _patch(response: dict[str, Any]) -> list[dict[str, Any]]:
    body = response["response"]
    return orjson.loads(base64.b64decode(body["patch"])) if "patch" in body else []


@pytest.mark.parametrize(
    ("obj", "capacity", "config", "outcome", "numbers"),
    [
        pytest.param(large_dedicated(32, "8Gi", "2Mi"), CLUSTER, ON, Outcome.MUTATED, "vCPUs 32 > 16", id="cpus"),
        pytest.param(large_dedicated(8, "80Gi", "2Mi"), CLUSTER, ON, Outcome.MUTATED, "80Gi > 64Gi", id="memory"),
        pytest.param(large_dedicated(8, "40Gi", "1Gi"), CLUSTER, ON, Outcome.MUTATED, "40Gi > 1Gi pages 32Gi", id="hugepage-pool"),
        pytest.param(large_dedicated(16, "64Gi", "2Mi"), ClusterCapacity(nodes=1, cpus=16, memory_bytes=64 * GI), ON, Outcome.FITS, "", id="equal-fits"),
        pytest.param(large_dedicated(8, "16Gi", "1Gi"), CLUSTER, ON, Outcome.FITS, "", id="small"),
        pytest.param(large_dedicated(), CLUSTER, AdmissionConfig(enabled=False), Outcome.DISABLED, "", id="disabled"),
        pytest.param(large_dedicated(), ClusterCapacity(), ON, Outcome.NO_CAPACITY, "no node publishes", id="no-capacity"),
        pytest.param(vmi(cpu={"cores": 32}, requests={"memory": "8Gi"}), CLUSTER, ON, Outcome.SKIPPED_UNSAFE, "no dedicatedCpuPlacement", id="shared-cpus"),
        pytest.param(vmi(cpu={"cores": 32, "dedicatedCpuPlacement": True}, requests={"memory": "8Gi"}), CLUSTER, ON, Outcome.SKIPPED_UNSAFE, "no memory.hugepages", id="no-hugepages"),
        pytest.param(vmi(cpu={"cores": 32, "dedicatedCpuPlacement": True}, requests={"memory": "8Gi"}), CLUSTER, AdmissionConfig(enabled=True, hugepages_required=False), Outcome.MUTATED, "vCPUs 32 > 16", id="vep134-no-hugepages-needed"),
        pytest.param(vmi(cpu={"sockets": 2, "cores": 4, "threads": 4, "dedicatedCpuPlacement": True}, memory={"hugepages": {"pageSize": "1Gi"}}, requests={"memory": "8Gi"}), CLUSTER, ON, Outcome.SKIPPED_UNSAFE, "threads 4 > 2", id="threads"),
        pytest.param(vmi(cpu={"cores": 32}), CLUSTER, AdmissionConfig(enabled=True, mode=Mode.REJECT), Outcome.REJECTED_UNSAFE, "vCPUs 32 > 16", id="reject-mode"),
        pytest.param(vmi(cpu={"cores": 32, "numa": {}}), CLUSTER, ON, Outcome.HAS_NUMA, "", id="has-numa-empty"),
        pytest.param(vmi(requests={"cpu": "20", "memory": "1Gi"}, cpu={"dedicatedCpuPlacement": True}, memory={"hugepages": {"pageSize": "2Mi"}}), CLUSTER, ON, Outcome.MUTATED, "vCPUs 20 > 16", id="cpu-request-counts"),
        pytest.param(vmi(requests={"memory": "12x"}), CLUSTER, ON, Outcome.INVALID, "spec.domain.resources.requests.memory", id="malformed-quantity"),
        pytest.param(vmi(requests={"memory": "9" * 60 + "Ei"}), CLUSTER, ON, Outcome.INVALID, "absurd", id="absurd-quantity"),
        pytest.param("not a vmi", CLUSTER, ON, Outcome.INVALID, "object", id="object-not-a-mapping"),
    ],
)  # fmt: skip
def test_decision_table(
    obj: object, capacity: ClusterCapacity, config: AdmissionConfig, outcome: Outcome, numbers: str
) -> None:
    decision = decide(review(obj), capacity, config)
    assert decision.outcome is outcome
    assert decision.allowed is (outcome is not Outcome.REJECTED_UNSAFE)
    assert all(len(w) <= MAX_WARNING for w in decision.warnings)
    if numbers:
        assert numbers in " ".join(decision.warnings)
        assert decision.audit["auto-numa-decision"] == outcome.value
    assert bool(decision.patch) is (outcome is Outcome.MUTATED)


def test_mutation_adds_passthrough_creating_parents() -> None:
    obj = vmi(requests={"cpu": "32", "memory": "8Gi"})
    obj["spec"]["domain"]["memory"] = {"hugepages": {"pageSize": "2Mi"}}
    obj["spec"]["domain"]["cpu"] = None
    config = AdmissionConfig(enabled=True)
    obj2 = {**obj, "spec": {"domain": {**obj["spec"]["domain"], "cpu": {"dedicatedCpuPlacement": True}}}}
    response = decide(review(obj2), CLUSTER, config).response()
    assert _patch(response) == [
        {"op": "add", "path": "/spec/domain/cpu/numa", "value": {"guestMappingPassthrough": {}}}
    ]
    assert response["response"]["patchType"] == "JSONPatch"
    assert response["response"]["uid"] == "u-1"


def test_reject_mode_says_why_with_403() -> None:
    response = decide(review(vmi(cpu={"cores": 32})), CLUSTER, AdmissionConfig(True, Mode.REJECT)).response()
    body = response["response"]
    assert body["allowed"] is False
    assert body["status"]["code"] == 403
    assert "dedicatedCpuPlacement" in body["status"]["message"]
    assert "32 > 16" in body["status"]["message"]


@pytest.mark.parametrize(
    ("operation", "kind"),
    [
        pytest.param("UPDATE", "VirtualMachineInstance", id="update"),
        pytest.param("CREATE", "Pod", id="pod"),
    ],
)
def test_other_requests_pass_untouched(operation: str, kind: str) -> None:
    decision = decide(review(large_dedicated(), operation=operation, kind=kind), CLUSTER, ON)
    assert decision.outcome is Outcome.NOT_APPLICABLE
    assert decision.allowed
    assert not decision.patch


def test_dry_run_is_decided_like_any_request() -> None:
    wet = decide(review(large_dedicated()), CLUSTER, ON)
    dry = decide(review(large_dedicated(), dry_run=True), CLUSTER, ON)
    assert dry.patch == wet.patch
    assert dry.outcome is Outcome.MUTATED


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        pytest.param([], "expected a JSON object", id="array"),
        pytest.param({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}, "apiVersion", id="v1beta1"),
        pytest.param({"apiVersion": "admission.k8s.io/v1", "kind": "Pod"}, "kind", id="wrong-kind"),
        pytest.param({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}, "request", id="no-request"),
        pytest.param({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}, "uid", id="no-uid"),
    ],
)  # fmt: skip
def test_unanswerable_reviews_raise_input_error(bad: object, named: str) -> None:
    with pytest.raises(InputError, match=named):
        decide(bad, CLUSTER, ON)
