"""A generic list-and-watch cache (client-go's Reflector, in small).

    LIST  page by page (``limit``/``continue``, each page under its own timeout; ``page_size`` for
          the first list, ``relist_page_size`` once the state serves), or the streaming
          watch-list (``watch_list=True``: ``sendInitialEvents=true``; a server without it is
          detected and the reflector falls back to the paginated LIST for good)
          -> each page goes to a *replacement* built beside the current state, which is swapped
          in only when the list is complete; a list that fails half-way is dropped
    WATCH from the list's resourceVersion with bookmarks -> ``on_event(type, object)`` per change;
          bookmarks and events advance the version; a stream the server ends normally
          (its timeout) is resumed from the last version
    410 Gone (HTTP or ERROR event, or an expired continue token), a cut stream -> LIST again
          (restarting the watch alone could miss deletions); a second 410 in a row, and a stream
          cut before it delivered anything, back off first, so a server or proxy that expires or
          drops everything is not hammered
    every ``resync_seconds`` -> replay, not re-LIST: the store's objects go to
          ``on_event("SYNC", object)`` (client-go's resync), then ``on_resync()``
    other errors -> capped exponential backoff with jitter, then LIST again

Consumers either take the whole list at once (``on_replace(objects)``, for small collections) or
build their own state beside the old one (``replacement()`` returns an object with
``add(objects)``, called per page in steps of ``step_objects`` with the event loop free between
steps, and ``commit()``; on a re-list each step first waits ``relist_pause`` seconds).
``synced`` is set after the first complete list (a server's readiness).
``store`` holds the objects by (namespace, name); a consumer that keeps its own digest of them
(the webhook's cache) passes ``keep_objects=False`` so every object is not held twice. Callbacks
run in the event loop and must not block. All waiting goes through ``clock``, so tests drive
resync and backoff without real sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Protocol

from kvnuma.kube.backoff import Backoff
from kvnuma.kube.client import KubeClient, WatchEvent
from kvnuma.kube.clock import Clock, SystemClock
from kvnuma.kube.errors import ApiError, KubeError, TransportError
from kvnuma.kube.resources import Resource

__all__ = ["Reflector", "Replacement"]

EventCallback = Callable[[str, dict[str, Any]], None]
ReplaceCallback = Callable[[list[dict[str, Any]]], None]
Key = tuple[str, str]

# answers that say "this server does not do watch-list" (unknown or forbidden parameter)
_NO_WATCH_LIST = frozenset({400, 403, 405, 406, 415, 422, 501})


class Replacement(Protocol):
    """New state built beside the current one while a list is read."""

    def add(self, objects: list[dict[str, Any]]) -> None: ...
    def commit(self) -> None: ...


class _WatchListUnsupported(Exception):
    pass


def _key(obj: dict[str, Any]) -> Key:
    meta = obj.get("metadata", {})
    return (str(meta.get("namespace", "")), str(meta.get("name", "")))


class _Collect:
    """The default replacement: the whole list to ``on_replace`` and, with a store, a new store."""

    def __init__(self, reflector: Reflector) -> None:
        self._reflector = reflector
        self._objects: list[dict[str, Any]] = []

    def add(self, objects: list[dict[str, Any]]) -> None:
        self._objects.extend(objects)

    def commit(self) -> None:
        self._reflector.on_replace(self._objects)


class Reflector:
    def __init__(
        self,
        client: KubeClient,
        resource: Resource,
        *,
        namespace: str | None = None,
        on_event: EventCallback | None = None,
        on_replace: ReplaceCallback | None = None,
        replacement: Callable[[], Replacement] | None = None,
        on_resync: Callable[[], None] | None = None,
        resync_seconds: float = 300.0,
        watch_timeout_seconds: int = 240,
        backoff: Backoff | None = None,
        on_error: Callable[[KubeError], None] | None = None,
        keep_objects: bool = True,
        page_size: int | None = 500,
        relist_page_size: int | None = None,
        metadata_only: bool = False,
        watch_list: bool = False,
        step_objects: int = 100,
        relist_pause: float = 0.0,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.on_event = on_event or (lambda _type, _obj: None)
        self.on_replace = on_replace or (lambda _objs: None)
        self.on_error = on_error or (lambda _error: None)
        self.on_resync = on_resync or (lambda: None)
        self._replacement = replacement or (lambda: _Collect(self))
        self.resync_seconds = resync_seconds
        self.watch_timeout_seconds = watch_timeout_seconds
        self.backoff = backoff or Backoff()
        self.keep_objects = keep_objects
        self.page_size = page_size
        self.relist_page_size = relist_page_size if relist_page_size is not None else page_size
        self.metadata_only = metadata_only
        self.watch_list = watch_list
        self.step_objects = max(1, step_objects)
        self.relist_pause = max(0.0, relist_pause)
        self.clock: Clock = clock or SystemClock()
        self.store: dict[Key, dict[str, Any]] = {}
        self.resource_version = ""
        self.synced = asyncio.Event()
        self.lists = 0  # complete lists (paginated or watch-list)
        self.pages = 0  # list pages read
        self.watches = 0
        self.resyncs = 0
        self.watch_list_supported: bool | None = None  # None: not tried yet
        self._streamed = False  # a watch delivered an event or bookmark since the last list
        self._expired_in_a_row = 0

    def get(self, name: str, namespace: str = "") -> dict[str, Any] | None:
        return self.store.get((namespace, name))

    # --- the loop -------------------------------------------------------------------------
    async def run(self) -> None:
        """Run until cancelled; never raises a ``KubeError``."""
        resync = asyncio.create_task(self._resync_loop(), name=f"resync-{self.resource.plural}")
        try:
            while True:
                try:
                    if self.watch_list and self.watch_list_supported is not False:
                        try:
                            await self._watch_list()
                        except _WatchListUnsupported:
                            self.watch_list_supported = False
                            continue
                    else:
                        await self._list()
                    await self._watch()
                except KubeError as error:
                    self.on_error(error)
                    if not self._relist_at_once(error):
                        retry_after = error.retry_after if isinstance(error, ApiError) else None
                        await self.clock.sleep(self.backoff.next_delay(retry_after))
        finally:
            resync.cancel()

    def _relist_at_once(self, error: KubeError) -> bool:
        if isinstance(error, ApiError) and error.code == 410:
            self._expired_in_a_row += 1
            return self._expired_in_a_row == 1
        self._expired_in_a_row = 0
        return error.kind == "disconnected" and self._streamed

    async def _resync_loop(self) -> None:
        if self.resync_seconds <= 0:
            return
        await self.synced.wait()
        while True:
            await self.clock.sleep(self.resync_seconds)
            self.resyncs += 1
            for obj in list(self.store.values()):
                self.on_event("SYNC", obj)
            self.on_resync()

    # --- lists ----------------------------------------------------------------------------
    def _begin(self) -> tuple[Replacement, dict[Key, dict[str, Any]] | None]:
        return self._replacement(), ({} if self.keep_objects else None)

    async def _feed(
        self, replacement: Replacement, store: dict[Key, dict[str, Any]] | None, items: list[dict[str, Any]]
    ) -> None:
        step = self.step_objects
        # while a complete state serves, each step waits ``relist_pause`` first: a yield to ready
        # callbacks alone (sleep(0)) would let the next step run before each hop of a request
        # that arrived meanwhile; a timer lets the request's hops all run before the next step
        pause = self.relist_pause if self.synced.is_set() else 0.0
        for start in range(0, len(items), step):
            await asyncio.sleep(pause)  # let admission requests in between steps
            chunk = items[start : start + step]
            if store is not None:
                for obj in chunk:
                    store[_key(obj)] = obj
            replacement.add(chunk)

    def _commit(
        self, replacement: Replacement, store: dict[Key, dict[str, Any]] | None, resource_version: str
    ) -> None:
        if store is not None:
            self.store = store
        self.resource_version = resource_version
        replacement.commit()
        self.lists += 1
        self.backoff.reset()
        self._expired_in_a_row = 0
        self._streamed = False
        self.synced.set()

    async def _list(self) -> None:
        replacement, store = self._begin()
        token, resource_version = "", ""
        # while nothing is served from this state yet, big pages; after, small ones (each page is
        # decoded in one step on the event loop)
        limit = self.relist_page_size if self.synced.is_set() else self.page_size
        while True:
            page = await self.client.list_page(
                self.resource,
                self.namespace,
                limit=limit,
                continue_token=token,
                metadata_only=self.metadata_only,
            )
            self.pages += 1
            resource_version = page.resource_version
            token = page.continue_token
            await self._feed(replacement, store, page.items)
            del page
            if not token:
                break
        self._commit(replacement, store, resource_version)

    async def _watch_list(self) -> None:
        """The streaming list: ADDED events into a replacement until the end bookmark, then the
        same stream goes on as the watch."""
        replacement, store = self._begin()
        batch: list[dict[str, Any]] = []
        done = False
        stream = self.client.watch(
            self.resource,
            namespace=self.namespace,
            timeout_seconds=self.watch_timeout_seconds,
            metadata_only=self.metadata_only,
            send_initial_events=True,
        )
        try:
            async with contextlib.aclosing(stream):
                async for event in stream:
                    if done:
                        self._streamed = True
                        self._apply(event)
                        continue
                    if event.initial_events_end:
                        await self._feed(replacement, store, batch)
                        batch = []
                        self.watch_list_supported = True
                        self._commit(replacement, store, event.resource_version)
                        done = True
                    elif event.type == "ADDED":
                        batch.append(event.object)
                        if len(batch) >= self.step_objects:
                            await self._feed(replacement, store, batch)
                            batch = []
                            await asyncio.sleep(0)
                    else:  # a plain bookmark or a change before the end: the parameter was ignored
                        raise _WatchListUnsupported
        except ApiError as error:
            if not done and error.code in _NO_WATCH_LIST:
                self.on_error(error)
                raise _WatchListUnsupported from error
            raise
        if not done:
            raise TransportError("disconnected", "watch-list ended before its initial events did")
        self.watches += 1

    # --- watches --------------------------------------------------------------------------
    def _apply(self, event: WatchEvent) -> None:
        if event.resource_version:
            self.resource_version = event.resource_version
        if event.type == "BOOKMARK":
            return
        if self.keep_objects and event.type == "DELETED":
            self.store.pop(_key(event.object), None)
        elif self.keep_objects:
            self.store[_key(event.object)] = event.object
        self.on_event(event.type, event.object)

    async def _watch(self) -> None:
        while True:
            self.watches += 1
            stream = self.client.watch(
                self.resource,
                namespace=self.namespace,
                resource_version=self.resource_version,
                timeout_seconds=self.watch_timeout_seconds,
                metadata_only=self.metadata_only,
            )
            async for event in stream:
                self._streamed = True
                self._apply(event)
