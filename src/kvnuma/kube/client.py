"""A small async Kubernetes client on aiohttp: get, list, watch, patch (merge, JSON, apply).

Objects are plain JSON dicts. ``list_page`` asks for one page (``limit``/``continue``) and, with
``metadata_only``, for ``PartialObjectMetadataList`` (``watch`` likewise for
``PartialObjectMetadata``); a server that cannot serve metadata-only answers the full objects
(``application/json`` is the second choice in ``Accept``, as client-go's metadata client sends).
``watch(send_initial_events=True)`` is the streaming watch-list. ``bytes_received`` counts the
bodies read, for metrics and benchmarks. Every failure is a ``KubeError``: ``ApiError`` when the server
answered with an error Status (a watch ``ERROR`` event included), ``TransportError`` when it
did not answer (refused, timed out, stream cut).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
import orjson
from aiohttp.http_exceptions import HttpProcessingError

from kvnuma.kube.config import ClusterConfig
from kvnuma.kube.errors import ApiError, TransportError
from kvnuma.kube.resources import Resource

__all__ = ["INITIAL_EVENTS_END", "PATCH_TYPES", "KubeClient", "ListPage", "ObjectList", "WatchEvent"]

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}
APPLY_TYPE = "application/apply-patch+yaml"
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, application/json"
METADATA_WATCH = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json"
INITIAL_EVENTS_END = "k8s.io/initial-events-end"
MAX_WATCH_LINE = 4 << 20  # one watch event (one object) larger than this is a bad response


@dataclass(frozen=True)
class ObjectList:
    items: list[dict[str, Any]]
    resource_version: str


@dataclass(frozen=True)
class ListPage:
    items: list[dict[str, Any]]
    resource_version: str
    continue_token: str  # "" on the last page


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK
    object: dict[str, Any]

    @property
    def resource_version(self) -> str:
        return str(self.object.get("metadata", {}).get("resourceVersion", ""))

    @property
    def initial_events_end(self) -> bool:
        """The bookmark that ends a watch-list's initial events."""
        annotations = self.object.get("metadata", {}).get("annotations") or {}
        return self.type == "BOOKMARK" and annotations.get(INITIAL_EVENTS_END) == "true"


