# ruff: noqa: E501
"""NodeResourceTopology as the webhook's second capacity source (--nrt=on): the digest of one
object (good shapes, every bad shape), and the cache that prefers it over the annotations."""

from __future__ import annotations

import copy
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from kvnuma.admission import AdmissionConfig, ClusterCapacity, NodeCapacity, decide
from kvnuma.admission.feasible import Constraints, NodeFacts, feasible_capacity
from kvnuma.agent.desired import desired
from kvnuma.cli import cli
from kvnuma.topology.nrt import build_nrt
from kvnuma.webhook.cache import ClusterCache
from kvnuma.webhook.nrt_digest import MAX_RESOURCES, MAX_ZONES, Ignored, Reason, digest_nrt
from support.hostbuilder import synthetic_host

GI, MI = 1 << 30, 1 << 20
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nrt"


def resource(name: str, capacity: Any, allocatable: Any = None, available: Any = None) -> dict[str, Any]:
    allocatable = capacity if allocatable is None else allocatable
    return {
        "name": name,
        "capacity": capacity,
        "allocatable": allocatable,
        "available": allocatable if available is None else available,
    }


def zone(name: str, *resources: dict[str, Any], type_: str = "Node") -> dict[str, Any]:
    return {"name": name, "type": type_, "resources": list(resources)}


def nrt(name: str, *zones: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "topology.node.k8s.io/v1alpha2",
        "kind": "NodeResourceTopology",
        "metadata": {"name": name},
        "zones": list(zones),
        **extra,
    }


def cells(name: str, *per_cell: tuple[int, int]) -> dict[str, Any]:
    """An NRT object with one Node zone per (cpus, GiB)."""
    return nrt(
        name,
        *(
            zone(f"node-{i}", resource("cpu", cpus), resource("memory", f"{gib}Gi"))
            for i, (cpus, gib) in enumerate(per_cell)
        ),
    )


