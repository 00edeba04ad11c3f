"""The API test server on its own thread, for synchronous real clients (kubectl, the official
``kubernetes`` Python client) that block the calling thread.

    with threaded_server(tmp_path) as api:
        api.kubeconfig            # a kubeconfig file pointing at the server (context "kubeapi-test")
        api.call(lambda s: s.put_object(...))   # runs on the server's loop, returns the result
        api.server                # the KubeApiServer (read its state through ``call``)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from kubeapi.server import KubeApiServer

__all__ = ["ThreadedServer", "threaded_server"]

T = TypeVar("T")


@dataclass
class ThreadedServer:
    server: KubeApiServer
    loop: asyncio.AbstractEventLoop
    kubeconfig: Path

    @property
    def url(self) -> str:
        return self.server.url

    def call(self, action: Callable[[KubeApiServer], T]) -> T:
        """Run ``action(server)`` on the server's event loop (its state is not thread-safe)."""

        async def run() -> T:
            return action(self.server)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=30)


def write_kubeconfig(path: Path, url: str) -> Path:
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kubeapi-test", "cluster": {"server": url}}],
        "users": [{"name": "tester", "user": {"token": "test-token"}}],
        "contexts": [
            {
                "name": "kubeapi-test",
                "context": {"cluster": "kubeapi-test", "user": "tester", "namespace": "default"},
            }
        ],
        "current-context": "kubeapi-test",
    }
    path.write_text(yaml.safe_dump(config))
    return path


@contextmanager
def threaded_server(directory: Path, **options: Any) -> Iterator[ThreadedServer]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="kubeapi-test-server", daemon=True)
    thread.start()
    server = KubeApiServer(**options)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=30)
    try:
        yield ThreadedServer(server, loop, write_kubeconfig(directory / "kubeconfig", server.url))
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
