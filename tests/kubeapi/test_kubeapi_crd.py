# ruff: noqa: E501
"""CRD schema checks, pruning and validation (kubeapi/crd.py, kubeapi/pruning.py) as units, and
the properties pruning must keep: idempotent, never adds, keeps what the schema declares."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeapi.clients import FIXTURE, kubevirt_crd
from kubeapi.crd import check_crd, schema_errors
from kubeapi.pruning import prune

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1},
                "mode": {"type": "string", "enum": ["a", "b"]},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "items": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "string"}}}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"typed": {"type": "object", "properties": {"x": {"type": "integer"}}}}},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True, "properties": {"spec": {"type": "object"}}},
            },
        }
    },
}  # fmt: skip


@pytest.mark.parametrize(
    ("obj", "dropped", "kept"),
    [
        pytest.param({"spec": {"size": 1, "nope": 2}}, ["spec.nope"], {"spec": {"size": 1}}, id="unknown-field"),
        pytest.param({"top": 1, "spec": {"size": 1}}, ["top"], {"spec": {"size": 1}}, id="unknown-root-field"),
        pytest.param({"spec": {"size": 1, "labels": {"any": "x"}}}, [], {"spec": {"size": 1, "labels": {"any": "x"}}}, id="additional-properties"),
        pytest.param({"spec": {"size": 1, "items": [{"n": "a", "m": 1}]}}, ["spec.items[0].m"], {"spec": {"size": 1, "items": [{"n": "a"}]}}, id="list-items"),
        pytest.param({"spec": {"size": 1, "free": {"any": {"thing": 1}, "typed": {"x": 1, "y": 2}}}}, ["spec.free.typed.y"], {"spec": {"size": 1, "free": {"any": {"thing": 1}, "typed": {"x": 1}}}}, id="preserve-unknown-still-prunes-declared"),
        pytest.param({"spec": {"size": 1, "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}, "junk": 1}}}, ["spec.template.junk"], {"spec": {"size": 1, "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}}}, id="embedded-resource"),
    ],
)  # fmt: skip
def test_pruning(obj: dict[str, Any], dropped: list[str], kept: dict[str, Any]) -> None:
    obj = {"apiVersion": "x.io/v1", "kind": "X", "metadata": {"name": "n"}, **obj}
    assert prune(obj, SCHEMA) == dropped
    assert {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")} == kept
    assert obj["metadata"] == {"name": "n"}


@pytest.mark.parametrize(
    ("spec", "fields"),
    [
        pytest.param({"size": "big"}, ["spec.size"], id="type"),
        pytest.param({}, ["spec.size"], id="required"),
        pytest.param({"size": 1, "mode": "c"}, ["spec.mode"], id="enum"),
        pytest.param({"size": 0}, ["spec.size"], id="minimum"),
        pytest.param({"size": 2, "mode": "a"}, [], id="valid"),
    ],
)
def test_validation(spec: dict[str, Any], fields: list[str]) -> None:
    assert [c["field"] for c in schema_errors({"spec": spec}, SCHEMA)] == fields


def test_the_kubevirt_crd_is_valid_and_prunes_the_vep_field() -> None:
    crd = kubevirt_crd()
    assert check_crd(crd) == []
    schema = json.loads(FIXTURE.read_text())["openAPIV3Schema"]
    kv = {
        "spec": {
            "configuration": {"developerConfiguration": {"autoNUMAEnablement": True, "featureGates": []}}
        }
    }
    assert prune(kv, schema) == ["spec.configuration.developerConfiguration.autoNUMAEnablement"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param(lambda c: c["spec"]["versions"][1].update(storage=True), "spec.versions", id="two-storage-versions"),
        pytest.param(lambda c: c["metadata"].update(name="wrong"), "metadata.name", id="name-not-plural-dot-group"),
        pytest.param(lambda c: c["spec"].update(scope="Galaxy"), "spec.scope", id="scope"),
        pytest.param(lambda c: c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].pop("type"), "spec.versions[0].schema.openAPIV3Schema.properties[spec].type", id="untyped-node"),
    ],
)  # fmt: skip
def test_invalid_crds(change: Any, field: str) -> None:
    crd = kubevirt_crd()
    change(crd)
    assert field in [c["field"] for c in check_crd(crd)]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["spec", "size", "mode", "labels", "items", "n", "free", "x", "junk"]), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@given(json_values)
def test_pruning_is_idempotent_and_never_adds(value: Any) -> None:
    obj = {"spec": value}
    once = copy.deepcopy(obj)
    prune(once, SCHEMA)
    twice = copy.deepcopy(once)
    assert prune(twice, SCHEMA) == []
    assert twice == once
    assert len(json.dumps(once)) <= len(json.dumps(obj))
