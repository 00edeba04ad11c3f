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
from kvnuma.webhook.min_counts import MinCounts
from kvnuma.webhook.switch import Switch, from_flag

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
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 12)), max_size=300))
def test_min_counts_match_a_multiset(ops: list[tuple[bool, int]]) -> None:
    counts = MinCounts()
    truth: list[int] = []
    for add, value in ops:
        if add:
            counts.add(value)
            truth.append(value)
        elif value in truth:
            counts.remove(value)
            truth.remove(value)
        assert counts.minimum() == (min(truth) if truth else None)
        assert len(counts) == len(set(truth))  # one entry per distinct value, none per copy


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


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(1, 64), st.integers(1, 512)), max_size=60),
    st.integers(1, 7),
)
def test_a_list_built_page_by_page_equals_one_replace(rows: list[tuple[int, int, int]], page: int) -> None:
    objects = [node(f"n{i}", cpus, f"{mem}Gi", _1Gi=f"{mem}Gi") for i, cpus, mem in rows]
    whole, paged = ClusterCache(), ClusterCache()
    whole.nodes.on_replace(objects)
    build = paged.nodes.replacement()
    for start in range(0, len(objects), page):
        build.add(objects[start : start + page])
    build.commit()
    assert paged.capacity() == whole.capacity()
    assert paged.node_count == whole.node_count == len({i for i, _c, _m in rows})


def test_a_relist_is_built_beside_and_swapped_in_when_complete() -> None:
    cache = ClusterCache()
    first = cache.nodes.replacement()
    first.add([node("a", 8, "16Gi")])
    assert not cache.nodes_listed  # a half-built first list is not visible: still not ready
    assert cache.capacity() == ClusterCapacity()
    first.commit()
    assert (cache.nodes_listed, cache.capacity().cpus, cache.node_lists) == (True, 8, 1)
    relist = cache.nodes.replacement()
    relist.add([node("b", 32, "64Gi")])
    relist.add([node("c", 24, "64Gi")])
    assert (cache.capacity().cpus, cache.node_count) == (8, 1)  # admission reads the old cache
    relist.commit()
    assert (cache.capacity().cpus, cache.node_count, cache.node_lists) == (24, 2, 2)
    abandoned = cache.nodes.replacement()  # a re-list cut half-way is dropped, never committed
    abandoned.add([node("tiny", 1, "1Gi")])
    del abandoned
    assert cache.capacity().cpus == 24


def test_a_node_keeps_copied_numbers_not_its_object() -> None:
    cache = ClusterCache()
    obj = node("a", 8, "16Gi", _2Mi="2Gi")
    obj["metadata"]["labels"] = {"feature.node.kubernetes.io/cpu-cpuid.AVX512F": "true"}
    cache.nodes.on_replace([obj])
    (digest,) = cache._index.digests.values()
    assert digest == (8, 16 * GI, ((2 << 20, 2 * GI),), ())
    assert all(isinstance(value, int | tuple) for value in digest)


def kv(name: str, annotation: str | None = None, field: Any = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "kubevirt"}
    if annotation is not None:
        metadata["annotations"] = {"kvnuma.io/auto-numa": annotation}
    spec: dict[str, Any] = {"configuration": {"developerConfiguration": {}}}
    if field is not None:
        spec["configuration"]["developerConfiguration"]["autoNUMAEnablement"] = field
    return {"apiVersion": "kubevirt.io/v1", "kind": "KubeVirt", "metadata": metadata, "spec": spec}


@pytest.mark.parametrize(
    ("crs", "override", "enabled", "source", "problem"),
    [
        pytest.param([], None, False, "default", "", id="no-cr"),
        pytest.param([kv("kv")], None, False, "default", "", id="neither"),
        pytest.param([kv("kv", field=True)], None, True, "field", "", id="vep-field"),
        pytest.param([kv("kv", field=False)], None, False, "field", "", id="vep-field-off"),
        pytest.param([kv("kv", "true")], None, True, "annotation", "", id="annotation"),
        pytest.param([kv("kv", " TRUE ")], None, True, "annotation", "", id="annotation-case"),
        pytest.param([kv("kv", "false", field=True)], None, False, "annotation", "", id="annotation-beats-field"),
        pytest.param([kv("kv", "true", field=False)], None, True, "annotation", "", id="annotation-beats-field-off"),
        pytest.param([kv("kv", "yes")], None, False, "default", "expected \"true\" or \"false\", got 'yes'", id="bad-annotation"),
        pytest.param([kv("kv", "1", field=True)], None, True, "field", "got '1'", id="bad-annotation-falls-to-field"),
        pytest.param([kv("a", "false"), kv("b", field=True)], None, True, "field", "", id="any-cr-turns-it-on"),
        pytest.param([kv("kv", "true")], "off", False, "flag", "", id="flag-off-wins"),
        pytest.param([], "on", True, "flag", "", id="flag-on-without-cr"),
    ],
)  # fmt: skip
def test_switch_sources(
    crs: list[dict[str, Any]], override: str | None, enabled: bool, source: str, problem: str
) -> None:
    seen: list[Switch] = []
    cache = ClusterCache(override=from_flag(override) if override else None, on_switch=seen.append)
    ready_before = cache.ready
    cache.kubevirts.on_replace(crs)
    cache.nodes.on_replace([])
    assert (ready_before, cache.ready) == (False, True)
    assert (cache.enabled, cache.switch.source.value) == (enabled, source)
    assert problem in cache.switch.problem
    assert bool(cache.switch.problem) is bool(problem)
    assert cache.switch.describe().startswith(f"auto-NUMA {'on' if enabled else 'off'} ({source}: ")
    if override is None and (enabled or source != "default" or problem):
        assert seen[-1] == cache.switch  # every change is reported (the log line and the metric)


def test_switch_follows_kubevirt_events() -> None:
    seen: list[Switch] = []
    cache = ClusterCache(on_switch=seen.append)
    cache.kubevirts.on_replace([kv("kv", field=True)])
    cache.kubevirts.on_event("MODIFIED", kv("kv", "false", field=True))
    cache.kubevirts.on_event("MODIFIED", kv("kv", "true"))
    cache.kubevirts.on_event("DELETED", kv("kv", "true"))
    assert [(s.enabled, s.source.value) for s in seen] == [
        (True, "field"),
        (False, "annotation"),
        (True, "annotation"),
        (False, "default"),
    ]


def test_bad_flag_value_is_named() -> None:
    with pytest.raises(ValueError, match="--auto-numa"):
        from_flag("maybe")
