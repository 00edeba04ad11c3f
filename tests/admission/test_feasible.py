# ruff: noqa: E501
"""Which nodes a VMI can land on: the scheduler's nodeSelector, required node affinity, taint and
cordon filters as kvnuma reads them (``kvnuma.admission.feasible``), and the threshold they give."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvnuma.admission import AdmissionConfig, ClusterCapacity, NodeCapacity, Outcome, decide
from kvnuma.admission.feasible import Constraints, NodeFacts, Taint, Toleration, feasible_capacity
from kvnuma.errors import InputError
from kvnuma.webhook import feasible_index
from kvnuma.webhook.cache import ClusterCache

WORKER = NodeFacts(
    "worker-1",
    labels=(("disk", "ssd"), ("generation", "5"), ("zone", "a")),
)


def affinity(*terms: dict[str, Any]) -> dict[str, Any]:
    return {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}
    }


def expr(key: str, operator: str, *values: str) -> dict[str, Any]:
    item: dict[str, Any] = {"key": key, "operator": operator}
    if values:
        item["values"] = list(values)
    return item


def select(spec: dict[str, Any], node: NodeFacts = WORKER) -> bool:
    return Constraints.from_vmi({"spec": spec}).admits(node)


# (id, VMI spec fields, expected for WORKER)
SELECTION = [
    ("no-constraints", {}, True),
    ("nodeSelector-match", {"nodeSelector": {"zone": "a", "disk": "ssd"}}, True),
    ("nodeSelector-one-differs", {"nodeSelector": {"zone": "a", "disk": "hdd"}}, False),
    ("nodeSelector-absent-label", {"nodeSelector": {"gpu": "true"}}, False),
    ("nodeSelector-empty-map", {"nodeSelector": {}}, True),
    ("In-match", {"affinity": affinity({"matchExpressions": [expr("zone", "In", "b", "a")]})}, True),
    ("In-no-match", {"affinity": affinity({"matchExpressions": [expr("zone", "In", "b")]})}, False),
    ("In-absent-label", {"affinity": affinity({"matchExpressions": [expr("gpu", "In", "x")]})}, False),
    ("NotIn-match", {"affinity": affinity({"matchExpressions": [expr("zone", "NotIn", "b")]})}, True),
    ("NotIn-excludes", {"affinity": affinity({"matchExpressions": [expr("zone", "NotIn", "a")]})}, False),
    ("NotIn-absent-label-matches", {"affinity": affinity({"matchExpressions": [expr("gpu", "NotIn", "x")]})}, True),
    ("Exists", {"affinity": affinity({"matchExpressions": [expr("disk", "Exists")]})}, True),
    ("Exists-absent", {"affinity": affinity({"matchExpressions": [expr("gpu", "Exists")]})}, False),
    ("DoesNotExist", {"affinity": affinity({"matchExpressions": [expr("gpu", "DoesNotExist")]})}, True),
    ("DoesNotExist-present", {"affinity": affinity({"matchExpressions": [expr("disk", "DoesNotExist")]})}, False),
    ("Gt-match", {"affinity": affinity({"matchExpressions": [expr("generation", "Gt", "4")]})}, True),
    ("Gt-equal-fails", {"affinity": affinity({"matchExpressions": [expr("generation", "Gt", "5")]})}, False),
    ("Lt-match", {"affinity": affinity({"matchExpressions": [expr("generation", "Lt", "6")]})}, True),
    ("Lt-non-integer-label", {"affinity": affinity({"matchExpressions": [expr("zone", "Lt", "6")]})}, False),
    ("Gt-absent-label", {"affinity": affinity({"matchExpressions": [expr("gpu", "Gt", "0")]})}, False),
    ("Gt-two-values-malformed", {"affinity": affinity({"matchExpressions": [expr("generation", "Gt", "1", "2")]})}, False),
    ("Gt-non-integer-value-malformed", {"affinity": affinity({"matchExpressions": [expr("generation", "Gt", "x")]})}, False),
    ("In-without-values-malformed", {"affinity": affinity({"matchExpressions": [expr("zone", "In")]})}, False),
    ("Exists-with-values-malformed", {"affinity": affinity({"matchExpressions": [expr("zone", "Exists", "a")]})}, False),
    ("unknown-operator-malformed", {"affinity": affinity({"matchExpressions": [expr("zone", "Equals", "a")]})}, False),
    ("invalid-label-key-malformed", {"affinity": affinity({"matchExpressions": [expr("-zone", "Exists")]})}, False),
    ("expressions-ANDed", {"affinity": affinity({"matchExpressions": [expr("zone", "In", "a"), expr("disk", "In", "hdd")]})}, False),
    ("terms-ORed", {"affinity": affinity({"matchExpressions": [expr("zone", "In", "b")]}, {"matchExpressions": [expr("disk", "In", "ssd")]})}, True),
    ("malformed-term-others-count", {"affinity": affinity({"matchExpressions": [expr("zone", "Bad")]}, {"matchExpressions": [expr("zone", "In", "a")]})}, True),
    ("empty-term-matches-nothing", {"affinity": affinity({})}, False),
    ("no-terms-matches-nothing", {"affinity": affinity()}, False),
    ("empty-nodeAffinity-no-constraint", {"affinity": {"nodeAffinity": {}}}, True),
    ("matchFields-name-In", {"affinity": affinity({"matchFields": [expr("metadata.name", "In", "worker-1")]})}, True),
    ("matchFields-name-In-other", {"affinity": affinity({"matchFields": [expr("metadata.name", "In", "worker-2")]})}, False),
    ("matchFields-name-NotIn", {"affinity": affinity({"matchFields": [expr("metadata.name", "NotIn", "worker-1")]})}, False),
    ("matchFields-two-values-malformed", {"affinity": affinity({"matchFields": [expr("metadata.name", "In", "worker-1", "x")]})}, False),
    ("matchFields-Exists-malformed", {"affinity": affinity({"matchFields": [expr("metadata.name", "Exists")]})}, False),
    ("matchFields-unknown-field-is-empty", {"affinity": affinity({"matchFields": [expr("spec.podCIDR", "NotIn", "x")]})}, True),
    ("matchFields-and-expressions-ANDed", {"affinity": affinity({"matchExpressions": [expr("zone", "In", "a")], "matchFields": [expr("metadata.name", "In", "worker-2")]})}, False),
    ("nodeSelector-and-affinity-both", {"nodeSelector": {"zone": "a"}, "affinity": affinity({"matchExpressions": [expr("disk", "In", "hdd")]})}, False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "expected"), [(s, e) for _, s, e in SELECTION], ids=[i for i, _, _ in SELECTION]
)
def test_selection(spec: dict[str, Any], expected: bool) -> None:
    assert select(spec) is expected


TAINTED = NodeFacts(
    "worker-2", taints=(Taint("gpu", "nvidia", "NoSchedule"), Taint("dedicated", "db", "NoExecute"))
)
BOTH = [
    {"key": "gpu", "operator": "Equal", "value": "nvidia", "effect": "NoSchedule"},
    {"key": "dedicated", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60},
]
# (id, tolerations, node, expected)
TOLERATION = [
    ("untainted-needs-none", [], WORKER, True),
    ("tainted-without-tolerations", [], TAINTED, False),
    ("both-tolerated-tolerationSeconds-ignored", BOTH, TAINTED, True),
    ("one-of-two-tolerated", BOTH[:1], TAINTED, False),
    ("empty-key-Exists-tolerates-all", [{"operator": "Exists"}], TAINTED, True),
    ("empty-effect-matches-every-effect", [{"key": "gpu", "value": "nvidia"}, {"key": "dedicated", "operator": "Exists"}], TAINTED, True),
    ("wrong-effect", [{"key": "gpu", "value": "nvidia", "effect": "NoExecute"}, BOTH[1]], TAINTED, False),
    ("Equal-wrong-value", [{"key": "gpu", "operator": "Equal", "value": "amd"}, BOTH[1]], TAINTED, False),
    ("empty-operator-is-Equal", [{"key": "gpu", "value": "nvidia", "effect": "NoSchedule"}, BOTH[1]], TAINTED, True),
    ("unknown-operator-tolerates-nothing", [{"key": "gpu", "operator": "Gt", "value": "nvidia"}, BOTH[1]], TAINTED, False),
    ("cordoned-excluded", [], NodeFacts("c", unschedulable=True), False),
    ("cordoned-tolerated", [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}], NodeFacts("c", unschedulable=True), True),
    ("cordoned-Exists-all", [{"operator": "Exists"}], NodeFacts("c", unschedulable=True), True),
    ("cordoned-NoExecute-only-not-enough", [{"operator": "Exists", "effect": "NoExecute"}], NodeFacts("c", unschedulable=True), False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("tolerations", "node", "expected"),
    [(t, n, e) for _, t, n, e in TOLERATION],
    ids=[i for i, *_ in TOLERATION],
)
def test_tolerations(tolerations: list[dict[str, Any]], node: NodeFacts, expected: bool) -> None:
    assert select({"tolerations": tolerations}, node) is expected


def test_node_facts_keep_only_scheduling_taints_and_the_cordon() -> None:
    facts = NodeFacts.from_node(
        {
            "metadata": {"name": "n", "labels": {"b": "2", "a": "1"}},
            "spec": {
                "unschedulable": True,
                "taints": [
                    {"key": "soft", "effect": "PreferNoSchedule"},
                    {"key": "hard", "value": "x", "effect": "NoSchedule"},
                    {"key": "hard", "value": "x", "effect": "NoSchedule"},
                    "garbage",
                ],
            },
        }
    )
    assert facts == NodeFacts("n", (("a", "1"), ("b", "2")), (Taint("hard", "x", "NoSchedule"),), True)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"nodeSelector": ["zone=a"]}, "spec.nodeSelector"),
        ({"nodeSelector": {"zone": 1}}, "spec.nodeSelector"),
        ({"tolerations": {"key": "x"}}, "spec.tolerations"),
        ({"tolerations": [{"key": 3}]}, "spec.tolerations[0].key"),
        (
            {"affinity": affinity({"matchExpressions": [{"key": "a", "operator": "In", "values": [1]}]})},
            "values",
        ),
        ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": []}}}, "required"),
        ({"tolerations": [{"operator": "Exists"}] * 1001}, "more than 1000"),
    ],
    ids=[
        "selector-list",
        "selector-int-value",
        "tolerations-map",
        "toleration-key-int",
        "values-int",
        "required-list",
        "too-many",
    ],
)
def test_malformed_constraints_name_the_field(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as caught:
        Constraints.from_vmi({"spec": spec})
    assert field in caught.value.one_line()


def test_toleration_matching_is_the_helpers() -> None:
    taint = Taint("k", "v", "NoSchedule")
    assert Toleration("k", "Equal", "v", "NoSchedule").tolerates(taint)
    assert not Toleration("k", "Exists", "", "NoExecute").tolerates(taint)
    assert Toleration("", "Exists").tolerates(taint)
    assert not Toleration("", "Equal", "v").tolerates(Taint("k", "w", "NoSchedule"))


# --- the threshold: the cache's index equals a plain scan -------------------------------------

KEYS = ("zone", "rack", "gen")
VALUES = ("a", "b", "1", "7")
TAINTS = (
    Taint("gpu", "yes", "NoSchedule"),
    Taint("maint", "", "NoExecute"),
    Taint("gpu", "no", "NoSchedule"),
)

nodes_strategy = st.lists(
    st.tuples(
        st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=3),
        st.lists(st.sampled_from(TAINTS), max_size=2, unique=True),
        st.booleans(),
        st.one_of(st.none(), st.integers(1, 64)),
        st.one_of(st.none(), st.integers(1, 8)),
    ),
    max_size=12,
)
requirement_strategy = st.one_of(
    st.builds(lambda k, vs: expr(k, "In", *vs), st.sampled_from(KEYS), st.lists(st.sampled_from(VALUES), min_size=1, max_size=2)),
    st.builds(lambda k, vs: expr(k, "NotIn", *vs), st.sampled_from(KEYS), st.lists(st.sampled_from(VALUES), min_size=1, max_size=2)),
    st.builds(lambda k: expr(k, "Exists"), st.sampled_from(KEYS)),
    st.builds(lambda k: expr(k, "DoesNotExist"), st.sampled_from(KEYS)),
    st.builds(lambda k, v: expr(k, "Gt", v), st.sampled_from(KEYS), st.sampled_from(("0", "3", "x"))),
    st.builds(lambda k, v: expr(k, "Lt", v), st.sampled_from(KEYS), st.sampled_from(("0", "3"))),
)  # fmt: skip
field_strategy = st.builds(
    lambda op, i: expr("metadata.name", op, f"node-{i}"), st.sampled_from(("In", "NotIn")), st.integers(0, 12)
)
term_strategy = st.fixed_dictionaries(
    {},
    optional={
        "matchExpressions": st.lists(requirement_strategy, max_size=2),
        "matchFields": st.lists(field_strategy, max_size=1),
    },
)
toleration_strategy = st.one_of(
    st.just({"operator": "Exists"}),
    st.builds(lambda t: {"key": t.key, "value": t.value, "effect": t.effect}, st.sampled_from(TAINTS)),
    st.builds(lambda t: {"key": t.key, "operator": "Exists"}, st.sampled_from(TAINTS)),
    st.just({"key": "node.kubernetes.io/unschedulable", "operator": "Exists"}),
)
spec_strategy = st.fixed_dictionaries(
    {},
    optional={
        "nodeSelector": st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=2),
        "affinity": st.builds(lambda terms: affinity(*terms), st.lists(term_strategy, max_size=3)),
        "tolerations": st.lists(toleration_strategy, max_size=3),
    },
)  # fmt: skip


def node_object(
    i: int, fields: tuple[dict[str, str], list[Taint], bool, int | None, int | None]
) -> dict[str, Any]:
    labels, taints, cordoned, cpus, gib = fields
    annotations = {}
    if cpus is not None:
        annotations["kubevirt.io/max-single-numa-cpus"] = str(cpus)
    if gib is not None:
        annotations["kubevirt.io/max-single-numa-memory"] = f"{gib}Gi"
        annotations["kubevirt.io/max-single-numa-hugepages-1Gi"] = f"{gib}Gi"
    return {
        "kind": "Node",
        "metadata": {"name": f"node-{i}", "labels": labels, "annotations": annotations},
        "spec": {"unschedulable": cordoned, "taints": [{"key": t.key, "value": t.value, "effect": t.effect} for t in taints]},
    }  # fmt: skip


def brute(objects: list[dict[str, Any]], constraints: Constraints) -> ClusterCapacity:
    return feasible_capacity(
        ((NodeFacts.from_node(o), NodeCapacity.from_node(o)) for o in objects), constraints
    )


# the index's two representations of a set of nodes (a set of ids, a bitmap) and its two ways of
# taking minima (node by node, value by value), each forced in turn
REPRESENTATIONS = [
    pytest.param(32, None, id="default"),
    pytest.param(0, lambda _values, _total: -1, id="bitmaps-and-value-minima"),
    pytest.param(1 << 30, lambda _values, _total: 1 << 30, id="sets-and-node-minima"),
]


@pytest.mark.parametrize(("small", "per_node"), REPRESENTATIONS)
def test_the_index_equals_a_scan_of_every_node(small: int, per_node: Any) -> None:
    with patch.object(feasible_index, "_SMALL", small):
        if per_node is None:
            index_equals_a_scan()
        else:
            with patch.object(feasible_index, "_per_node_limit", per_node):
                index_equals_a_scan()


@settings(max_examples=200, deadline=None)
@given(nodes_strategy, st.lists(spec_strategy, min_size=1, max_size=4), st.data())
def index_equals_a_scan(nodes: list[Any], specs: list[dict[str, Any]], data: st.DataObject) -> None:
    objects = [node_object(i, fields) for i, fields in enumerate(nodes)]
    cache = ClusterCache(feasible=True)
    cache.nodes.on_replace(objects)
    for spec in specs:
        constraints = Constraints.from_vmi({"spec": spec})
        assert cache.capacity_for(constraints) == brute(objects, constraints), spec
        if objects:  # one node changes (labels, taints, capacity) or goes; the answer follows
            i = data.draw(st.integers(0, len(objects) - 1))
            if data.draw(st.booleans()):
                number = int(objects[i]["metadata"]["name"].removeprefix("node-"))
                objects[i] = node_object(number, data.draw(nodes_strategy.filter(bool))[0])
                cache.nodes.on_event("MODIFIED", objects[i])
            else:
                cache.nodes.on_event("DELETED", objects.pop(i))
            assert cache.capacity_for(constraints) == brute(objects, constraints), spec


# --- the decision says where its threshold came from ------------------------------------------


def review_of(spec: dict[str, Any], vcpus: int = 24) -> dict[str, Any]:
    vmi = {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"name": "v", "namespace": "vms"},
        "spec": {
            "domain": {
                "cpu": {"cores": vcpus, "dedicatedCpuPlacement": True},
                "memory": {"guest": "8Gi", "hugepages": {"pageSize": "1Gi"}},
                "devices": {},
            },
            **spec,
        },
    }
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u1",
            "kind": {"group": "kubevirt.io", "version": "v1", "kind": "VirtualMachineInstance"},
            "operation": "CREATE",
            "object": vmi,
        },
    }


def small_and_big() -> ClusterCache:
    cache = ClusterCache(feasible=True)
    cache.nodes.on_replace(
        [
            node_object(0, ({"pool": "small"}, [], False, 16, 64)),
            node_object(1, ({"pool": "big"}, [], False, 32, 64)),
            node_object(2, ({"pool": "big"}, [], False, 48, 64)),
            node_object(3, ({"pool": "big"}, [TAINTS[0]], False, 8, 64)),
        ]
    )
    return cache


ON = AdmissionConfig(enabled=True)


def test_a_vmi_pinned_to_big_nodes_fits_where_the_cluster_minimum_would_mutate() -> None:
    cache = small_and_big()
    cluster = decide(review_of({"nodeSelector": {"pool": "big"}}), cache.capacity(), ON)
    assert cluster.outcome is Outcome.MUTATED
    assert "vCPUs 24 > 8" in cluster.reason
    feasible = decide(review_of({"nodeSelector": {"pool": "big"}}), cache.capacity_for, ON)
    assert feasible.outcome is Outcome.FITS
    assert "among 2 of 4 nodes matching nodeSelector {pool=big}, 1 excluded by taints" in feasible.reason
    assert "min cpus 32" in feasible.reason


def test_a_mutation_names_the_nodes_of_its_threshold() -> None:
    decision = decide(
        review_of({"nodeSelector": {"pool": "big"}}, vcpus=40), small_and_big().capacity_for, ON
    )
    assert decision.outcome is Outcome.MUTATED
    assert decision.patch
    assert decision.warnings[1].startswith(
        "auto-NUMA: smallest NUMA node among 2 of 4 nodes matching nodeSelector {pool=big}, "
        "1 excluded by taints: 32 CPUs"
    )
    assert "matching nodeSelector {pool=big}" in decision.audit["auto-numa-reason"]
    assert all(len(w) <= 120 for w in decision.warnings)


def test_tolerating_the_taint_brings_the_small_tainted_node_in() -> None:
    spec = {"nodeSelector": {"pool": "big"}, "tolerations": [{"key": "gpu", "operator": "Exists"}]}
    decision = decide(review_of(spec), small_and_big().capacity_for, ON)
    assert decision.outcome is Outcome.MUTATED
    assert "vCPUs 24 > 8" in decision.reason
    assert "3 of 4 nodes" in decision.reason


def test_no_matching_node_admits_unchanged_and_says_so() -> None:
    decision = decide(
        review_of({"nodeSelector": {"pool": "none"}}, vcpus=64), small_and_big().capacity_for, ON
    )
    assert decision.outcome is Outcome.NO_CAPACITY
    assert not decision.patch
    assert decision.allowed
    assert "0 of 4 nodes matching nodeSelector {pool=none}" in decision.warnings[0]


def test_malformed_constraints_skip_with_a_warning() -> None:
    decision = decide(review_of({"nodeSelector": "pool=big"}), small_and_big().capacity_for, ON)
    assert decision.outcome is Outcome.INVALID
    assert not decision.patch
    assert "spec.nodeSelector" in decision.warnings[0]


def test_an_unconstrained_vmi_uses_the_untainted_nodes() -> None:
    decision = decide(review_of({}, vcpus=12), small_and_big().capacity_for, ON)
    assert decision.outcome is Outcome.FITS
    assert "3 of 4 nodes, 1 excluded by taints (min cpus 16" in decision.reason
