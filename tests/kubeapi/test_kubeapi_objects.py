"""The test server's object semantics: discovery, get/list, patches, concurrency, Status errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from kubeapi.server import KubeApiServer

NODE = "/api/v1/nodes"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"


def node(name: str, **annotations: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "annotations": dict(annotations)}}


@pytest.fixture
async def api() -> AsyncIterator[KubeApiServer]:
    async with KubeApiServer() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    api: KubeApiServer,
    method: str,
    path: str,
    body: Any = None,
    *args: str,
    **params: str,
) -> tuple[int, Any]:
    ctype = args[0] if args else "application/json"
    data = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
    async with http.request(
        method, api.url + path, data=data, params=params, headers={"Content-Type": ctype}
    ) as response:
        return response.status, await response.json()


@pytest.mark.parametrize(
    ("path", "kind", "check"),
    [
        pytest.param("/api", "APIVersions", lambda b: b["versions"] == ["v1"], id="api"),
        pytest.param(
            "/api/v1",
            "APIResourceList",
            lambda b: {"name": "nodes"}.items() <= b["resources"][0].items(),
            id="v1",
        ),
        pytest.param(
            "/apis", "APIGroupList", lambda b: "kubevirt.io" in [g["name"] for g in b["groups"]], id="apis"
        ),
        pytest.param(
            "/apis/kubevirt.io/v1",
            "APIResourceList",
            lambda b: b["resources"][0]["name"] == "kubevirts" and b["resources"][0]["namespaced"],
            id="kubevirt-v1",
        ),
    ],
)
async def test_discovery(
    api: KubeApiServer, http: aiohttp.ClientSession, path: str, kind: str, check: Any
) -> None:
    status, body = await call(http, api, "GET", path)
    assert status == 200
    assert body["kind"] == kind
    assert check(body)


async def test_missing_object_is_a_404_status(api: KubeApiServer, http: aiohttp.ClientSession) -> None:
    status, body = await call(http, api, "GET", f"{NODE}/nope")
    assert status == 404
    assert (body["kind"], body["code"], body["reason"]) == ("Status", 404, "NotFound")
    assert body["message"] == 'nodes "nope" not found'


async def test_every_write_bumps_the_global_resource_version(
    api: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    first = api.put_object(node("a"))
    second = api.put_object(node("b"))
    assert int(second["metadata"]["resourceVersion"]) == int(first["metadata"]["resourceVersion"]) + 1
    status, listing = await call(http, api, "GET", NODE)
    assert status == 200
    assert listing["kind"] == "NodeList"
    assert listing["metadata"]["resourceVersion"] == str(api.resource_version)
    assert [item["metadata"]["name"] for item in listing["items"]] == ["a", "b"]


async def test_merge_patch_sets_and_removes_only_named_keys(
    api: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    api.put_object(node("n1", keep="yes", drop="x"))
    patch = {"metadata": {"annotations": {"drop": None, "new": "1"}}}
    status, body = await call(http, api, "PATCH", f"{NODE}/n1", patch, MERGE)
    assert status == 200
    assert body["metadata"]["annotations"] == {"keep": "yes", "new": "1"}
    assert api.get_object("Node/n1")["metadata"]["annotations"] == {"keep": "yes", "new": "1"}


async def test_a_patch_that_changes_nothing_is_not_a_write(
    api: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    api.put_object(node("n1", a="1"))
    before = api.resource_version
    status, body = await call(
        http, api, "PATCH", f"{NODE}/n1", {"metadata": {"annotations": {"a": "1"}}}, MERGE
    )
    assert status == 200
    assert api.resource_version == before
    assert body["metadata"]["resourceVersion"] == str(before)


async def test_stale_resource_version_in_a_patch_is_a_409(
    api: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    stale = api.put_object(node("n1"))["metadata"]["resourceVersion"]
    api.put_object(node("n1", other="change"))
    patch = {"metadata": {"resourceVersion": stale, "annotations": {"mine": "1"}}}
    status, body = await call(http, api, "PATCH", f"{NODE}/n1", patch, MERGE)
    assert status == 409
    assert body["reason"] == "Conflict"
    assert "the object has been modified" in body["message"]
    assert "mine" not in api.get_object("Node/n1")["metadata"]["annotations"]


async def test_matching_resource_version_in_a_patch_succeeds(
    api: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    current = api.put_object(node("n1"))["metadata"]["resourceVersion"]
    patch = {"metadata": {"resourceVersion": current, "annotations": {"mine": "1"}}}
    status, body = await call(http, api, "PATCH", f"{NODE}/n1", patch, MERGE)
    assert status == 200
    assert int(body["metadata"]["resourceVersion"]) > int(current)


@pytest.mark.parametrize(
    ("ops", "status", "reason"),
    [
        pytest.param(
            [{"op": "test", "path": "/metadata/annotations/a", "value": "2"}], 422, "Invalid", id="test-op"
        ),
        pytest.param([{"op": "remove", "path": "/metadata/labels/none"}], 422, "Invalid", id="missing-path"),
        pytest.param({"op": "add"}, 400, "BadRequest", id="not-a-list"),
        pytest.param([{"op": "frobnicate", "path": "/x"}], 400, "BadRequest", id="unknown-op"),
    ],
)
async def test_json_patch_failures(
    api: KubeApiServer, http: aiohttp.ClientSession, ops: Any, status: int, reason: str
) -> None:
    api.put_object(node("n1", a="1"))
    before = api.resource_version
    got, body = await call(http, api, "PATCH", f"{NODE}/n1", ops, JSON_PATCH)
    assert (got, body["reason"], body["code"]) == (status, reason, status)
    assert api.resource_version == before


async def test_json_patch_applies_in_order(api: KubeApiServer, http: aiohttp.ClientSession) -> None:
    api.put_object(node("n1", a="1"))
    ops = [
        {"op": "test", "path": "/metadata/annotations/a", "value": "1"},
        {"op": "add", "path": "/metadata/annotations/b~1c", "value": "2"},
        {"op": "move", "from": "/metadata/annotations/a", "path": "/metadata/annotations/z"},
        {"op": "add", "path": "/spec", "value": {"taints": []}},
        {"op": "add", "path": "/spec/taints/-", "value": {"key": "k", "effect": "NoSchedule"}},
    ]
    status, body = await call(http, api, "PATCH", f"{NODE}/n1", ops, JSON_PATCH)
    assert status == 200
    assert body["metadata"]["annotations"] == {"b/c": "2", "z": "1"}
    assert body["spec"] == {"taints": [{"key": "k", "effect": "NoSchedule"}]}


async def test_unknown_patch_type_is_415(api: KubeApiServer, http: aiohttp.ClientSession) -> None:
    api.put_object(node("n1"))
    status, body = await call(http, api, "PATCH", f"{NODE}/n1", {}, "text/plain")
    assert (status, body["reason"]) == (415, "UnsupportedMediaType")


def applied(name: str, **annotations: str) -> str:
    return json.dumps(node(name, **annotations))


async def test_apply_requires_a_field_manager(api: KubeApiServer, http: aiohttp.ClientSession) -> None:
    api.put_object(node("n1"))
    status, body = await call(http, api, "PATCH", f"{NODE}/n1", applied("n1", a="1"), APPLY)
    assert (status, body["reason"]) == (400, "BadRequest")


async def test_apply_removes_fields_its_manager_stopped_applying(
    api: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    api.put_object(node("n1", foreign="keep"))
    status, _ = await call(
        http, api, "PATCH", f"{NODE}/n1", applied("n1", a="1", b="2"), APPLY, fieldManager="me"
    )
    assert status == 200
    status, body = await call(
        http, api, "PATCH", f"{NODE}/n1", applied("n1", a="1"), APPLY, fieldManager="me"
    )
    assert status == 200
    assert body["metadata"]["annotations"] == {"foreign": "keep", "a": "1"}
    managers = {entry["manager"]: entry for entry in body["metadata"]["managedFields"]}
    assert managers["me"]["operation"] == "Apply"
    assert managers["me"]["fieldsV1"] == {"f:metadata": {"f:annotations": {"f:a": {}}}}


async def test_apply_conflicts_with_another_manager_unless_forced(
    api: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    api.put_object(node("n1"))
    await call(http, api, "PATCH", f"{NODE}/n1", applied("n1", shared="one"), APPLY, fieldManager="first")
    status, body = await call(
        http, api, "PATCH", f"{NODE}/n1", applied("n1", shared="two"), APPLY, fieldManager="second"
    )
    assert (status, body["reason"]) == (409, "Conflict")
    assert body["details"]["causes"][0]["field"] == ".metadata.annotations.shared"
    assert 'conflict with "first"' in body["message"]
    same, _ = await call(
        http, api, "PATCH", f"{NODE}/n1", applied("n1", shared="one"), APPLY, fieldManager="second"
    )
    assert same == 200  # the same value is shared ownership, not a conflict
    status, body = await call(
        http,
        api,
        "PATCH",
        f"{NODE}/n1",
        applied("n1", shared="two"),
        APPLY,
        fieldManager="second",
        force="true",
    )
    assert status == 200
    assert body["metadata"]["annotations"]["shared"] == "two"
    owners = {
        e["manager"] for e in body["metadata"]["managedFields"] if "f:shared" in json.dumps(e["fieldsV1"])
    }
    assert owners == {"second"}


async def test_apply_does_not_remove_a_field_someone_else_also_owns(
    api: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    api.put_object(node("n1"))
    await call(http, api, "PATCH", f"{NODE}/n1", applied("n1", s="v"), APPLY, fieldManager="first")
    await call(http, api, "PATCH", f"{NODE}/n1", applied("n1", s="v"), APPLY, fieldManager="second")
    status, body = await call(http, api, "PATCH", f"{NODE}/n1", applied("n1"), APPLY, fieldManager="first")
    assert status == 200
    assert body["metadata"]["annotations"] == {"s": "v"}


async def test_kubevirt_cr_is_namespaced(api: KubeApiServer, http: aiohttp.ClientSession) -> None:
    cr = {
        "apiVersion": "kubevirt.io/v1",
        "kind": "KubeVirt",
        "metadata": {"name": "kubevirt", "namespace": "kubevirt"},
        "spec": {"configuration": {"developerConfiguration": {"autoNUMAEnablement": True}}},
    }
    api.put_object(cr)
    status, body = await call(http, api, "GET", "/apis/kubevirt.io/v1/namespaces/kubevirt/kubevirts/kubevirt")
    assert status == 200
    assert body["spec"]["configuration"]["developerConfiguration"]["autoNUMAEnablement"] is True
    status, listing = await call(http, api, "GET", "/apis/kubevirt.io/v1/kubevirts")
    assert (status, listing["kind"], len(listing["items"])) == (200, "KubeVirtList", 1)
    status, _ = await call(http, api, "GET", "/apis/kubevirt.io/v1/namespaces/other/kubevirts/kubevirt")
    assert status == 404
    assert api.get_object("KubeVirt/kubevirt/kubevirt")["metadata"]["namespace"] == "kubevirt"
