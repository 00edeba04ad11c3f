"""The pure part: desired keys from a topology, and the minimal patch of our keys only."""

from __future__ import annotations

from typing import Any

import pytest
from agent_harness import GiB, MiB, host
from hypothesis import given
from hypothesis import strategies as st

from kubeapi.patches import merge_patch
from kvnuma.agent.desired import Published, desired, node_patch
from kvnuma.errors import RuleError
from kvnuma.model.topology import Cell, HostTopology
from kvnuma.names import (
    MAX_SINGLE_NUMA_CPUS,
    MAX_SINGLE_NUMA_HUGEPAGES_PREFIX,
    MAX_SINGLE_NUMA_MEMORY,
    REALTIME_LABEL,
    is_capacity_annotation,
)


@pytest.mark.parametrize(
    ("pools", "realtime", "hugepage_keys"),
    [
        pytest.param({2 * MiB: 512, GiB: 4}, False, {"2Mi": "1Gi", "1Gi": "4Gi"}, id="two-sizes"),
        pytest.param({2 * MiB: 3}, True, {"2Mi": "6Mi"}, id="odd-count-realtime"),
        pytest.param({}, False, {}, id="no-hugepages"),
        pytest.param({GiB: 0}, False, {"1Gi": "0"}, id="empty-pool"),
    ],
)
def test_desired_keys(pools: dict[int, int], realtime: bool, hugepage_keys: dict[str, str]) -> None:
    want = desired(host(pools, cells=2, cores=5), realtime)
    assert want.annotations[MAX_SINGLE_NUMA_CPUS] == str(5 * 2)
    assert want.annotations[MAX_SINGLE_NUMA_MEMORY] == "64Gi"
    assert {
        k.removeprefix(MAX_SINGLE_NUMA_HUGEPAGES_PREFIX): v
        for k, v in want.annotations.items()
        if k.startswith(MAX_SINGLE_NUMA_HUGEPAGES_PREFIX)
    } == (hugepage_keys)
    assert want.labels == ({REALTIME_LABEL: "true"} if realtime else {})


def test_a_host_without_cpus_is_refused() -> None:
    with pytest.raises(RuleError) as caught:
        desired(HostTopology(cells=(Cell(id=0, memory_bytes=GiB),)), False)
    assert caught.value.rule == "node-topology"


def test_no_patch_when_the_node_already_agrees() -> None:
    want = desired(host({2 * MiB: 8}), True)
    node = {"metadata": {"annotations": dict(want.annotations), "labels": dict(want.labels)}}
    assert node_patch(node, want) is None


our_annotation = st.sampled_from(
    [
        MAX_SINGLE_NUMA_CPUS,
        MAX_SINGLE_NUMA_MEMORY,
        MAX_SINGLE_NUMA_HUGEPAGES_PREFIX + "2Mi",
        MAX_SINGLE_NUMA_HUGEPAGES_PREFIX + "1Gi",
        MAX_SINGLE_NUMA_HUGEPAGES_PREFIX + "16Gi",
    ]
)
foreign_key = st.sampled_from(["example.com/a", "kubevirt.io/schedulable", "kubevirt.io/max-single", "b"])
value = st.text("0123456789Gi", min_size=1, max_size=5)


@given(
    current_ours=st.dictionaries(our_annotation, value),
    current_foreign=st.dictionaries(foreign_key, value),
    wanted=st.dictionaries(our_annotation, value),
    realtime_now=st.booleans(),
    realtime_wanted=st.booleans(),
)
def test_the_patch_reaches_the_desired_keys_and_touches_nothing_else(
    current_ours: dict[str, str],
    current_foreign: dict[str, str],
    wanted: dict[str, str],
    realtime_now: bool,
    realtime_wanted: bool,
) -> None:
    labels = {"example.com/zone": "z"} | ({REALTIME_LABEL: "true"} if realtime_now else {})
    node: dict[str, Any] = {"metadata": {"annotations": current_foreign | current_ours, "labels": labels}}
    want = Published(wanted, {REALTIME_LABEL: "true"} if realtime_wanted else {})
    patch = node_patch(node, want)
    after = merge_patch(node, patch) if patch is not None else node
    annotations = after["metadata"].get("annotations", {})
    assert {k: v for k, v in annotations.items() if is_capacity_annotation(k)} == wanted
    assert {k: v for k, v in annotations.items() if not is_capacity_annotation(k)} == current_foreign
    assert after["metadata"]["labels"].get("example.com/zone") == "z"
    assert (REALTIME_LABEL in after["metadata"]["labels"]) == realtime_wanted
    assert node_patch(after, want) is None
    if patch is not None:
        named = set(patch["metadata"].get("annotations", {})) | set(patch["metadata"].get("labels", {}))
        assert all(is_capacity_annotation(k) or k == REALTIME_LABEL for k in named)
