"""The Reflector against the API test server: list, watch, bookmarks, 410 and dropped streams."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from manual_clock import ManualClock

from kubeapi.server import KubeApiServer
from kvnuma.kube import KUBEVIRTS, NODES, ClusterConfig, KubeClient, Reflector
from kvnuma.kube.backoff import Backoff
from kvnuma.kube.errors import KubeError


def node(name: str, **annotations: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "annotations": dict(annotations)}}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.replaces: list[list[str]] = []
        self.errors: list[KubeError] = []

    def on_event(self, kind: str, obj: dict[str, Any]) -> None:
        self.events.append((kind, obj["metadata"]["name"]))

    def on_replace(self, objs: list[dict[str, Any]]) -> None:
        self.replaces.append(sorted(o["metadata"]["name"] for o in objs))


@pytest.fixture
async def api() -> AsyncIterator[KubeApiServer]:
    async with KubeApiServer(bookmark_interval=30) as server:
        yield server


async def until(check: Callable[[], bool], what: str) -> None:
    for _ in range(2000):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


async def running(
    api: KubeApiServer, recorder: Recorder, **options: Any
) -> tuple[Reflector, asyncio.Task[None]]:
    client = KubeClient(ClusterConfig(api.url))
    options.setdefault("clock", ManualClock(instant=True))
    options.setdefault("resync_seconds", 0)
    reflector = Reflector(
        client,
        options.pop("resource", NODES),
        on_event=recorder.on_event,
        on_replace=recorder.on_replace,
        on_error=recorder.errors.append,
        backoff=Backoff(base=0.01, cap=0.05, rng=random.Random(3)),
        **options,
    )
    task = asyncio.create_task(reflector.run())
    await asyncio.wait_for(reflector.synced.wait(), 10)
    return reflector, task


async def stop(reflector: Reflector, task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await reflector.client.close()


def names(reflector: Reflector) -> list[str]:
    return sorted(name for _ns, name in reflector.store)


async def test_list_then_watch_applies_every_change(api: KubeApiServer) -> None:
    api.put_object(node("a"))
    recorder = Recorder()
    reflector, task = await running(api, recorder)
    await until(lambda: api.open_watches == 1, "watch open")
    api.put_object(node("b"))
    api.put_object(node("a", x="1"))
    api.delete_object("Node/b")
    await until(lambda: len(recorder.events) == 3, "three events")
    await stop(reflector, task)
    assert recorder.replaces == [["a"]]
    assert recorder.events == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
    assert names(reflector) == ["a"]
    assert reflector.store[("", "a")]["metadata"]["annotations"] == {"x": "1"}
    assert reflector.resource_version == str(api.resource_version)


async def test_bookmarks_advance_the_version_without_events(api: KubeApiServer) -> None:
    recorder = Recorder()
    reflector, task = await running(api, recorder)
    await until(lambda: api.open_watches == 1, "watch open")
    api.put_object(
        {"apiVersion": "kubevirt.io/v1", "kind": "KubeVirt", "metadata": {"name": "kv", "namespace": "k"}}
    )
    api.bookmark_now()
    await until(lambda: reflector.resource_version == str(api.resource_version), "bookmark seen")
    await stop(reflector, task)
    assert recorder.events == []


async def test_compaction_in_an_open_stream_relists_and_replaces(api: KubeApiServer) -> None:
    api.put_object(node("a"))
    recorder = Recorder()
    reflector, task = await running(api, recorder)
    await until(lambda: api.open_watches == 1, "watch open")
    api.compact()
    await until(lambda: reflector.lists == 2, "re-list")
    await stop(reflector, task)
    assert [getattr(e, "code", None) for e in recorder.errors] == [410]
    assert recorder.replaces == [["a"], ["a"]]


async def test_a_watch_from_a_compacted_version_gets_410_and_relists(api: KubeApiServer) -> None:
    api.put_object(node("a"))
    api.faults.slow("watch", r"/nodes$", seconds=0.3, count=1)
    recorder = Recorder()
    reflector, task = await running(api, recorder)
    api.put_object(node("b"))
    api.compact()  # the delayed watch asks for a version older than this
    await until(lambda: names(reflector) == ["a", "b"], "b after the re-list")
    await stop(reflector, task)
    assert [(e.kind, getattr(e, "code", None)) for e in recorder.errors] == [("expired", 410)]
    assert recorder.replaces == [["a"], ["a", "b"]]


async def test_a_dropped_stream_relists_and_loses_nothing(api: KubeApiServer) -> None:
    api.put_object(node("a"))
    api.put_object(node("b"))
    recorder = Recorder()
    reflector, task = await running(api, recorder)
    await until(lambda: api.open_watches == 1, "watch open")
    api.faults.fail_next("list", r"/nodes$", 500, count=2)
    api.faults.drop_watches()
    api.delete_object("Node/a")  # happens while the reflector is cut off
    api.put_object(node("c"))
    api.compact(expire_open_watches=False)
    await until(lambda: names(reflector) == ["b", "c"], "store matches the server")
    await stop(reflector, task)
    assert recorder.replaces[-1] == ["b", "c"]
    assert [e.kind for e in recorder.errors] == ["disconnected", "server", "server"]


async def test_periodic_resync_replays_the_store_and_does_not_relist(api: KubeApiServer) -> None:
    api.put_object(node("a"))
    api.put_object(node("b"))
    recorder = Recorder()
    clock = ManualClock()
    resyncs: list[int] = []
    reflector, task = await running(
        api, recorder, resync_seconds=300, clock=clock, on_resync=lambda: resyncs.append(1)
    )
    await until(lambda: api.open_watches == 1 and clock.sleepers == 1, "watching, resync timer armed")
    clock.advance(299)
    await asyncio.sleep(0.05)
    assert reflector.resyncs == 0
    clock.advance(1)
    await until(lambda: reflector.resyncs == 1, "first resync")
    await until(lambda: clock.sleepers == 1, "timer re-armed")
    clock.advance(300)
    await until(lambda: reflector.resyncs == 2, "second resync")
    api.put_object(node("c"))
    await until(lambda: ("ADDED", "c") in recorder.events, "the watch goes on")
    await stop(reflector, task)
    assert reflector.lists == 1
    assert len(api.requests_for("list", "/nodes")) == 1
    assert recorder.replaces == [["a", "b"]]
    assert recorder.events == [("SYNC", "a"), ("SYNC", "b")] * 2 + [("ADDED", "c")]
    assert resyncs == [1, 1]


async def test_throttled_list_backs_off_then_syncs(api: KubeApiServer) -> None:
    api.faults.fail_next("list", r"/kubevirts$", 429, count=2, retry_after=0)
    api.put_object(
        {"apiVersion": "kubevirt.io/v1", "kind": "KubeVirt", "metadata": {"name": "kv", "namespace": "k"}}
    )
    recorder = Recorder()
    reflector, task = await running(api, recorder, resource=KUBEVIRTS)
    await stop(reflector, task)
    assert [e.kind for e in recorder.errors] == ["throttled", "throttled"]
    assert reflector.get("kv", "k") is not None


async def test_without_a_store_callbacks_still_see_every_object(api: KubeApiServer) -> None:
    api.put_object(node("a"))
    api.put_object(node("b"))
    recorder = Recorder()
    reflector, task = await running(api, recorder, keep_objects=False)
    await until(lambda: api.open_watches == 1, "watch open")
    api.put_object(node("c"))
    api.delete_object("Node/a")
    api.compact()
    await until(lambda: reflector.lists == 2, "re-list after 410")
    await stop(reflector, task)
    assert recorder.replaces == [["a", "b"], ["b", "c"]]
    assert recorder.events == [("ADDED", "c"), ("DELETED", "a")]
    assert reflector.store == {}
    assert reflector.get("b") is None


async def test_synced_waits_for_the_first_successful_list(api: KubeApiServer) -> None:
    api.faults.fail_next("list", r"/nodes$", 503, count=2, retry_after=0)
    api.put_object(node("a"))
    recorder = Recorder()
    client = KubeClient(ClusterConfig(api.url))
    clock = ManualClock()
    reflector = Reflector(
        client,
        NODES,
        on_replace=recorder.on_replace,
        on_error=recorder.errors.append,
        backoff=Backoff(base=0.01, cap=0.05, rng=random.Random(5)),
        clock=clock,
    )
    task = asyncio.create_task(reflector.run())
    await until(lambda: len(recorder.errors) == 1 and clock.sleepers == 1, "first list failed, backing off")
    assert not reflector.synced.is_set()
    assert recorder.replaces == []
    clock.advance(1)
    await until(lambda: clock.sleepers == 1, "second list failed, backing off")
    assert not reflector.synced.is_set()
    clock.advance(1)
    await asyncio.wait_for(reflector.synced.wait(), 10)
    await stop(reflector, task)
    assert [e.kind for e in recorder.errors] == ["server", "server"]
    assert recorder.replaces == [["a"]]


class CountingBackoff(Backoff):
    def __init__(self) -> None:
        super().__init__(base=0.01, cap=0.02, rng=random.Random(7))
        self.delays = 0

    def next_delay(self, retry_after: float | None = None) -> float:
        self.delays += 1
        return super().next_delay(retry_after)


@pytest.mark.parametrize(
    ("event_first", "delays"),
    [
        pytest.param(True, 0, id="after-an-event-relists-at-once"),
        pytest.param(False, 1, id="before-anything-backs-off"),
    ],
)
async def test_a_cut_stream_backs_off_only_when_it_delivered_nothing(
    api: KubeApiServer, event_first: bool, delays: int
) -> None:
    api.put_object(node("a"))
    recorder = Recorder()
    backoff = CountingBackoff()
    reflector, task = await running(api, recorder)
    reflector.backoff = backoff
    await until(lambda: api.open_watches == 1, "watch open")
    if event_first:
        api.put_object(node("b"))
        await until(lambda: len(recorder.events) == 1, "event seen")
    api.faults.drop_watches()
    await until(lambda: reflector.lists == 2, "re-list")
    await stop(reflector, task)
    assert [e.kind for e in recorder.errors] == ["disconnected"]
    assert backoff.delays == delays


@pytest.mark.parametrize("server", ["ignores-it", "forbids-it"])
async def test_watch_list_falls_back_to_a_list_on_a_server_without_it(server: str) -> None:
    """A server without the streaming watch-list either ignores ``sendInitialEvents`` (it streams
    ADDED events and then a bookmark without ``k8s.io/initial-events-end``) or answers 422 (the
    feature gate off). The reflector drops what it streamed, lists instead, and does not try the
    watch-list again."""
    async with KubeApiServer(bookmark_interval=0.05, watch_list=server == "forbids-it") as api:
        if server == "forbids-it":
            api.faults.fail_next("watch", r"/nodes$", 422, count=1)
        api.put_object(node("a"))
        api.put_object(node("b"))
        recorder = Recorder()
        reflector, task = await running(api, recorder, watch_list=True)
        await until(lambda: api.open_watches == 1, "watching")
        api.put_object(node("c"))
        await until(lambda: ("ADDED", "c") in recorder.events, "the watch after the list")
        await stop(reflector, task)
    assert reflector.watch_list_supported is False
    assert recorder.replaces == [["a", "b"]]
    assert reflector.lists == 1
    sent = [r.query for r in api.requests_for("watch", "/nodes")]
    assert sent[0].get("sendInitialEvents") == "true"
    assert all("sendInitialEvents" not in query for query in sent[1:])


class Pages:
    """A replacement factory that records what each list delivered, and can act after a page."""

    def __init__(self, after_first_page: Callable[[], None] | None = None) -> None:
        self.builds: list[list[list[str]]] = []
        self.committed: list[list[str]] = []
        self._after = after_first_page

    def __call__(self) -> Pages.Build:
        pages: list[list[str]] = []
        self.builds.append(pages)
        return Pages.Build(self, pages)

    class Build:
        def __init__(self, owner: Pages, pages: list[list[str]]) -> None:
            self.owner, self.pages = owner, pages

        def add(self, objects: list[dict[str, Any]]) -> None:
            self.pages.append([o["metadata"]["name"] for o in objects])
            if self.owner._after is not None:
                after, self.owner._after = self.owner._after, None
                after()

        def commit(self) -> None:
            self.owner.committed.append([name for page in self.pages for name in page])


def list_queries(api: KubeApiServer) -> list[dict[str, str]]:
    return [r.query for r in api.requests_for("list", "/nodes")]


async def test_the_list_is_read_in_pages_metadata_only(api: KubeApiServer) -> None:
    for i in range(7):
        api.put_object({**node(f"n{i}", x=str(i)), "status": {"capacity": {"cpu": "4"}}})
    pages = Pages()
    seen: list[dict[str, Any]] = []
    recorder = Recorder()
    reflector, task = await running(
        api, recorder, replacement=pages, page_size=3, step_objects=2, metadata_only=True, keep_objects=False
    )
    reflector.on_event = lambda _kind, obj: seen.append(obj)
    await until(lambda: api.open_watches == 1, "watching")
    api.put_object(node("n9"))
    await until(lambda: len(seen) == 1, "a watch event")
    await stop(reflector, task)
    assert pages.committed == [[f"n{i}" for i in range(7)]]
    assert pages.builds == [[["n0", "n1"], ["n2"], ["n3", "n4"], ["n5"], ["n6"]]]  # steps of 2 per page
    queries = list_queries(api)
    assert [q["limit"] for q in queries] == ["3", "3", "3"]
    assert ["continue" in q for q in queries] == [False, True, True]
    assert reflector.pages == 3
    assert set(seen[0]) == {"apiVersion", "kind", "metadata"}  # the watch is metadata-only too
    assert reflector.resource_version == str(api.resource_version)


async def test_an_expired_continue_token_relists_from_the_start_and_commits_once(api: KubeApiServer) -> None:
    for i in range(5):
        api.put_object(node(f"n{i}"))

    def expire() -> None:  # between the first and the second page
        api.put_object(node("late"))
        api.compact()

    pages = Pages(after_first_page=expire)
    recorder = Recorder()
    reflector, task = await running(api, recorder, replacement=pages, page_size=2)
    await stop(reflector, task)
    assert [(e.kind, getattr(e, "code", None)) for e in recorder.errors] == [("expired", 410)]
    assert pages.builds[0] == [["n0", "n1"]]  # the cut list: built, never committed
    assert pages.committed == [["late", "n0", "n1", "n2", "n3", "n4"]]
    assert ["continue" in q for q in list_queries(api)] == [False, True, False, True, True]
    assert reflector.lists == 1


async def test_a_page_that_fails_keeps_the_last_complete_state(api: KubeApiServer) -> None:
    for i in range(4):
        api.put_object(node(f"n{i}"))
    pages = Pages(after_first_page=lambda: api.faults.fail_next("list", r"/nodes$", 500, count=1))
    recorder = Recorder()
    reflector, task = await running(api, recorder, replacement=pages, page_size=2)
    await stop(reflector, task)
    assert [e.kind for e in recorder.errors] == ["server"]
    assert len(pages.builds) == 2
    assert pages.committed == [["n0", "n1", "n2", "n3"]]


async def test_watch_list_streams_the_state_then_changes_without_a_list(api: KubeApiServer) -> None:
    for i in range(5):
        api.put_object({**node(f"n{i}"), "status": {"capacity": {"cpu": "4"}}})
    pages = Pages()
    seen: list[tuple[str, dict[str, Any]]] = []
    recorder = Recorder()
    reflector, task = await running(
        api,
        recorder,
        replacement=pages,
        watch_list=True,
        metadata_only=True,
        step_objects=2,
        keep_objects=False,
    )
    reflector.on_event = lambda kind, obj: seen.append((kind, obj))
    api.put_object(node("n9"))
    await until(lambda: len(seen) == 1, "a change after the initial events")
    api.compact()  # 410: the re-list streams again, beside the committed state
    await until(lambda: reflector.lists == 2, "streamed re-list")
    await stop(reflector, task)
    assert reflector.watch_list_supported is True
    assert api.requests_for("list", "/nodes") == []
    assert pages.committed == [[f"n{i}" for i in range(5)], [*(f"n{i}" for i in range(5)), "n9"]]
    assert pages.builds[0] == [["n0", "n1"], ["n2", "n3"], ["n4"]]
    assert seen[0][0] == "ADDED"
    assert set(seen[0][1]) == {"apiVersion", "kind", "metadata"}
    query = api.requests_for("watch", "/nodes")[0].query
    assert (query["sendInitialEvents"], query["resourceVersionMatch"]) == ("true", "NotOlderThan")


async def test_a_continue_token_from_another_list_is_refused_and_the_list_restarts(
    api: KubeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(4):
        api.put_object(node(f"n{i}"))
    for i in range(3):
        api.put_object(
            {
                "apiVersion": "kubevirt.io/v1",
                "kind": "KubeVirt",
                "metadata": {"name": f"k{i}", "namespace": "kv"},
            }
        )
    async with KubeClient(ClusterConfig(api.url)) as other:
        foreign = (await other.list_page(KUBEVIRTS, limit=1)).continue_token
    assert foreign
    real = KubeClient.list_page
    swapped: list[str] = []

    async def swapping(self: KubeClient, res: Any, namespace: str | None = None, **options: Any) -> Any:
        if options.get("continue_token") and not swapped:  # the second page asks with the wrong token
            swapped.append(options["continue_token"])
            options["continue_token"] = foreign
        return await real(self, res, namespace, **options)

    monkeypatch.setattr(KubeClient, "list_page", swapping)
    pages = Pages()
    recorder = Recorder()
    reflector, task = await running(api, recorder, replacement=pages, page_size=2)
    await stop(reflector, task)
    assert [(e.kind, getattr(e, "code", None)) for e in recorder.errors] == [("bad-request", 400)]
    assert pages.builds[0] == [["n0", "n1"]]
    assert pages.committed == [["n0", "n1", "n2", "n3"]]
