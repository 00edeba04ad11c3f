"""List pages and metadata-only answers, as the API concepts documentation describes them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from kubeapi.listing import json_copy
from kubeapi.server import KubeApiServer

META_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, application/json"
META = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json"


@pytest.fixture
async def api() -> AsyncIterator[KubeApiServer]:
    async with KubeApiServer() as server:
        for i in range(7):
            server.put_object(
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {"name": f"n{i}"},
                    "status": {"capacity": {"cpu": "4"}},
                }
            )
        yield server


async def get(
    api: KubeApiServer, path: str, accept: str = "application/json", **query: str
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(api.url + path, params=query, headers={"Accept": accept}) as answer,
    ):
        return answer.status, await answer.json()


async def test_pages_cover_the_list_once_with_one_resource_version(api: KubeApiServer) -> None:
    names: list[str] = []
    versions, remaining = set(), []
    token = ""
    while True:
        status, body = await get(api, "/api/v1/nodes", limit="3", **({"continue": token} if token else {}))
        assert status == 200
        names += [item["metadata"]["name"] for item in body["items"]]
        versions.add(body["metadata"]["resourceVersion"])
        token = body["metadata"].get("continue", "")
        if not token:
            break
        remaining.append(body["metadata"]["remainingItemCount"])
    assert names == [f"n{i}" for i in range(7)]
    assert len(versions) == 1
    assert remaining == [4, 1]


@pytest.mark.parametrize(
    ("token", "status", "reason"),
    [
        pytest.param("not-a-token", 400, "BadRequest", id="garbage"),
        pytest.param("kubevirts", 400, "BadRequest", id="another-lists-token"),
        pytest.param("compacted", 410, "Expired", id="expired"),
    ],
)
async def test_bad_continue_tokens(api: KubeApiServer, token: str, status: int, reason: str) -> None:
    _, first = await get(api, "/api/v1/nodes", limit="2")
    if token == "compacted":
        token = first["metadata"]["continue"]
        api.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "later"}})
        api.compact()  # the token's resourceVersion is now older than the compaction
    elif token == "kubevirts":
        for i in range(3):
            api.put_object(
                {
                    "apiVersion": "kubevirt.io/v1",
                    "kind": "KubeVirt",
                    "metadata": {"name": f"k{i}", "namespace": "kv"},
                }
            )
        _, other = await get(api, "/apis/kubevirt.io/v1/kubevirts", limit="1")
        token = other["metadata"]["continue"]
    answer_status, body = await get(api, "/api/v1/nodes", limit="2", **{"continue": token})
    assert (answer_status, body["reason"], body["kind"]) == (status, reason, "Status")


async def test_metadata_only_list_get_and_watch(api: KubeApiServer) -> None:
    _, listed = await get(api, "/api/v1/nodes", META_LIST, limit="2")
    assert (listed["kind"], listed["apiVersion"]) == ("PartialObjectMetadataList", "meta.k8s.io/v1")
    assert [set(item) for item in listed["items"]] == [{"apiVersion", "kind", "metadata"}] * 2
    assert listed["items"][0]["kind"] == "PartialObjectMetadata"
    _, one = await get(api, "/api/v1/nodes/n1", META)
    assert (one["kind"], "status" in one, one["metadata"]["name"]) == ("PartialObjectMetadata", False, "n1")
    _, full = await get(api, "/api/v1/nodes/n1")
    assert full["status"] == {"capacity": {"cpu": "4"}}
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            api.url + "/api/v1/nodes",
            params={"watch": "true", "timeoutSeconds": "1"},
            headers={"Accept": META},
        ) as stream,
    ):
        first = json.loads(await stream.content.readline())
    assert first["type"] == "ADDED"
    assert set(first["object"]) == {"apiVersion", "kind", "metadata"}


async def test_list_exact_answers_the_objects_as_they_were(api: KubeApiServer) -> None:
    before = str(api.resource_version)
    api.delete_object("Node/n0")
    api.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n9"}})
    status, now = await get(api, "/api/v1/nodes")
    status_exact, then = await get(api, "/api/v1/nodes", resourceVersion=before, resourceVersionMatch="Exact")
    assert (status, status_exact) == (200, 200)
    assert then["metadata"]["resourceVersion"] == before
    assert [i["metadata"]["name"] for i in then["items"]] == [f"n{i}" for i in range(7)]
    assert "n9" in [i["metadata"]["name"] for i in now["items"]]
    api.compact()
    status, body = await get(api, "/api/v1/nodes", resourceVersion=before, resourceVersionMatch="Exact")
    assert (status, body["reason"]) == (410, "Expired")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        pytest.param({"resourceVersionMatch": "NotOlderThan"}, 422, id="match-without-version"),
        pytest.param({"resourceVersionMatch": "Exact", "resourceVersion": "0"}, 422, id="exact-zero"),
        pytest.param({"resourceVersionMatch": "Sometime", "resourceVersion": "1"}, 422, id="unknown-match"),
        pytest.param({"resourceVersionMatch": "NotOlderThan", "resourceVersion": "99999"}, 504, id="future"),
    ],
)
async def test_list_resource_version_match_is_validated(
    api: KubeApiServer, query: dict[str, str], code: int
) -> None:
    status, body = await get(api, "/api/v1/nodes", **query)
    assert (status, body["kind"], body["code"]) == (code, "Status", code)


async def test_watch_list_streams_added_then_the_initial_events_end_bookmark(api: KubeApiServer) -> None:
    query = {
        "watch": "true",
        "sendInitialEvents": "true",
        "resourceVersionMatch": "NotOlderThan",
        "allowWatchBookmarks": "true",
        "timeoutSeconds": "1",
    }
    async with (
        aiohttp.ClientSession() as session,
        session.get(api.url + "/api/v1/nodes", params=query, headers={"Accept": META}) as answer,
    ):
        assert answer.status == 200
        events = [json.loads(line) async for line in answer.content if line.strip()]
    added = [e["object"]["metadata"]["name"] for e in events if e["type"] == "ADDED"]
    assert added == [f"n{i}" for i in range(7)]
    assert {e["object"]["kind"] for e in events if e["type"] == "ADDED"} == {"PartialObjectMetadata"}
    first_bookmark = events[len(added)]
    assert first_bookmark["type"] == "BOOKMARK"
    assert first_bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert first_bookmark["object"]["metadata"]["resourceVersion"] == str(api.resource_version)


async def test_watch_list_needs_not_older_than_and_bookmarks(api: KubeApiServer) -> None:
    status, body = await get(api, "/api/v1/nodes", watch="true", sendInitialEvents="true")
    assert (status, body["reason"]) == (422, "Invalid")
    status, body = await get(
        api, "/api/v1/nodes", watch="true", resourceVersionMatch="NotOlderThan", resourceVersion="1"
    )
    assert (status, body["reason"]) == (422, "Invalid")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"labels": {"a": "1"}, "items": [{"n": 1}, {"n": 2.5}], "none": None}, id="json"),
        pytest.param({"generation": 1 << 70, "items": [{"n": 1}]}, id="beyond-64-bits"),
    ],
)
def test_json_copy_is_an_equal_deep_copy(value: dict[str, Any]) -> None:
    copied = json_copy(value)
    assert copied == value
    copied["items"][0]["n"] = 99
    assert value["items"][0]["n"] == 1
