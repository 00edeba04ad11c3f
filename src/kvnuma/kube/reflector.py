"""A generic list-and-watch cache (client-go's Reflector, in small).

    LIST  -> replace the store, ``on_replace(objects)``, remember the list's resourceVersion
    WATCH from that version with bookmarks -> ``on_event(type, object)`` per change;
          bookmarks and events advance the version; a stream the server ends normally
          (its timeout) is resumed from the last version
    410 Gone (HTTP or ERROR event), a cut stream -> LIST again and replace (restarting the watch
          alone could miss deletions); a stream cut before it delivered anything backs off
          first, so a server or proxy that drops every watch is not hammered
    every ``resync_seconds`` -> LIST again and replace, as a safety net
    other errors -> capped exponential backoff with jitter, then LIST again

``synced`` is set after the first successful LIST (a server's readiness). ``store`` holds the
objects by (namespace, name); a consumer that keeps its own digest of them (the webhook's cache)
passes ``keep_objects=False`` so every object is not held twice. Callbacks run in the event loop
and must not block.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from kvnuma.kube.backoff import Backoff
from kvnuma.kube.client import KubeClient
from kvnuma.kube.errors import ApiError, KubeError
from kvnuma.kube.resources import Resource

__all__ = ["Reflector"]

EventCallback = Callable[[str, dict[str, Any]], None]
ReplaceCallback = Callable[[list[dict[str, Any]]], None]


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata", {})
    return (str(meta.get("namespace", "")), str(meta.get("name", "")))


class Reflector:
    def __init__(
        self,
        client: KubeClient,
        resource: Resource,
        *,
        namespace: str | None = None,
        on_event: EventCallback | None = None,
        on_replace: ReplaceCallback | None = None,
        resync_seconds: float = 300.0,
        watch_timeout_seconds: int = 240,
        backoff: Backoff | None = None,
        on_error: Callable[[KubeError], None] | None = None,
        keep_objects: bool = True,
    ) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.on_event = on_event or (lambda _type, _obj: None)
        self.on_replace = on_replace or (lambda _objs: None)
        self.on_error = on_error or (lambda _error: None)
        self.resync_seconds = resync_seconds
        self.watch_timeout_seconds = watch_timeout_seconds
        self.backoff = backoff or Backoff()
        self.keep_objects = keep_objects
        self.store: dict[tuple[str, str], dict[str, Any]] = {}
        self.resource_version = ""
        self.synced = asyncio.Event()
        self.lists = 0
        self.watches = 0
        self._streamed = False  # a watch delivered an event or bookmark since the last LIST

    def get(self, name: str, namespace: str = "") -> dict[str, Any] | None:
        return self.store.get((namespace, name))

    async def run(self) -> None:
        """Run until cancelled; never raises a ``KubeError``."""
        while True:
            try:
                await self._list()
                await self._watch_until_resync()
            except KubeError as error:
                self.on_error(error)
                expired = isinstance(error, ApiError) and error.code == 410
                if not expired and not (error.kind == "disconnected" and self._streamed):
                    retry_after = error.retry_after if isinstance(error, ApiError) else None
                    await asyncio.sleep(self.backoff.next_delay(retry_after))

    async def _list(self) -> None:
        listing = await self.client.list(self.resource, self.namespace)
        self.lists += 1
        if self.keep_objects:
            self.store = {_key(obj): obj for obj in listing.items}
        self.resource_version = listing.resource_version
        self.backoff.reset()
        self._streamed = False
        self.on_replace(list(self.store.values()) if self.keep_objects else listing.items)
        self.synced.set()

    async def _watch_until_resync(self) -> None:
        deadline = time.monotonic() + self.resync_seconds
        while (remaining := deadline - time.monotonic()) > 0:
            self.watches += 1
            timeout = max(1, min(self.watch_timeout_seconds, int(remaining) + 1))
            stream = self.client.watch(
                self.resource,
                namespace=self.namespace,
                resource_version=self.resource_version,
                timeout_seconds=timeout,
            )
            async for event in stream:
                self._streamed = True
                if event.resource_version:
                    self.resource_version = event.resource_version
                if event.type == "BOOKMARK":
                    continue
                if self.keep_objects and event.type == "DELETED":
                    self.store.pop(_key(event.object), None)
                elif self.keep_objects:
                    self.store[_key(event.object)] = event.object
                self.on_event(event.type, event.object)
                if time.monotonic() > deadline:
                    break
