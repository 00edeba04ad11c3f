"""``--source kube``: list-and-watch Nodes and KubeVirt CRs into the cache.

Per resource: LIST (replace the cache's view) -> WATCH from the list's resourceVersion with
bookmarks -> on ``410 Gone`` / an ERROR event, a dropped stream past its retries, or the periodic
resync, LIST again and replace (a watch restart alone can miss deletions). Events go to the
cache's narrow sink interface (``on_replace``/``on_event``), so another reflector can drive it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import orjson

from kvnuma.webhook.handlers import WebhookState
from kvnuma.webhook.server import SourceLoop

__all__ = ["KubeEndpoint", "Sink", "kube_source", "reflect"]

_log = logging.getLogger("kvnuma.webhook")
_SA = Path("/var/run/secrets/kubernetes.io/serviceaccount")
NODES = "/api/v1/nodes"
KUBEVIRTS = "/apis/kubevirt.io/v1/kubevirts"


class Sink(Protocol):
    def on_replace(self, objects: list[Mapping[str, Any]]) -> None: ...
    def on_event(self, event_type: str, obj: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class KubeEndpoint:
    server: str
    token_file: Path | None = None
    ssl: ssl.SSLContext | bool = True

    @classmethod
    def in_cluster(cls) -> KubeEndpoint:
        host = os.environ.get("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc")
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        context = (
            ssl.create_default_context(cafile=str(_SA / "ca.crt")) if (_SA / "ca.crt").exists() else True
        )
        return cls(f"https://{host}:{port}", _SA / "token", context)

    def headers(self) -> dict[str, str]:
        if self.token_file is not None and self.token_file.exists():
            return {"Authorization": "Bearer " + self.token_file.read_text().strip()}
        return {}


class _Expired(Exception):
    pass


async def _list(
    session: aiohttp.ClientSession, endpoint: KubeEndpoint, path: str, kind: str
) -> tuple[list[Any], str]:
    async with session.get(endpoint.server + path, headers=endpoint.headers(), ssl=endpoint.ssl) as response:
        response.raise_for_status()
        body = orjson.loads(await response.read())
    items = [dict(item, kind=item.get("kind", kind)) for item in body.get("items") or []]
    return items, str(body.get("metadata", {}).get("resourceVersion", ""))


async def _watch(
    session: aiohttp.ClientSession, endpoint: KubeEndpoint, path: str, rv: str, sink: Sink, *, timeout: int
) -> str:
    params = {
        "watch": "1",
        "resourceVersion": rv,
        "allowWatchBookmarks": "true",
        "timeoutSeconds": str(timeout),
    }
    url = endpoint.server + path
    async with session.get(url, params=params, headers=endpoint.headers(), ssl=endpoint.ssl) as response:
        if response.status == 410:
            raise _Expired
        response.raise_for_status()
        async for line in response.content:
            if not line.strip():
                continue
            event = orjson.loads(line)
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise _Expired
                raise aiohttp.ClientPayloadError(f"watch error: {obj.get('message')}")
            rv = str(obj.get("metadata", {}).get("resourceVersion", rv))
            if kind != "BOOKMARK":
                sink.on_event(str(kind), obj)
    return rv


async def reflect(
    session: aiohttp.ClientSession,
    endpoint: KubeEndpoint,
    path: str,
    kind: str,
    sink: Sink,
    *,
    resync_seconds: float = 600.0,
    watch_timeout: int = 300,
    backoff: float = 1.0,
) -> None:
    """List then watch ``path`` forever (until cancelled), re-listing on 410, errors and resync."""
    while True:
        try:
            items, rv = await _list(session, endpoint, path, kind)
            sink.on_replace(items)
            listed_at = time.monotonic()
            while time.monotonic() - listed_at < resync_seconds:
                rv = await _watch(session, endpoint, path, rv, sink, timeout=watch_timeout)
        except _Expired:
            _log.info("%s: resourceVersion expired (410), re-listing", path)
        except (TimeoutError, aiohttp.ClientError, ValueError) as error:
            _log.warning("%s: %s; re-listing in %.1fs", path, error, backoff)
            await asyncio.sleep(backoff)


def kube_source(endpoint: KubeEndpoint | None = None, **options: Any) -> SourceLoop:
    async def run(state: WebhookState) -> None:
        target = endpoint or KubeEndpoint.in_cluster()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await asyncio.gather(
                reflect(session, target, NODES, "Node", state.cache.nodes, **options),
                reflect(session, target, KUBEVIRTS, "KubeVirt", state.cache.kubevirts, **options),
            )

    return run
