"""The test server's watch semantics and fault injection."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from kubeapi.server import KubeApiServer

NODES = "/api/v1/nodes"


def node(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": dict(labels)}}


@pytest.fixture
async def api() -> AsyncIterator[KubeApiServer]:
    async with KubeApiServer(bookmark_interval=30) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def read_events(response: aiohttp.ClientResponse, count: int) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    for _ in range(count):
        line = await asyncio.wait_for(response.content.readline(), 10)
        assert line, f"stream ended after {len(events)} events"
        event = json.loads(line)
        events.append((event["type"], event["object"]))
    return events


async def wait_for_watchers(api: KubeApiServer, count: int) -> None:
    for _ in range(500):
        if api.open_watches == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{api.open_watches} watches open, wanted {count}")


async def test_watch_without_version_starts_with_the_current_objects(
    api: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    api.put_object(node("a"))
    api.put_object(node("b"))
    async with http.get(api.url + NODES, params={"watch": "true"}) as response:
        assert response.status == 200
        first = await read_events(response, 2)
        api.put_object(node("a", x="1"))
        (modified,) = await read_events(response, 1)
    assert [(kind, obj["metadata"]["name"]) for kind, obj in first] == [("ADDED", "a"), ("ADDED", "b")]
    assert modified[0] == "MODIFIED"
    assert modified[1]["metadata"]["labels"] == {"x": "1"}


async def test_watch_from_a_version_replays_later_events_only(
    api: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    api.put_object(node("a"))
    since = api.resource_version
    api.put_object(node("b"))
    api.delete_object("Node/a")
    params = {"watch": "1", "resourceVersion": str(since)}
    async with http.get(api.url + NODES, params=params) as response:
        events = await read_events(response, 2)
    assert [(kind, obj["metadata"]["name"]) for kind, obj in events] == [("ADDED", "b"), ("DELETED", "a")]
    assert int(events[1][1]["metadata"]["resourceVersion"]) == api.resource_version


async def test_bookmarks_carry_the_current_version(api: KubeApiServer, http: aiohttp.ClientSession) -> None:
    api.put_object(node("a"))
    params = {"watch": "true", "resourceVersion": str(api.resource_version), "allowWatchBookmarks": "true"}
    async with http.get(api.url + NODES, params=params) as response:
        await wait_for_watchers(api, 1)
        api.put_object(node("b"))
        api.bookmark_now()
        events = await read_events(response, 2)
    assert events[0][0] == "ADDED"
    assert events[1][0] == "BOOKMARK"
    assert events[1][1]["metadata"] == {"resourceVersion": str(api.resource_version)}
    assert events[1][1]["kind"] == "Node"


async def test_no_bookmarks_unless_asked(api: KubeApiServer, http: aiohttp.ClientSession) -> None:
    params = {"watch": "true", "resourceVersion": str(api.resource_version), "timeoutSeconds": "1"}
    async with http.get(api.url + NODES, params=params) as response:
        await wait_for_watchers(api, 1)
        api.bookmark_now()
        api.put_object(node("b"))
        body = await response.read()
    assert [json.loads(line)["type"] for line in body.splitlines()] == ["ADDED"]


async def test_timeout_seconds_ends_the_stream_cleanly(
    api: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    params = {"watch": "true", "timeoutSeconds": "1", "allowWatchBookmarks": "true"}
    async with http.get(api.url + NODES, params=params) as response:
        body = await asyncio.wait_for(response.read(), 10)
    kinds = [json.loads(line)["type"] for line in body.splitlines()]
    assert kinds[-1] == "BOOKMARK"  # the last word before the server closes the stream
    assert api.open_watches == 0


def watch_from_compacted(api: KubeApiServer, http: aiohttp.ClientSession) -> Any:
    """A watch request from a resourceVersion that a write and a compaction left behind."""
    old = api.resource_version
    api.put_object(node("a"))
    api.compact()
    return http.get(api.url + NODES, params={"watch": "true", "resourceVersion": str(old)})


async def test_watch_from_a_compacted_version_can_be_an_http_410() -> None:
    """``expired_watch_as_event=False``: the answer of a server without the watch cache."""
    async with (
        KubeApiServer(expired_watch_as_event=False) as api,
        aiohttp.ClientSession() as http,
        watch_from_compacted(api, http) as response,
    ):
        body = await response.json()
    assert response.status == 410
    assert (body["kind"], body["code"], body["reason"]) == ("Status", 410, "Expired")


async def test_expired_watch_as_an_error_event() -> None:
    """The default, as kube-apiserver's watch cache answers: HTTP 200, then an ERROR event."""
    async with (
        KubeApiServer() as api,
        aiohttp.ClientSession() as http,
        watch_from_compacted(api, http) as response,
    ):
        assert response.status == 200
        (event,) = await read_events(response, 1)
    assert event[0] == "ERROR"
    assert (event[1]["code"], event[1]["reason"]) == (410, "Expired")


@contextlib.asynccontextmanager
async def open_watch(api: KubeApiServer, http: aiohttp.ClientSession) -> AsyncIterator[Any]:
    """A Node watch from now, once the server serves it."""
    params = {"watch": "true", "resourceVersion": str(api.resource_version)}
    async with http.get(api.url + NODES, params=params) as response:
        await wait_for_watchers(api, 1)
        yield response


async def test_compaction_ends_open_watches_with_an_error_event(
    api: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    async with open_watch(api, http) as response:
        api.compact()
        body = await asyncio.wait_for(response.read(), 10)
    (event,) = [json.loads(line) for line in body.splitlines()]
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410


async def test_dropped_watch_is_cut_without_a_clean_end(
    api: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    async with open_watch(api, http) as response:
        api.faults.drop_watches()
        with pytest.raises(aiohttp.ClientPayloadError):
            await asyncio.wait_for(response.read(), 10)
    await wait_for_watchers(api, 0)


async def test_fail_next_answers_the_status_count_times(
    api: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    api.put_object(node("a"))
    api.faults.fail_next("get", r"/nodes/a$", 500, count=2)
    statuses = []
    for _ in range(3):
        async with http.get(api.url + NODES + "/a") as response:
            statuses.append((response.status, (await response.json())["kind"]))
    assert statuses == [(500, "Status"), (500, "Status"), (200, "Node")]
    assert len(api.requests_for("get", "/nodes/a")) == 3


async def test_429_carries_retry_after(api: KubeApiServer, http: aiohttp.ClientSession) -> None:
    api.faults.fail_next("list", r"/nodes$", 429, retry_after=3)
    async with http.get(api.url + NODES) as response:
        body = await response.json()
    assert (response.status, response.headers["Retry-After"], body["reason"]) == (429, "3", "TooManyRequests")


async def test_fault_rules_match_only_their_verb(api: KubeApiServer, http: aiohttp.ClientSession) -> None:
    api.put_object(node("a"))
    api.faults.fail_next("patch", r"/nodes/a$", 409)
    async with http.get(api.url + NODES + "/a") as response:
        assert response.status == 200
    headers = {"Content-Type": "application/merge-patch+json"}
    async with http.patch(api.url + NODES + "/a", data="{}", headers=headers) as response:
        assert response.status == 409


async def test_slow_requests_outlast_a_short_client_timeout(
    api: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    api.put_object(node("a"))
    api.faults.slow("get", r"/nodes/a$", seconds=5, count=1)
    with pytest.raises(TimeoutError):
        async with http.get(api.url + NODES + "/a", timeout=aiohttp.ClientTimeout(total=0.2)):
            pass
    async with http.get(api.url + NODES + "/a") as response:
        assert response.status == 200
