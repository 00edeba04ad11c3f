"""A small async Kubernetes client on aiohttp: get, list, watch, patch (merge, JSON, apply).

Objects are plain JSON dicts. Every failure is a ``KubeError``: ``ApiError`` when the server
answered with an error Status (a watch ``ERROR`` event included), ``TransportError`` when it
did not answer (refused, timed out, stream cut).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
import orjson

from kvnuma.kube.config import ClusterConfig
from kvnuma.kube.errors import ApiError, TransportError
from kvnuma.kube.resources import Resource

__all__ = ["PATCH_TYPES", "KubeClient", "ObjectList", "WatchEvent"]

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}
APPLY_TYPE = "application/apply-patch+yaml"


@dataclass(frozen=True)
class ObjectList:
    items: list[dict[str, Any]]
    resource_version: str


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK
    object: dict[str, Any]

    @property
    def resource_version(self) -> str:
        return str(self.object.get("metadata", {}).get("resourceVersion", ""))


class KubeClient:
    def __init__(self, config: ClusterConfig, *, user_agent: str = "kvnuma", timeout: float = 10.0) -> None:
        self.config = config
        self.timeout = timeout
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None

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

    def _headers(self, content_type: str | None = None) -> dict[str, str]:
        headers = {}
        token = self.config.bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> Any:
        try:
            async with self._client().request(
                method,
                self.config.server + path,
                params=params,
                data=body,
                headers=self._headers(content_type),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                payload = await response.read()
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
        body = _object(await self.request("GET", res.path(None, namespace)))
        items = [item for item in body.get("items") or [] if isinstance(item, dict)]
        return ObjectList(items, str(body.get("metadata", {}).get("resourceVersion", "")))

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
        params = {"fieldManager": field_manager} if field_manager else None
        return _object(
            await self.request(
                "PATCH",
                res.path(name, namespace),
                params=params,
                body=orjson.dumps(patch),
                content_type=PATCH_TYPES[patch_type],
            )
        )

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
        params = {"fieldManager": field_manager}
        if force:
            params["force"] = "true"
        name = obj["metadata"]["name"]
        return _object(
            await self.request(
                "PATCH",
                res.path(name, namespace),
                params=params,
                body=orjson.dumps(obj),
                content_type=APPLY_TYPE,
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
    ) -> AsyncIterator[WatchEvent]:
        """Events until the server ends the stream; an ERROR event raises ``ApiError``."""
        params = {"watch": "true", "timeoutSeconds": str(timeout_seconds)}
        if resource_version:
            params["resourceVersion"] = resource_version
        if bookmarks:
            params["allowWatchBookmarks"] = "true"
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout, sock_read=timeout_seconds + 30)
        try:
            async with self._client().get(
                self.config.server + res.path(None, namespace),
                params=params,
                headers=self._headers(),
                timeout=timeout,
            ) as response:
                if response.status >= 400:
                    payload = await response.read()
                    raise ApiError.from_status(
                        response.status, _decode(payload), response.headers.get("Retry-After")
                    )
                while True:
                    line = await response.content.readline()
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