def example_v1alpha1() -> dict[str, Any]:
    loaded = yaml.safe_load((FIXTURES / "crd-instance-example.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def as_v1alpha2(obj: dict[str, Any]) -> dict[str, Any]:
    return {**obj, "apiVersion": "topology.node.k8s.io/v1alpha2"}


TWO_CELLS = nrt(
    "w1",
    zone("node-0", resource("cpu", 16, 14, 2), resource("memory", "64Gi", "62Gi", "1Gi"), resource("hugepages-1Gi", "8Gi")),
    zone("node-1", resource("cpu", "24"), resource("memory", "32Gi"), resource("hugepages-1Gi", "16Gi"), resource("hugepages-2Mi", "512Mi")),
    zone("socket-0", resource("cpu", 999), type_="Socket"),
    attributes=[{"name": "topologyManagerPolicy", "value": "single-numa-node"}],
)  # fmt: skip

GOOD = [
    pytest.param(TWO_CELLS, (24, 64 * GI, ((2 * MI, 512 * MI), (GI, 16 * GI))), id="largest-cell-per-resource-from-capacity"),
    pytest.param(nrt("w1", zone("node-0", resource("cpu", "2000m"), resource("memory", 68719476736))), (2, 64 * GI, ()), id="millicores-and-plain-bytes"),
    pytest.param(nrt("w1", zone("node-0", resource("cpu", 8)), zone("node-1", resource("cpu", 0), resource("memory", "16Gi"))), (8, 16 * GI, ()), id="cpu-less-cell"),
    pytest.param(nrt("w1", zone("node-0", resource("memory", "16Gi"), resource("example.com/nic", "lots"))), (None, 16 * GI, ()), id="devices-are-not-read"),
    pytest.param(nrt("w1", zone("node-0", resource("cpu", 4), resource("hugepages-1Gi", 0))), (4, None, ((GI, 0),)), id="empty-pool-is-zero"),
    pytest.param(as_v1alpha2(example_v1alpha1()), (30, None, ()), id="v1alpha1-example-served-as-v1alpha2"),
    pytest.param({k: v for k, v in cells("w1", (4, 8)).items() if k not in ("apiVersion", "kind")}, (4, 8 * GI, ()), id="list-item-without-kind"),
    pytest.param(nrt("w1", zone("node-0", resource("cpu", 0))), (None, None, ()), id="zero-cpus-publishes-nothing-but-is-valid"),
]  # fmt: skip


@pytest.mark.parametrize(("obj", "expected"), GOOD)
def test_digest_of_a_good_object(obj: dict[str, Any], expected: tuple[Any, ...]) -> None:
    name, found = digest_nrt(obj)
    assert name == "w1" or name == obj["metadata"]["name"]
    assert found == (*expected, ())


def many_zones(count: int) -> dict[str, Any]:
    return nrt("w1", *(zone(f"node-{i}", resource("cpu", 1)) for i in range(count)))


BAD = [
    pytest.param(example_v1alpha1(), Reason.VERSION, "topology.node.k8s.io/v1alpha1", id="other-version"),
    pytest.param({**cells("w1", (4, 8)), "kind": "Node"}, Reason.VERSION, "expected topology.node.k8s.io/v1alpha2", id="other-kind"),
    pytest.param({**cells("w1", (4, 8)), "metadata": {}}, Reason.SHAPE, "metadata.name", id="no-name"),
    pytest.param({k: v for k, v in cells("w1", (4, 8)).items() if k != "zones"}, Reason.SHAPE, "zones: expected a list, missing", id="zones-missing"),
    pytest.param({**cells("w1", (4, 8)), "zones": {"node-0": {}}}, Reason.SHAPE, "zones: expected a list, a dict", id="zones-not-a-list"),
    pytest.param(nrt("w1", "node-0"), Reason.SHAPE, "zones[0]: expected an object", id="zone-not-an-object"),  # type: ignore[arg-type]
    pytest.param(nrt("w1", {"name": "node-0", "resources": []}), Reason.SHAPE, "name and type", id="zone-without-type"),
    pytest.param(nrt("w1", {"name": "node-0", "type": "Node", "resources": {"cpu": 4}}), Reason.SHAPE, "zones[0].resources: expected a list", id="resources-not-a-list"),
    pytest.param(nrt("w1", zone("node-0", {"capacity": 4})), Reason.SHAPE, "expected an object with a name", id="resource-without-name"),
    pytest.param(nrt("w1", zone("node-0", {"name": "cpu", "allocatable": 4, "available": 4})), Reason.SHAPE, "capacity is missing", id="capacity-missing"),
    pytest.param(nrt("w1", zone("node-0", resource("cpu", 4), resource("cpu", 8))), Reason.SHAPE, "cpu listed twice", id="duplicate-resource"),
    pytest.param(nrt("w1", zone("socket-0", resource("cpu", 4), type_="Socket")), Reason.NO_NODE_ZONES, "no zone of type Node", id="no-node-zone"),
    pytest.param(nrt("w1"), Reason.NO_NODE_ZONES, "no zone of type Node", id="zones-empty"),
    pytest.param(nrt("w1", zone("node-0", resource("example.com/gpu", 1))), Reason.NO_CAPACITY, "no cpu, memory or hugepages-*", id="devices-only"),
    pytest.param(nrt("w1", zone("node-0", resource("memory", "lots"))), Reason.QUANTITY, "malformed quantity 'lots'", id="not-a-quantity"),
    pytest.param(nrt("w1", zone("node-0", resource("memory", [64]))), Reason.QUANTITY, "got list", id="quantity-a-list"),
    pytest.param(nrt("w1", zone("node-0", resource("cpu", 4.5))), Reason.QUANTITY, "got float", id="quantity-a-float"),
    pytest.param(nrt("w1", zone("node-0", resource("cpu", True))), Reason.QUANTITY, "got bool", id="quantity-a-bool"),
    pytest.param(nrt("w1", zone("node-0", resource("cpu", "1500m"))), Reason.QUANTITY, "not a whole number", id="fractional-cpus"),
    pytest.param(nrt("w1", zone("node-0", resource("memory", "0.5"))), Reason.QUANTITY, "not a whole number", id="fractional-bytes"),
    pytest.param(nrt("w1", zone("node-0", resource("cpu", -4))), Reason.NEGATIVE, "negative", id="negative-cpus"),
    pytest.param(nrt("w1", zone("node-0", resource("memory", "-64Gi"))), Reason.NEGATIVE, "negative", id="negative-memory"),
    pytest.param(nrt("w1", zone("node-0", resource("cpu", 1 << 21))), Reason.OUT_OF_RANGE, "more than 1048576 CPUs", id="absurd-cpus"),
    pytest.param(nrt("w1", zone("node-0", resource("memory", "1e30"))), Reason.OUT_OF_RANGE, "over 4Ei", id="absurd-memory"),
    pytest.param(nrt("w1", zone("node-0", resource("hugepages-1Gi", "9Ei"))), Reason.OUT_OF_RANGE, "over 4Ei", id="absurd-pool"),
    pytest.param(nrt("w1", zone("node-0", resource("hugepages-3Mi", "6Mi"))), Reason.OUT_OF_RANGE, "power of two", id="odd-page-size"),
    pytest.param(nrt("w1", zone("node-0", resource("hugepages-1Ti", "1Ti"))), Reason.OUT_OF_RANGE, "power of two", id="absurd-page-size"),
    pytest.param(nrt("w1", zone("node-0", resource("hugepages-big", "1Gi"))), Reason.QUANTITY, "page size", id="page-size-not-a-quantity"),
    pytest.param(many_zones(MAX_ZONES + 1), Reason.TOO_LARGE, f"at most {MAX_ZONES}", id="too-many-zones"),
    pytest.param(nrt("w1", zone("node-0", *(resource(f"hugepages-{1 << i}Ki", 0) for i in range(MAX_RESOURCES + 1)))), Reason.TOO_LARGE, f"at most {MAX_RESOURCES}", id="too-many-resources"),
]  # fmt: skip


@pytest.mark.parametrize(("obj", "reason", "said"), BAD)
def test_a_bad_object_is_ignored_with_a_reason(obj: dict[str, Any], reason: Reason, said: str) -> None:
    _name, found = digest_nrt(obj)
    assert isinstance(found, Ignored)
    assert found.reason is reason
    assert said in found.problem
    assert "\n" not in found.problem
    assert found.problem.startswith("NodeResourceTopology ")
    assert len(found.problem) < 300


def annotated(name: str, cpus: int | None, gib: int | None = None, **labels: str) -> dict[str, Any]:
    annotations = {}
    if cpus is not None:
        annotations["kubevirt.io/max-single-numa-cpus"] = str(cpus)
    if gib is not None:
        annotations["kubevirt.io/max-single-numa-memory"] = f"{gib}Gi"
    return {"kind": "Node", "metadata": {"name": name, "annotations": annotations, "labels": labels}}


def review(vcpus: int, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u1",
            "kind": {"group": "kubevirt.io", "version": "v1", "kind": "VirtualMachineInstance"},
            "operation": "CREATE",
            "object": {
                "apiVersion": "kubevirt.io/v1",
                "kind": "VirtualMachineInstance",
                "metadata": {"name": "vm"},
                "spec": {
                    "domain": {
                        "cpu": {"cores": vcpus, "dedicatedCpuPlacement": True},
                        "memory": {"guest": "4Gi", "hugepages": {"pageSize": "1Gi"}},
                        "devices": {},
                    },
                    **spec,
                },
            },
        },
    }


def nrt_cache(*, feasible: bool = False) -> ClusterCache:
    cache = ClusterCache(feasible=feasible, nrt=True)
    assert cache.nrt is not None
    cache.nodes.on_replace([annotated("w1", 32, 64), annotated("w2", 16, 32)])
    cache.kubevirts.on_replace([])
    before = cache.ready
    assert not before  # the NRT list has not answered yet
    cache.nrt.on_replace([])
    assert cache.ready
    return cache


def test_a_valid_nrt_object_wins_over_the_annotations_and_its_delete_gives_them_back() -> None:
    cache = nrt_cache()
    assert cache.nrt is not None
    assert cache.capacity().cpus == 16
    assert cache.source() == "capacity from NodeResourceTopology on 0 nodes, annotations on 2"
    cache.nrt.on_event("ADDED", cells("w2", (10, 8), (12, 4)))
    assert (cache.capacity().cpus, cache.capacity().memory_bytes) == (12, 8 * GI)
    assert cache.nrt_nodes == 1
    assert cache.capacity().source == "capacity from NodeResourceTopology on 1 node, annotations on 1"
    cache.nrt.on_event("MODIFIED", cells("w2", (40, 128)))
    assert (cache.capacity().cpus, cache.capacity().memory_bytes) == (32, 64 * GI)
    cache.nrt.on_event("DELETED", cells("w2", (40, 128)))
    assert (cache.capacity().cpus, cache.capacity().memory_bytes) == (16, 32 * GI)
    assert cache.nrt_nodes == 0


def test_a_bad_object_falls_back_to_the_annotations_and_is_reported_once() -> None:
    cache = nrt_cache()
    assert cache.nrt is not None
    reported: list[Ignored] = []
    cache.nrt.on_ignored = reported.append
    cache.nrt.on_event("ADDED", cells("w2", (8, 8)))
    assert cache.capacity().cpus == 8
    bad = nrt("w2", zone("node-0", resource("cpu", -1)))
    cache.nrt.on_event("MODIFIED", bad)
    cache.nrt.on_event("MODIFIED", bad)
    cache.nrt.on_replace([bad])  # a re-list: the same problem is not reported again
    assert cache.capacity().cpus == 16
    assert [r.reason for r in reported] == [Reason.NEGATIVE]
    assert set(cache.nrt.ignored) == {"w2"}
    cache.nrt.on_event("MODIFIED", cells("w2", (6, 8)))
    assert cache.capacity().cpus == 6
    assert not cache.nrt.ignored


def test_an_object_before_its_node_and_a_node_that_comes_back() -> None:
    cache = nrt_cache()
    assert cache.nrt is not None
    cache.nrt.on_event("ADDED", cells("w3", (2, 2)))
    assert cache.capacity().cpus == 16  # no Node w3: nothing to measure
    cache.nodes.on_event("ADDED", annotated("w3", None))
    assert cache.capacity().cpus == 2
    assert cache.capacity().nodes == 3
    cache.nodes.on_event("DELETED", annotated("w3", None))
    assert (cache.capacity().cpus, cache.capacity().nodes) == (16, 2)
    cache.nodes.on_event("ADDED", annotated("w3", 64))
    assert cache.capacity().cpus == 2


def test_a_node_relist_keeps_the_nrt_digests_and_an_nrt_change_during_it_lands() -> None:
    cache = nrt_cache()
    assert cache.nrt is not None
    cache.nrt.on_event("ADDED", cells("w1", (4, 4)))
    build = cache.nodes.replacement()
    build.add([annotated("w1", 32, 64)])
    cache.nrt.on_event("MODIFIED", cells("w1", (3, 4)))  # while the re-list is half-way
    build.add([annotated("w2", 16, 32)])
    assert cache.capacity().cpus == 3  # the old index serves meanwhile
    build.commit()
    assert cache.capacity().cpus == 3
    cache.nrt.on_event("DELETED", cells("w1", (3, 4)))
    assert cache.capacity().cpus == 16


def test_an_nrt_relist_applies_each_object_as_read_and_drops_the_unseen_when_complete() -> None:
    cache = nrt_cache()
    assert cache.nrt is not None
    cache.nrt.on_replace([cells("w1", (4, 4)), cells("w2", (5, 5))])
    build = cache.nrt.replacement()
    build.add([cells("w1", (7, 4))])
    assert cache.capacity().cpus == 5  # w1's current object counts at once; w2's is not known gone yet
    build.commit()  # w2's object is not in the complete list: w2 is back on its annotations (16)
    assert (cache.capacity().cpus, cache.nrt_nodes) == (7, 1)
    assert set(cache.nrt.digests) == {"w1"}


def test_the_api_going_away_drops_the_objects_and_says_so() -> None:
    cache = nrt_cache()
    assert cache.nrt is not None
    cache.nrt.on_replace([cells("w1", (4, 4))])
    assert cache.capacity().cpus == 4
    assert not cache.nrt.failed("timeout", drop=False)  # a transient failure keeps the table
    assert cache.capacity().cpus == 4
    assert cache.nrt.failed("the NodeResourceTopology CRD is not installed (404)", drop=True)
    assert not cache.nrt.failed("the NodeResourceTopology CRD is not installed (404)", drop=True)
    assert cache.capacity().cpus == 16
    assert cache.capacity().source == "capacity from annotations on 2 nodes, NodeResourceTopology unavailable"
    cache.nrt.on_replace([cells("w1", (4, 4))])  # the CRD came back
    assert cache.capacity().cpus == 4
    assert cache.nrt.unavailable == ""


def test_readiness_waits_only_for_the_first_answer() -> None:
    cache = ClusterCache(nrt=True)
    assert cache.nrt is not None
    cache.nodes.on_replace([annotated("w1", 32, 64)])
    cache.kubevirts.on_replace([])
    before = cache.ready
    assert not before
    cache.nrt.failed("the NodeResourceTopology CRD is not installed (404)", drop=True)
    assert cache.ready


def test_the_feasible_threshold_reads_nrt_capacity_and_node_labels() -> None:
    cache = nrt_cache(feasible=True)
    assert cache.nrt is not None
    cache.nodes.on_event("ADDED", annotated("w3", None, zone="b"))  # publishes nothing itself
    cache.nrt.on_event("ADDED", cells("w3", (6, 6)))
    in_b = Constraints.from_vmi({"spec": {"nodeSelector": {"zone": "b"}}})
    found = cache.capacity_for(in_b)
    assert (found.cpus, found.nodes) == (6, 1)
    assert found.source == "capacity from NodeResourceTopology on 1 node, annotations on 2"
    cache.nrt.on_event("DELETED", cells("w3", (6, 6)))
    assert cache.capacity_for(in_b).nodes == 0


@pytest.mark.parametrize("feasible", [False, True], ids=["cluster", "feasible"])
def test_the_warning_says_where_the_threshold_came_from(feasible: bool) -> None:
    cache = nrt_cache(feasible=feasible)
    assert cache.nrt is not None
    cache.nrt.on_event("ADDED", cells("w2", (8, 8)))
    threshold = cache.capacity_for if feasible else cache.capacity()
    decision = decide(review(12), threshold, AdmissionConfig(enabled=True))
    assert decision.outcome.value == "mutated"
    assert "vCPUs 12 > 8" in decision.warnings[0]
    assert "auto-NUMA: capacity from NodeResourceTopology on 1 node, annotations on 1" in decision.warnings
    assert "capacity from NodeResourceTopology on 1 node" in decision.audit["auto-numa-reason"]


def test_with_nrt_off_nothing_changes() -> None:
    cache = ClusterCache()
    cache.nodes.on_replace([annotated("w1", 32, 64)])
    cache.kubevirts.on_replace([])
    assert cache.ready
    assert cache.nrt is None
    assert cache.source() == ""
    decision = decide(review(40), cache.capacity(), AdmissionConfig(enabled=True))
    assert not any("NodeResourceTopology" in w for w in decision.warnings)


# --- the incremental cache equals a scan of every node, whatever the order of events ----------

NAMES = [f"n{i}" for i in range(6)]
node_events = st.tuples(
    st.just("node"),
    st.sampled_from(["ADDED", "DELETED"]),
    st.sampled_from(NAMES),
    st.one_of(st.none(), st.integers(1, 64)),
    st.sampled_from(["a", "b"]),
)
nrt_events = st.tuples(
    st.just("nrt"),
    st.sampled_from(["ADDED", "DELETED", "BAD"]),
    st.sampled_from(NAMES),
    st.integers(0, 64),
    st.integers(1, 64),
)


def reference(
    nodes: dict[str, dict[str, Any]], nrts: dict[str, dict[str, Any]], constraints: Constraints | None
) -> ClusterCapacity:
    """Each Node measured by its valid NRT object if it has one, else its annotations; a full scan."""
    measured = []
    for name, obj in nodes.items():
        digest = digest_nrt(nrts[name])[1] if name in nrts else None
        if digest is None or isinstance(digest, Ignored):
            capacity = NodeCapacity.from_node(obj)
        else:
            capacity = NodeCapacity(cpus=digest[0], memory_bytes=digest[1], hugepages=dict(digest[2]))
        measured.append((NodeFacts.from_node(obj), capacity))
    if constraints is None:
        return ClusterCapacity.of([capacity for _facts, capacity in measured])
    return feasible_capacity(measured, constraints)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(node_events, nrt_events), max_size=60), st.booleans())
