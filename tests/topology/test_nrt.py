"""kvnuma.topology.nrt: a HostTopology and the kubelet's podresources view as a v1alpha2
NodeResourceTopology object. Expected amounts are written out by hand from the host each row
builds (cell 0 holds CPUs 0,1,4,5 and cell 1 CPUs 2,3,6,7 on the small host)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from topology_strategies import topologies

from kubeapi.crd import crd_schema, schema_errors
from kvnuma.errors import InputError
from kvnuma.model import HostTopology
from kvnuma.model.cpuset import CpuSet
from kvnuma.model.kubelet import KubeletResources, MemoryBlock
from kvnuma.topology.nrt import TopologyManager, build_nrt, hugepages_resource
from support.hostbuilder import GiB, MiB, synthetic_host

CRD = Path(__file__).resolve().parents[1] / "fixtures" / "nrt" / "noderesourcetopologies.crd.yaml"
SCHEMA = crd_schema(yaml.safe_load(CRD.read_text()), "v1alpha2")
UID = "5f0c1b2e-0000-4000-8000-000000000001"

Amounts = tuple[int, int, int | None]  # capacity, allocatable, available


def small(**options: Any) -> HostTopology:
    base: dict[str, Any] = {
        "cells": 2,
        "cores_per_cell": 2,
        "threads": 2,
        "memory_per_cell": 8 * GiB,
        "hugepages": {2 * MiB: 512, GiB: 2},
    }
    return synthetic_host(**(base | options))


def kubelet(
    cpus: str = "",
    assigned: str = "",
    memory: tuple[tuple[str, int, tuple[int, ...]], ...] = (),
    held: tuple[tuple[str, int, tuple[int, ...]], ...] = (),
) -> KubeletResources:
    return KubeletResources(
        allocatable_cpus=CpuSet.parse(cpus),
        allocatable_memory=tuple(MemoryBlock(r, s, n) for r, s, n in memory),
        assigned_cpus=CpuSet.parse(assigned),
        assigned_memory=tuple(MemoryBlock(r, s, n) for r, s, n in held),
    )


PER_NODE = tuple(
    (resource, size, (node,))
    for node in (0, 1)
    for resource, size in (("memory", 6 * GiB), ("hugepages-2Mi", GiB), ("hugepages-1Gi", 2 * GiB))
)


MEMORY_PER_NODE = tuple(block for block in PER_NODE if block[0] == "memory")


def amounts(obj: dict[str, Any]) -> dict[str, dict[str, Amounts]]:
    def one(item: dict[str, str]) -> Amounts:
        available = item.get("available")
        return (
            int(item["capacity"]),
            int(item["allocatable"]),
            None if available is None else int(available),
        )

    return {zone["name"]: {item["name"]: one(item) for item in zone["resources"]} for zone in obj["zones"]}


FULL_HOST = {
    "memory": (8 * GiB, 8 * GiB, None),
    "hugepages-2Mi": (GiB, GiB, None),
    "hugepages-1Gi": (2 * GiB, 2 * GiB, None),
}


@pytest.mark.parametrize(
    ("host", "view", "expected"),
    [
        pytest.param(
            small(),
            None,
            {"node-0": {"cpu": (4, 4, None), **FULL_HOST}, "node-1": {"cpu": (4, 4, None), **FULL_HOST}},
            id="no-kubelet-view-preview",
        ),
        pytest.param(
            small(),
            kubelet("1-3,5-7", "1,5,2", PER_NODE, (("memory", GiB, (0,)), ("hugepages-1Gi", GiB, (1,)))),
            {
                "node-0": {
                    "cpu": (4, 2, 0),
                    "memory": (8 * GiB, 6 * GiB, 5 * GiB),
                    "hugepages-2Mi": (GiB, GiB, GiB),
                    "hugepages-1Gi": (2 * GiB, 2 * GiB, 2 * GiB),
                },
                "node-1": {
                    "cpu": (4, 4, 3),
                    "memory": (8 * GiB, 6 * GiB, 6 * GiB),
                    "hugepages-2Mi": (GiB, GiB, GiB),
                    "hugepages-1Gi": (2 * GiB, 2 * GiB, GiB),
                },
            },
            id="reserved-cpus-and-holdings",
        ),
        pytest.param(
            small(),
            kubelet("0-7", "", MEMORY_PER_NODE, (("memory", 7 * GiB, (0, 1)),)),
            {
                "node-0": {"cpu": (4, 4, 4), "memory": (8 * GiB, 6 * GiB, 0)},
                "node-1": {"cpu": (4, 4, 4), "memory": (8 * GiB, 6 * GiB, 5 * GiB)},
            },
            id="block-spread-over-two-nodes-fills-the-lower-first",
        ),
        pytest.param(
            small(),
            kubelet("0-7", "", MEMORY_PER_NODE, (("memory", 5 * GiB, (0, 1)), ("memory", 2 * GiB, (0,)))),
            {
                "node-0": {"cpu": (4, 4, 4), "memory": (8 * GiB, 6 * GiB, 0)},
                "node-1": {"cpu": (4, 4, 4), "memory": (8 * GiB, 6 * GiB, 5 * GiB)},
            },
            id="single-node-holdings-before-spread-ones",
        ),
        pytest.param(
            small(),
            kubelet(),
            {"node-0": {"cpu": (4, 0, 0)}, "node-1": {"cpu": (4, 0, 0)}},
            id="kubelet-without-static-policies-no-memory-types",
        ),
        pytest.param(
            small(memory_only_cells=1),
            kubelet("0-7", "", (*MEMORY_PER_NODE, ("memory", 4 * GiB, (2,)))),
            {
                "node-0": {"cpu": (4, 4, 4), "memory": (8 * GiB, 6 * GiB, 6 * GiB)},
                "node-1": {"cpu": (4, 4, 4), "memory": (8 * GiB, 6 * GiB, 6 * GiB)},
                "node-2": {"cpu": (0, 0, 0), "memory": (8 * GiB, 4 * GiB, 4 * GiB)},
            },
            id="cpu-less-cell",
        ),
        pytest.param(
            small(offline=[5]),
            kubelet("1-3,6-7", "6"),
            {"node-0": {"cpu": (3, 1, 1)}, "node-1": {"cpu": (4, 4, 3)}},
            id="offline-cpus-are-not-capacity",
        ),
        pytest.param(
            small(hugepages={64 << 10: 16, 32 * MiB: 4, 16 * GiB: 0}),
            None,
            {
                zone: {
                    "cpu": (4, 4, None),
                    "memory": (8 * GiB, 8 * GiB, None),
                    "hugepages-64Ki": (MiB, MiB, None),
                    "hugepages-32Mi": (128 * MiB, 128 * MiB, None),
                    "hugepages-16Gi": (0, 0, None),
                }
                for zone in ("node-0", "node-1")
            },
            id="other-page-sizes-and-empty-pools",
        ),
    ],
)
def test_zone_resources(host: HostTopology, view: KubeletResources | None, expected: dict[str, Any]) -> None:
    obj = build_nrt(host, node_name="worker-0", node_uid=UID, kubelet=view)
    assert amounts(obj) == expected
    for zone in obj["zones"]:  # cpu first, then memory, then pages by size (as written above)
        assert [item["name"] for item in zone["resources"]] == list(expected[zone["name"]])
    errors = schema_errors(obj, SCHEMA)
    if view is None:  # a preview: the published schema refuses it
        assert errors
        assert all(error["field"].endswith("available") for error in errors)
    else:
        assert errors == []


def test_object_identity_costs_and_zone_type() -> None:
    obj = build_nrt(small(), node_name="worker-0", node_uid=UID, kubelet=kubelet("0-7"))
    assert obj["apiVersion"] == "topology.node.k8s.io/v1alpha2"
    assert obj["kind"] == "NodeResourceTopology"
    assert obj["metadata"] == {
        "name": "worker-0",
        "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "worker-0", "uid": UID}],
    }
    assert "attributes" not in obj
    assert [(zone["name"], zone["type"]) for zone in obj["zones"]] == [("node-0", "Node"), ("node-1", "Node")]
    assert obj["zones"][1]["costs"] == [{"name": "node-0", "value": 21}, {"name": "node-1", "value": 10}]


@pytest.mark.parametrize(
    ("manager", "expected"),
    [
        pytest.param(
            TopologyManager("single-numa-node", "pod"),
            [
                {"name": "topologyManagerPolicy", "value": "single-numa-node"},
                {"name": "topologyManagerScope", "value": "pod"},
            ],
            id="both",
        ),
        pytest.param(
            TopologyManager(policy="restricted"),
            [{"name": "topologyManagerPolicy", "value": "restricted"}],
            id="policy-only",
        ),
        pytest.param(TopologyManager(), None, id="unknown-left-out"),
    ],
)
def test_topology_manager_attributes(manager: TopologyManager, expected: list[dict[str, str]] | None) -> None:
    obj = build_nrt(small(), node_name="n", node_uid=UID, kubelet=kubelet("0-7"), manager=manager)
    assert obj.get("attributes") == expected


@pytest.mark.parametrize(
    ("size", "name"),
    [
        pytest.param(2 * MiB, "hugepages-2Mi", id="2Mi"),
        pytest.param(GiB, "hugepages-1Gi", id="1Gi"),
        pytest.param(64 << 10, "hugepages-64Ki", id="64Ki"),
        pytest.param(512 * MiB, "hugepages-512Mi", id="512Mi"),
        pytest.param(16 * GiB, "hugepages-16Gi", id="16Gi"),
    ],
)
def test_hugepages_resource_names(size: int, name: str) -> None:
    assert hugepages_resource(size) == name


def test_kubelet_page_names_are_normalised() -> None:
    view = kubelet("0-7", memory=(("hugepages-2048Ki", GiB, (0,)), ("hugepages-2Mi", 0, (1,))))
    obj = build_nrt(small(), node_name="n", node_uid=UID, kubelet=view)
    assert amounts(obj)["node-0"]["hugepages-2Mi"] == (GiB, GiB, GiB)


@pytest.mark.parametrize(
    ("view", "fragment"),
    [
        pytest.param(kubelet("0-8"), "allocatable CPUs 8 are not online CPUs", id="cpu-not-on-host"),
        pytest.param(kubelet("1-7", "0-1"), "CPUs 0 are listed as held", id="held-cpu-not-allocatable"),
        pytest.param(
            kubelet("0-7", memory=(("memory", GiB, (0, 1)),)), "one node at a time", id="allocatable-spread"
        ),
        pytest.param(
            kubelet("0-7", memory=(("memory", 9 * GiB, (0,)),)),
            "more than the host's",
            id="allocatable-over-capacity",
        ),
        pytest.param(
            kubelet("0-7", memory=PER_NODE, held=(("memory", 13 * GiB, (0, 1)),)),
            "1073741824 bytes over",
            id="held-over-allocatable",
        ),
        pytest.param(
            kubelet("0-7", memory=PER_NODE, held=(("memory", GiB, ()),)),
            "names no NUMA node",
            id="held-no-node",
        ),
        pytest.param(
            kubelet("0-7", held=(("memory", GiB, (0,)),)), "none allocatable", id="held-type-not-allocatable"
        ),
        pytest.param(
            kubelet("0-7", memory=(("memory", GiB, (7,)),)), "does not have: [7]", id="unknown-node"
        ),
        pytest.param(
            kubelet("0-7", memory=(("gpu-memory", GiB, (0,)),)), "unknown memory type", id="unknown-type"
        ),
        pytest.param(
            kubelet("0-7", memory=(("hugepages-3000", GiB, (0,)),)), "unknown memory type", id="odd-page-size"
        ),
    ],
)
def test_contradicting_views_are_input_errors(view: KubeletResources, fragment: str) -> None:
    with pytest.raises(InputError, match="podresources") as caught:
        build_nrt(small(), node_name="n", node_uid=UID, kubelet=view)
    assert fragment in caught.value.one_line()


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        pytest.param(
            lambda: build_nrt(small(), node_name="", node_uid=UID), "node name: empty", id="no-name"
        ),
        pytest.param(lambda: build_nrt(small(), node_name="n", node_uid=""), "no uid", id="no-uid"),
        pytest.param(
            lambda: build_nrt(HostTopology(cells=()), node_name="n", node_uid=UID),
            "no NUMA cells",
            id="no-cells",
        ),
        pytest.param(lambda: TopologyManager("static"), "unknown policy 'static'", id="bad-policy"),
        pytest.param(lambda: TopologyManager(scope="node"), "unknown scope 'node'", id="bad-scope"),
    ],
)
def test_impossible_inputs(call: Any, fragment: str) -> None:
    with pytest.raises(InputError) as caught:
        call()
    assert fragment in caught.value.one_line()


@st.composite
def hosts_and_views(draw: st.DrawFn) -> tuple[HostTopology, KubeletResources]:
    """A host and a kubelet view that can both be true: allocatable within the host, holdings
    within allocatable (single-node ones, then one block spread over some nodes)."""
    host = draw(topologies())
    online = [cpu.id for cell in host.cells for cpu in cell.online_cpus]
    allocatable = draw(st.lists(st.sampled_from(online), unique=True)) if online else []
    held = draw(st.lists(st.sampled_from(allocatable), unique=True)) if allocatable else []
    memory, holdings = [], []
    left = {}
    for cell in host.cells:
        size = draw(st.integers(0, cell.memory_bytes))
        memory.append(MemoryBlock("memory", size, (cell.id,)))
        take = draw(st.integers(0, size))
        if take:
            holdings.append(MemoryBlock("memory", take, (cell.id,)))
        left[cell.id] = size - take
    group = (
        draw(st.lists(st.sampled_from(host.cell_ids), unique=True, min_size=2)) if len(host.cells) > 1 else []
    )
    if group:
        spread = draw(st.integers(0, sum(left[node] for node in group)))
        holdings.append(MemoryBlock("memory", spread, tuple(sorted(group))))
    view = KubeletResources(CpuSet.of(allocatable), tuple(memory), CpuSet.of(held), tuple(holdings))
    return host, view


@settings(max_examples=200, deadline=None)
@given(hosts_and_views())
def test_available_within_allocatable_within_capacity(case: tuple[HostTopology, KubeletResources]) -> None:
    host, view = case
    obj = build_nrt(host, node_name="n", node_uid=UID, kubelet=view)
    assert [zone["name"] for zone in obj["zones"]] == [f"node-{cell.id}" for cell in host.cells]
    for zone, cell in zip(obj["zones"], host.cells, strict=True):
        assert zone.get("costs", []) == [{"name": f"node-{j}", "value": d} for j, d in cell.distances]
        for item in zone["resources"]:
            assert 0 <= int(item["available"]) <= int(item["allocatable"]) <= int(item["capacity"]), item
    held_memory = sum(block.size for block in view.assigned_memory)
    charged = sum(
        int(item["allocatable"]) - int(item["available"])
        for zone in obj["zones"]
        for item in zone["resources"]
        if item["name"] == "memory"
    )
    assert charged == held_memory
    charged_cpus = sum(
        int(item["allocatable"]) - int(item["available"])
        for zone in obj["zones"]
        for item in zone["resources"]
        if item["name"] == "cpu"
    )
    assert charged_cpus == len(view.assigned_cpus)
    assert schema_errors(obj, SCHEMA) == []


_BLOCKS = st.builds(
    MemoryBlock,
    st.sampled_from(["memory", "hugepages-2Mi", "hugepages-1Gi", "hugepages-2048Ki", "hugepages-3Mi", "gpu"]),
    st.integers(0, 20 * GiB),
    st.lists(st.integers(0, 3), max_size=3).map(tuple),
)
_CPUS = st.lists(st.integers(0, 9), max_size=10).map(CpuSet.of)


@settings(max_examples=300, deadline=None)
@given(
    st.builds(
        KubeletResources,
        _CPUS,
        st.lists(_BLOCKS, max_size=6).map(tuple),
        _CPUS,
        st.lists(_BLOCKS, max_size=6).map(tuple),
    )
)
def test_any_kubelet_view_gives_a_sound_object_or_one_input_error(view: KubeletResources) -> None:
    """Whatever the kubelet says (consistent or not), the result is never a wrong topology: either
    an object whose every resource has available <= allocatable <= capacity, that the CRD accepts,
    or one InputError line naming podresources."""
    try:
        obj = build_nrt(small(), node_name="n", node_uid=UID, kubelet=view)
    except InputError as error:
        assert error.source == "podresources"
        assert "\n" not in error.one_line()
        return
    for zone in obj["zones"]:
        for item in zone["resources"]:
            assert 0 <= int(item["available"]) <= int(item["allocatable"]) <= int(item["capacity"]), item
    assert schema_errors(obj, SCHEMA) == []
