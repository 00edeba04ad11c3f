"""The webhook process: the aiohttp app over TLS, plus its background loops.

WebhookServer(state, cert, key, ...).start()  -> binds, loads the source, starts the loops
  - certificate reload: polls the cert/key files, reloads into the live SSLContext
  - the source: a folder reloaded when its files change, or list-and-watch on the API
.stop()                                         -> closes the listener and the loops
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from kvnuma.errors import InputError
from kvnuma.webhook.file_source import FolderWatch, load_folder
from kvnuma.webhook.handlers import WebhookState, build_app
from kvnuma.webhook.tls import CertReloader, server_context

__all__ = ["SourceLoop", "WebhookServer", "folder_source"]

_log = logging.getLogger("kvnuma.webhook")

SourceLoop = Callable[[WebhookState], Awaitable[None]]
"""A coroutine that keeps ``state.cache`` filled until cancelled."""


def folder_source(folder: Path, *, poll_seconds: float = 2.0) -> SourceLoop:
    async def run(state: WebhookState) -> None:
        watch = FolderWatch(folder)
        _load(folder, state, first=True)
        while True:
            await asyncio.sleep(poll_seconds)
            if watch.changed():
                _load(folder, state, first=False)

    return run


def _load(folder: Path, state: WebhookState, *, first: bool) -> None:
    """Load the folder; on any failure keep the last good cluster and log one line."""
    try:
        nodes, kubevirts = load_folder(folder, state.cache)
    except InputError as error:
        kept = "serving without a cluster" if first else "keeping the last good cluster"
        _log.warning("cluster folder not loaded (%s): %s", kept, error.one_line())
    except Exception as error:  # one line, never a traceback from the background loop
        _log.error(
            "cluster folder not loaded: %s: %s", type(error).__name__, " ".join(str(error).split())[:200]
        )
    else:
        _log.info("cluster folder loaded: %d nodes, %d KubeVirt CRs", nodes, kubevirts)


class WebhookServer:
    def __init__(
        self,
        state: WebhookState,
        *,
        cert: Path,
        key: Path,
        host: str = "0.0.0.0",
        port: int = 8443,
        source: SourceLoop | None = None,
        cert_poll_seconds: float = 5.0,
        app: web.Application | None = None,
    ) -> None:
        self.state = state
        self.context = server_context(cert, key)
        self.reloader = CertReloader(self.context, cert, key)
        self.app = app if app is not None else build_app(state)
        self._host = host
        self._port = port
        self._source = source
        self._cert_poll = cert_poll_seconds
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.port = 0

    async def start(self) -> int:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, ssl_context=self.context, backlog=512)
        await site.start()
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else self._port
        self._tasks.append(asyncio.create_task(self._reload_certs(), name="cert-reload"))
        if self._source is not None:
            self._tasks.append(asyncio.create_task(self._run_source(self._source), name="source"))
        return self.port

    async def _run_source(self, source: SourceLoop) -> None:
        try:
            await source(self.state)
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("cluster source stopped")
            raise

    async def _reload_certs(self) -> None:
        while True:
            await asyncio.sleep(self._cert_poll)
            if self.reloader.check():
                self.state.metrics.cert_reloads.inc()
                _log.info("serving certificate reloaded")
            elif self.reloader.last_error:
                _log.warning("certificate not reloaded yet: %s", self.reloader.last_error)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