class KubeClient:
    def __init__(self, config: ClusterConfig, *, user_agent: str = "kvnuma", timeout: float = 10.0) -> None:
        self.config = config
        self.timeout = timeout
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None
        self.bytes_received = 0

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=self.config.ssl_context() or False)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self._user_agent, "Accept": "application/json"}
            )
        return self._session

    def _headers(self, content_type: str | None = None, accept: str | None = None) -> dict[str, str]:
        headers = {}
        token = self.config.bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if content_type:
            headers["Content-Type"] = content_type
        if accept:
            headers["Accept"] = accept
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        accept: str | None = None,
    ) -> Any:
        try:
            async with self._client().request(
                method,
                self.config.server + path,
                params=params,
                data=body,
                headers=self._headers(content_type, accept),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                payload = await response.read()
                self.bytes_received += len(payload)
                if response.status >= 400:
                    raise ApiError.from_status(
                        response.status, _decode(payload), response.headers.get("Retry-After")
                    )
                return _decode(payload)
        except aiohttp.ClientConnectorError as error:
            raise TransportError("refused", str(error)) from error
        except TimeoutError as error:
            raise TransportError("timeout", f"{method} {path} took over {self.timeout}s") from error
        except aiohttp.ClientError as error:
            raise TransportError("disconnected", str(error)) from error

    # --- verbs --------------------------------------------------------------------------
    async def get(self, res: Resource, name: str, namespace: str | None = None) -> dict[str, Any]:
        return _object(await self.request("GET", res.path(name, namespace)))

    async def list(self, res: Resource, namespace: str | None = None) -> ObjectList:
        """Every object in one unpaginated request (small collections only)."""
        page = await self.list_page(res, namespace)
        return ObjectList(page.items, page.resource_version)

    async def list_page(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        limit: int | None = None,
        continue_token: str = "",
        metadata_only: bool = False,
    ) -> ListPage:
        """One page of a list, under the client's per-request timeout. A continue token that
        expired raises ``ApiError`` 410; the API test server answers 400 to a token from another
        list (kube-apiserver would resume that list)."""
        params: dict[str, str] = {}
        if limit is not None:
            params["limit"] = str(limit)
        if continue_token:
            params["continue"] = continue_token
        body = _object(
            await self.request(
                "GET",
                res.path(None, namespace),
                params=params or None,
                accept=METADATA_LIST if metadata_only else None,
            )
        )
        metadata = body.get("metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        items = [item for item in body.get("items") or [] if isinstance(item, dict)]
        return ListPage(
            items, str(metadata.get("resourceVersion") or ""), str(metadata.get("continue") or "")
        )

    async def create(
        self,
        res: Resource,
        obj: dict[str, Any],
        *,
        namespace: str | None = None,
        field_manager: str | None = None,
    ) -> dict[str, Any]:
        """POST a new object; 409 AlreadyExists when it is there."""
        return await self._send("POST", res.path(None, namespace), obj, "application/json", field_manager)

    async def replace(
        self,
        res: Resource,
        obj: dict[str, Any],
        *,
        namespace: str | None = None,
        field_manager: str | None = None,
    ) -> dict[str, Any]:
        """PUT the whole object; with ``metadata.resourceVersion`` set, 409 Conflict when it is stale."""
        path = res.path(obj["metadata"]["name"], namespace)
        return await self._send("PUT", path, obj, "application/json", field_manager)

    async def patch(
        self,
        res: Resource,
        name: str,
        patch: Any,
        *,
        patch_type: str = "merge",
        namespace: str | None = None,
        field_manager: str | None = None,
    ) -> dict[str, Any]:
        path = res.path(name, namespace)
        return await self._send("PATCH", path, patch, PATCH_TYPES[patch_type], field_manager)

    async def apply(
        self,
        res: Resource,
        obj: dict[str, Any],
        *,
        field_manager: str,
        force: bool = False,
        namespace: str | None = None,
    ) -> dict[str, Any]:
        """Server-side apply; JSON is YAML, so the body is sent as JSON."""
        path = res.path(obj["metadata"]["name"], namespace)
        return await self._send("PATCH", path, obj, APPLY_TYPE, field_manager, force=force)

    async def _send(
        self,
        method: str,
        path: str,
        body: Any,
        content_type: str,
        field_manager: str | None,
        *,
        force: bool = False,
    ) -> dict[str, Any]:
        """One write: ``body`` as JSON, the field manager (and ``force``) as parameters; the object
        the server answers."""
        params = {"fieldManager": field_manager} if field_manager else {}
        if force:
            params["force"] = "true"
        return _object(
            await self.request(
                method, path, params=params or None, body=orjson.dumps(body), content_type=content_type
            )
        )

    async def watch(
        self,
        res: Resource,
        *,
        namespace: str | None = None,
        resource_version: str | None = None,
        bookmarks: bool = True,
        timeout_seconds: int = 300,
        metadata_only: bool = False,
        send_initial_events: bool = False,
    ) -> AsyncGenerator[WatchEvent, None]:
        """Events until the server ends the stream; an ERROR event raises ``ApiError``.

        ``send_initial_events``: the streaming watch-list (``sendInitialEvents=true``,
        ``resourceVersionMatch=NotOlderThan``): ADDED for every object, then a bookmark
        annotated ``k8s.io/initial-events-end``, then changes."""
        params = {"watch": "true", "timeoutSeconds": str(timeout_seconds)}
        if resource_version:
            params["resourceVersion"] = resource_version
        if bookmarks or send_initial_events:
            params["allowWatchBookmarks"] = "true"
        if send_initial_events:
            params["sendInitialEvents"] = "true"
            params["resourceVersionMatch"] = "NotOlderThan"
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout, sock_read=timeout_seconds + 30)
        try:
            async with self._client().get(
                self.config.server + res.path(None, namespace),
                params=params,
                headers=self._headers(accept=METADATA_WATCH if metadata_only else None),
                timeout=timeout,
            ) as response:
                if response.status >= 400:
                    payload = await response.read()
                    self.bytes_received += len(payload)
                    raise ApiError.from_status(
                        response.status, _decode(payload), response.headers.get("Retry-After")
                    )
                while True:
                    try:
                        line = await response.content.readline(max_line_length=MAX_WATCH_LINE)
                    except HttpProcessingError as error:  # one event beyond the line limit
                        raise TransportError(
                            "bad-response", f"watch event over {MAX_WATCH_LINE} bytes"
                        ) from error
                    self.bytes_received += len(line)
                    if not line:
                        return
                    if not line.strip():
                        continue
                    event = _object(_decode(line))
                    kind, obj = str(event.get("type", "")), event.get("object")
                    if kind == "ERROR":
                        raise ApiError.from_status(int((obj or {}).get("code") or 500), obj)
                    if isinstance(obj, dict):
                        yield WatchEvent(kind, obj)
        except aiohttp.ClientConnectorError as error:
            raise TransportError("refused", str(error)) from error
        except TimeoutError as error:
            raise TransportError("timeout", "watch stream went silent") from error
        except aiohttp.ClientError as error:
            raise TransportError("disconnected", str(error)) from error


def _decode(payload: bytes) -> Any:
    if not payload:
        return None
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return {"message": payload[:200].decode("utf-8", "replace")}


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TransportError("bad-response", f"expected a JSON object, got {type(value).__name__}")
    return value
