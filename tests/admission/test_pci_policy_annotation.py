"""The webhook warns about a bad ``kvnuma.io/pci-numa-affinity-policy`` value on a VMI CREATE (the
PCI NUMA hook would leave that VM's domain unchanged); good values add no warning."""

from __future__ import annotations

import pytest
from admission_reviews import large_dedicated, review

from kvnuma.admission import AdmissionConfig, ClusterCapacity, decide
from kvnuma.admission.decision import MAX_WARNING
from kvnuma.names import MEMORY_POLICY_ANNOTATION, PCI_NUMA_POLICY_ANNOTATION
from kvnuma.pci.policy import POLICIES

GI = 1 << 30
CLUSTER = ClusterCapacity(nodes=3, cpus=64, memory_bytes=256 * GI, hugepages={GI: 128 * GI})


def warnings_for(
    annotations: dict[str, object], *, enabled: bool = True, operation: str = "CREATE"
) -> list[str]:
    obj = large_dedicated()
    obj["metadata"]["annotations"] = annotations
    decision = decide(review(obj, operation=operation), CLUSTER, AdmissionConfig(enabled=enabled))
    assert decision.allowed
    return [w for w in decision.warnings if "kvnuma.io/" in w]


@pytest.mark.parametrize("enabled", [True, False], ids=["auto-numa-on", "auto-numa-off"])
@pytest.mark.parametrize(
    ("value", "warned"),
    [
        *(pytest.param(p, False, id=p) for p in POLICIES),
        pytest.param(" Required ", False, id="case-and-blanks"),
        pytest.param("strict", True, id="other"),
        pytest.param("requried", True, id="typo"),
        pytest.param("x" * 100_000, True, id="huge"),
    ],
)
def test_bad_values_are_warned_about_in_one_bounded_line(enabled: bool, value: str, warned: bool) -> None:
    ours = warnings_for({PCI_NUMA_POLICY_ANNOTATION: value}, enabled=enabled)
    if not warned:
        assert ours == []
        return
    (warning,) = ours
    assert warning.startswith(f"annotation {PCI_NUMA_POLICY_ANNOTATION}: ")
    assert "is not one of legacy, pref" in warning
    assert len(warning) <= MAX_WARNING


def test_a_bad_policy_and_a_bad_memory_policy_are_two_warnings() -> None:
    ours = warnings_for({PCI_NUMA_POLICY_ANNOTATION: "no", MEMORY_POLICY_ANNOTATION: "bind"})
    assert [w.split(":")[0] for w in ours] == [
        f"annotation {MEMORY_POLICY_ANNOTATION}",
        f"annotation {PCI_NUMA_POLICY_ANNOTATION}",
    ]


def test_other_operations_are_not_warned_about() -> None:
    assert warnings_for({PCI_NUMA_POLICY_ANNOTATION: "no"}, operation="UPDATE") == []
