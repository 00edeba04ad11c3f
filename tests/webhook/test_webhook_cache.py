# ruff: noqa: E501
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvnuma.admission import ClusterCapacity, NodeCapacity
from kvnuma.errors import InputError
from kvnuma.webhook.cache import ClusterCache, auto_numa_enabled
from kvnuma.webhook.file_source import FolderWatch, load_folder, parse_source
from kvnuma.webhook.min_tracker import MinTracker

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "cluster"
GI = 1 << 30


def node(name: str, cpus: int | None = None, memory: str | None = None, **hugepages: str) -> dict[str, Any]:
    annotations: dict[str, str] = {"unrelated": "x"}
    if cpus is not None:
        annotations["kubevirt.io/max-single-numa-cpus"] = str(cpus)
    if memory is not None:
        annotations["kubevirt.io/max-single-numa-memory"] = memory
    for size, amount in hugepages.items():
        annotations[f"kubevirt.io/max-single-numa-hugepages-{size.lstrip('_')}"] = amount
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "annotations": annotations}}


_events = st.lists(
    st.tuples(
        st.sampled_from(["ADDED", "MODIFIED", "DELETED"]),
        st.sampled_from([f"n{i}" for i in range(8)]),
        st.one_of(st.none(), st.integers(1, 64)),
        st.one_of(st.none(), st.integers(1, 512)),
        st.one_of(st.none(), st.integers(0, 64)),
    ),
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(_events)
def test_incremental_minimum_matches_a_full_scan(
    events: list[tuple[str, str, int | None, int | None, int | None]],
) -> None:
    cache = ClusterCache()
    cache.nodes.on_replace([])
    truth: dict[str, dict[str, Any]] = {}
    for kind, name, cpus, memory_gi, huge_gi in events:
        hugepages = {"_1Gi": f"{huge_gi}Gi"} if huge_gi is not None else {}
        obj = node(name, cpus, f"{memory_gi}Gi" if memory_gi else None, **hugepages)
        cache.nodes.on_event(kind, obj)
        if kind == "DELETED":
            truth.pop(name, None)
        else:
            truth[name] = obj
        expected = ClusterCapacity.of([NodeCapacity.from_node(o) for o in truth.values()])
        assert cache.capacity() == expected
    assert cache.node_count == len(truth)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.one_of(st.none(), st.integers(0, 1000))), max_size=300))
def test_min_tracker_stays_small_and_right(ops: list[tuple[int, int | None]]) -> None:
    tracker: MinTracker[int] = MinTracker()
    truth: dict[int, int] = {}
    for key, value in ops:
        if value is None:
            tracker.discard(key)
            truth.pop(key, None)
        else:
            tracker.set(key, value)
            truth[key] = value
        assert tracker.minimum() == (min(truth.values()) if truth else None)
    assert len(tracker._heap) <= 2 * len(truth) + 65


def test_malformed_annotations_are_left_out_and_reported() -> None:
    cache = ClusterCache()
    cache.nodes.on_replace([node("a", cpus=8, memory="lots"), node("b", memory="32Gi", _2Mi="-1")])
    capacity = cache.capacity()
    assert capacity == ClusterCapacity(nodes=2, cpus=8, memory_bytes=32 * GI, hugepages={})
    assert "kubevirt.io/max-single-numa-memory" in cache.problems["a"][0]
    assert "hugepages-2Mi" in cache.problems["b"][0]


@pytest.mark.parametrize(
    ("kubevirt", "enabled"),
    [
        pytest.param({"spec": {"configuration": {"developerConfiguration": {"autoNUMAEnablement": True}}}}, True, id="on"),
        pytest.param({"spec": {"configuration": {"developerConfiguration": {}}}}, False, id="absent"),
        pytest.param({"spec": {"configuration": {"developerConfiguration": {"autoNUMAEnablement": "true"}}}}, False, id="string-not-bool"),
        pytest.param({"spec": None}, False, id="null-spec"),
    ],
)  # fmt: skip
def test_kubevirt_flag(kubevirt: dict[str, Any], enabled: bool) -> None:
    assert auto_numa_enabled(kubevirt) is enabled


def test_example_cluster_folder_loads() -> None:
    cache = ClusterCache()
    ready_before = cache.ready
    assert load_folder(EXAMPLES, cache) == (3, 1)
    assert (ready_before, cache.ready) == (False, True)
    assert cache.enabled
    capacity = cache.capacity()
    assert (capacity.nodes, capacity.cpus, capacity.memory_bytes) == (2, 16, 64 * GI)
    assert capacity.hugepages == {GI: 32 * GI, 2 << 20: 8 * GI}


def test_folder_watch_and_list_documents(tmp_path: Path) -> None:
    (tmp_path / "nodes.json").write_text(
        '{"apiVersion": "v1", "kind": "NodeList", "items": [{"metadata": {"name": "x", "annotations": '
        '{"kubevirt.io/max-single-numa-cpus": "4"}}}]}'
    )
    watch = FolderWatch(tmp_path)
    cache = ClusterCache()
    assert load_folder(tmp_path, cache) == (1, 0)
    assert cache.capacity().cpus == 4
    assert not cache.enabled
    assert not watch.changed()
    (tmp_path / "kv.yaml").write_text("kind: KubeVirt\nmetadata: {name: kv}\n")
    assert watch.changed()


@pytest.mark.parametrize("text", ["kube:", "file:", "dir/x", ""])
def test_bad_source_is_named(text: str) -> None:
    with pytest.raises(InputError, match="--source"):
        parse_source(text)
