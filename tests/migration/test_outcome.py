"""Every row of the OpenShift live-migration table, and kvnuma's rule for policy none."""

from __future__ import annotations

import pytest

from kvnuma.migration import Policy, SizeClass, table_outcome

S, L, XL = SizeClass.SMALL, SizeClass.LARGE, SizeClass.EXTRA_LARGE
NONE, BE, RS, SNN = Policy.NONE, Policy.BEST_EFFORT, Policy.RESTRICTED, Policy.SINGLE_NUMA_NODE


@pytest.mark.parametrize(
    ("size", "policy", "works", "row"),
    [
        # any / single-numa-node: fails when the pod asks more CPUs than one NUMA node has
        pytest.param(XL, SNN, False, "any / single-numa-node", id="any-snn-more-than-one-node-fails"),
        # any / none: fails (incorrect memnode allocation) — for the class no specific row names
        pytest.param(L, NONE, False, "any / none", id="any-none-large-fails"),
        # small / all four: works
        pytest.param(S, NONE, True, "small / none", id="small-none"),
        pytest.param(S, SNN, True, "small / single-numa-node", id="small-snn"),
        pytest.param(S, BE, True, "small / best-effort", id="small-best-effort"),
        pytest.param(S, RS, True, "small / restricted", id="small-restricted"),
        # large / single-numa-node, best-effort, restricted: works
        pytest.param(L, SNN, True, "large / single-numa-node", id="large-snn"),
        pytest.param(L, BE, True, "large / best-effort", id="large-best-effort"),
        pytest.param(L, RS, True, "large / restricted", id="large-restricted"),
        # extra large / none, best-effort: works
        pytest.param(XL, NONE, True, "extra large / none", id="xl-none"),
        pytest.param(XL, BE, True, "extra large / best-effort", id="xl-best-effort"),
        # extra large / restricted: does not work (expected)
        pytest.param(XL, RS, False, "extra large / restricted", id="xl-restricted"),
    ],
)
def test_table_row(size: SizeClass, policy: Policy, works: bool, row: str) -> None:
    outcome = table_outcome(size, policy, dedicated=True, passthrough=True)
    assert (outcome.works, outcome.row) == (works, row)
    assert outcome.why


@pytest.mark.parametrize("size", [S, L, XL])
def test_memnode_failure_needs_guest_cells(size: SizeClass) -> None:
    assert table_outcome(size, NONE, dedicated=True, passthrough=False).works


@pytest.mark.parametrize("policy", list(Policy))
def test_pods_without_exclusive_cpus_are_not_aligned(policy: Policy) -> None:
    assert table_outcome(XL, policy, dedicated=False, passthrough=False).works
