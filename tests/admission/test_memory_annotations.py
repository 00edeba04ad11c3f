"""The webhook warns about a bad ``kvnuma.io/guest-numa`` / ``kvnuma.io/memory-policy`` /
``kvnuma.io/iothread-placement`` value on a
VMI it sees (the hook would leave that VM's domain unchanged); good values add no warning."""

from __future__ import annotations

import pytest
from admission_reviews import large_dedicated, review

from kvnuma.admission import AdmissionConfig, ClusterCapacity, Outcome, decide
from kvnuma.admission.decision import MAX_WARNING
from kvnuma.names import GUEST_NUMA_ANNOTATION, IOTHREAD_PLACEMENT_ANNOTATION, MEMORY_POLICY_ANNOTATION

GI = 1 << 30
CLUSTER = ClusterCapacity(nodes=3, cpus=64, memory_bytes=256 * GI, hugepages={GI: 128 * GI})
ON = AdmissionConfig(enabled=True)
OFF = AdmissionConfig(enabled=False)


def annotated(annotations: dict[str, object]) -> dict[str, object]:
    obj = large_dedicated()
    obj["metadata"]["annotations"] = annotations
    return obj


@pytest.mark.parametrize(
    "config", [pytest.param(ON, id="auto-numa-on"), pytest.param(OFF, id="auto-numa-off")]
)
@pytest.mark.parametrize(
    ("annotations", "warning"),
    [
        pytest.param({GUEST_NUMA_ANNOTATION: "host-cells"}, "", id="guest-numa-ok"),
        pytest.param({MEMORY_POLICY_ANNOTATION: "interleave"}, "", id="policy-ok"),
        pytest.param({}, "", id="none"),
        pytest.param({IOTHREAD_PLACEMENT_ANNOTATION: "cell"}, "", id="iothread-placement-ok"),
        pytest.param(
            {IOTHREAD_PLACEMENT_ANNOTATION: "numa"},
            "annotation kvnuma.io/iothread-placement: 'numa' is not one of kubevirt, cell",
            id="iothread-placement-bad",
        ),
        pytest.param(
            {GUEST_NUMA_ANNOTATION: "yes"},
            "annotation kvnuma.io/guest-numa: 'yes' is not one of host-cells, off",
            id="guest-numa-bad",
        ),
        pytest.param(
            {MEMORY_POLICY_ANNOTATION: "bind"},
            "annotation kvnuma.io/memory-policy: 'bind' is not one of strict, preferred, interleave,"
            " restrictive",
            id="policy-bad",
        ),
        pytest.param(
            {MEMORY_POLICY_ANNOTATION: "z" * 100_000}, "annotation kvnuma.io/memory-policy: 'zzz", id="huge"
        ),
    ],
)
def test_bad_values_are_warned_about(
    config: AdmissionConfig, annotations: dict[str, object], warning: str
) -> None:
    decision = decide(review(annotated(annotations)), CLUSTER, config)
    assert decision.allowed
    assert decision.outcome in (Outcome.FITS, Outcome.DISABLED)
    ours = [w for w in decision.warnings if "kvnuma.io/" in w]
    if not warning:
        assert ours == []
    else:
        assert len(ours) == 1
        assert ours[0].startswith(warning)
        assert len(ours[0]) <= MAX_WARNING


def test_other_operations_are_not_warned_about() -> None:
    decision = decide(review(annotated({GUEST_NUMA_ANNOTATION: "yes"}), operation="UPDATE"), CLUSTER, ON)
    assert decision.warnings == ()