def test_the_cache_equals_a_scan_of_every_node(events: list[tuple[Any, ...]], feasible: bool) -> None:
    cache = ClusterCache(feasible=feasible, nrt=True)
    assert cache.nrt is not None
    cache.nodes.on_replace([])
    cache.nrt.on_replace([])
    nodes: dict[str, dict[str, Any]] = {}
    nrts: dict[str, dict[str, Any]] = {}
    selector = Constraints.from_vmi({"spec": {"nodeSelector": {"zone": "a"}}})
    for source, kind, name, first, second in events:
        if source == "node":
            obj = annotated(name, first, None if first is None else 8, zone=second)
            if kind == "DELETED":
                nodes.pop(name, None)
            else:
                nodes[name] = obj
            cache.nodes.on_event(kind, obj)
        else:
            obj = cells(name, (first, second), (second // 2, first))
            if kind == "BAD":
                obj = nrt(name, zone("node-0", resource("cpu", "many")))
            if kind == "DELETED":
                nrts.pop(name, None)
            else:
                nrts[name] = copy.deepcopy(obj)
            cache.nrt.on_event("DELETED" if kind == "DELETED" else "MODIFIED", obj)
        assert replace(cache.capacity(), source="") == reference(nodes, nrts, None)
        if feasible:
            assert replace(cache.capacity_for(selector), source="") == reference(nodes, nrts, selector)


# --- kvnuma admit --nrt on: the same cache over a folder ---------------------------------------

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def admit_table(folder: Path, *extra: str) -> str:
    review = str(EXAMPLES / "reviews" / "pinned-vmi.json")
    result = CliRunner().invoke(
        cli, ["admit", "--review", review, "--source", f"file:{folder}", "-o", "table", *extra]
    )
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize(
    ("worker_a_cpus", "nrt", "said"),
    [
        pytest.param(None, "off", "vCPUs 20 > 16\n", id="off-reads-annotations"),
        pytest.param(
            None,
            "on",
            "vCPUs 20 > 16; capacity from NodeResourceTopology on 1 node, annotations on 1",
            id="example-agrees",
        ),
        pytest.param(
            8,
            "on",
            "vCPUs 20 > 8; capacity from NodeResourceTopology on 1 node, annotations on 1",
            id="nrt-wins",
        ),
        pytest.param(8, "off", "vCPUs 20 > 16\n", id="off-ignores-it"),
        pytest.param(
            -8,
            "on",
            "vCPUs 20 > 16; capacity from NodeResourceTopology on 0 nodes, annotations on 2",
            id="bad-one-ignored",
        ),
    ],
)
def test_admit_reads_the_folders_nrt_objects(
    tmp_path: Path, worker_a_cpus: int | None, nrt: str, said: str
) -> None:
    folder = tmp_path / "cluster"
    shutil.copytree(EXAMPLES / "cluster", folder)
    if worker_a_cpus is not None:
        path = folder / "noderesourcetopologies.yaml"
        obj = yaml.safe_load(path.read_text())
        for cell in obj["zones"]:  # every cell: the largest one measures the node
            cell["resources"][0]["capacity"] = str(worker_a_cpus)
        path.write_text(yaml.safe_dump(obj))
    out = admit_table(folder, "--nrt", nrt)
    assert f"outcome: mutated: {said}" in out
    assert ("warning: auto-NUMA: capacity from" in out) == (nrt == "on")


# --- the agent's two outputs measure a node alike --------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 4),
    st.integers(1, 8),
    st.integers(0, 2),
    st.sampled_from([{}, {2 * MI: 512}, {2 * MI: 0, GI: 3}]),
    st.lists(st.integers(0, 15), max_size=4),
)
def test_the_agents_nrt_object_and_its_annotations_give_the_same_digest(
    cells: int, cores: int, memory_only: int, hugepages: dict[int, int], offline: list[int]
) -> None:
    """``kvnuma agent --publish-nrt`` (build_nrt) and its VEP 135 annotations (desired) for the
    same host: the webhook measures the node the same whichever it reads."""
    host = synthetic_host(
        cells, sockets=1, cores_per_cell=cores, threads=2, memory_per_cell=(8 + cells) * GI,
        hugepages=hugepages, memory_only_cells=memory_only, offline=[cpu for cpu in offline if cpu],
    )  # fmt: skip
    name, from_nrt = digest_nrt(build_nrt(host, node_name="w1", node_uid=None))
    annotations = desired(host, realtime=False).annotations
    from_annotations = NodeCapacity.from_annotations(annotations)
    assert name == "w1"
    assert from_nrt == (
        from_annotations.cpus,
        from_annotations.memory_bytes,
        tuple(sorted(from_annotations.hugepages.items())),
        (),
    )
