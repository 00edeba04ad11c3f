"""The agent's loop: discover, compare with the Node, patch only on change, retry with backoff.

One cycle:
    discover (injected ``Callable[[], HostTopology]``) + read the realtime sysctl
        any failure (a typed error, an OS or decoding error, anything else) -> publish nothing
        new and erase nothing (the Node keeps the last good values), /healthz unhealthy with
        the reason, kvnuma_agent_publish_errors_total{kind="discovery"} + 1 and
        kvnuma_agent_host_readable 0; the next good read recovers
    write the capabilities XML atomically (when a path and a renderer are given)
    GET the Node, compute the merge patch of our keys, PATCH only when it is not empty
        409/429/5xx/refused/timeout -> capped exponential backoff with jitter, then again
        (up to ``max_attempts``; the next cycle starts over); nothing is ever raised out
    with ``publish_nrt``: the NodeResourceTopology object (kvnuma.agent.nrt_publish)
        read the kubelet's podresources socket; unreadable -> publish no NRT at all (available
        is never guessed), keep the last object, say so (log, metric, /healthz "nrt" field)
        build it from this cycle's discovery; GET it; create when absent, PUT only when changed
        (a stale resourceVersion is a 409: GET again after backoff)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client import Counter

from kvnuma.agent.desired import Published, desired, node_patch
from kvnuma.agent.hostfiles import read_realtime, write_atomically
from kvnuma.agent.logs import JsonLog
from kvnuma.agent.metrics import AgentMetrics
from kvnuma.agent.nrt_publish import NrtResult, publish_nrt
from kvnuma.errors import KvnumaError
from kvnuma.kube.backoff import Backoff
from kvnuma.kube.client import KubeClient
from kvnuma.kube.errors import ApiError, KubeError
from kvnuma.kube.resources import NODES
from kvnuma.model.kubelet import KubeletResources
from kvnuma.model.topology import HostTopology
from kvnuma.topology.nrt import TopologyManager

__all__ = ["FIELD_MANAGER", "Agent", "AgentSettings", "CycleResult"]

_T = TypeVar("_T")

FIELD_MANAGER = "kvnuma-agent"


@dataclass(frozen=True)
class AgentSettings:
    node_name: str
    proc_root: Path = Path("/proc")
    capabilities_out: Path | None = None
    interval: float = 60.0
    max_attempts: int = 8
    publish_nrt: bool = False


@dataclass(frozen=True)
class CycleResult:
    ok: bool
    patch: dict[str, Any] | None = None
    reason: str = ""
    nrt: NrtResult | None = None


class Agent:
    def __init__(
        self,
        settings: AgentSettings,
        discover: Callable[[], HostTopology],
        client: KubeClient | None,
        *,
        render_capabilities: Callable[[HostTopology], str] | None = None,
        metrics: AgentMetrics | None = None,
        log: JsonLog | None = None,
        backoff: Backoff | None = None,
        read_kubelet: Callable[[], KubeletResources] | None = None,
        topology_manager: Callable[[], tuple[TopologyManager, str]] | None = None,
    ) -> None:
        self.settings = settings
        self.discover = discover
        self.client = client
        self.render_capabilities = render_capabilities
        self.metrics = metrics or AgentMetrics()
        self.log = log or JsonLog(node=settings.node_name)
        self.backoff = backoff or Backoff()
        self.last_published: Published | None = None
        self.healthy = True
        self.health_reason = "starting"
        self.wake = asyncio.Event()
        self.read_kubelet = read_kubelet
        self.topology_manager = topology_manager
        self.node_uid: str | None = None
        self.nrt_state = "not requested" if not settings.publish_nrt else "starting"
        self.last_nrt: dict[str, Any] | None = None
        self.manager_note = ""

    # --- one cycle ----------------------------------------------------------------------
    def desired_now(self) -> tuple[HostTopology, Published]:
        """Discover and decide; raises KvnumaError/OSError on an unreadable host."""
        started = time.perf_counter()
        topology = self.discover()
        self.metrics.discovery_seconds.observe(time.perf_counter() - started)
        want = desired(topology, read_realtime(self.settings.proc_root))
        if self.settings.capabilities_out is not None and self.render_capabilities is not None:
            try:
                if write_atomically(self.settings.capabilities_out, self.render_capabilities(topology)):
                    self.log.info("capabilities-written", path=str(self.settings.capabilities_out))
            except OSError as error:
                self.metrics.publish_errors.labels("capabilities").inc()
                self.log.error(
                    "capabilities-write-failed", path=str(self.settings.capabilities_out), error=str(error)
                )
        return topology, want

    async def cycle(self) -> CycleResult:
        try:
            topology, want = self.desired_now()
        except Exception as error:  # any failure to read the host: publish nothing, erase nothing
            problem = error.one_line() if isinstance(error, KvnumaError) else _unexpected(error)
            reason = f"discovery failed: {problem}"
            self.healthy, self.health_reason = False, reason
            self.metrics.publish_errors.labels("discovery").inc()
            self.metrics.healthy.set(0)
            self.log.error("discovery-failed", error=problem, keeping=_describe(self.last_published))
            if self.settings.publish_nrt:
                self.nrt_state = f"not published this cycle ({reason}); the last object stays"
                self.metrics.nrt_published.set(0)
            return CycleResult(False, reason=reason)
        self.healthy, self.health_reason = True, "ok"
        self.metrics.healthy.set(1)
        self.log.info("discovered", annotations=dict(want.annotations), labels=dict(want.labels))
        result = await self.publish(want)
        if not self.settings.publish_nrt:
            return result
        nrt = await publish_nrt(self, topology, FIELD_MANAGER)
        reason = result.reason or (nrt.reason if not nrt.ok else "")
        return CycleResult(result.ok and nrt.ok, result.patch, reason, nrt)

    async def publish(self, want: Published) -> CycleResult:
        client = self.client
        assert client is not None

        async def attempt(n: int) -> CycleResult:
            node = await client.get(NODES, self.settings.node_name)
            self.node_uid = str(node.get("metadata", {}).get("uid") or "") or None
            patch = node_patch(node, want)
            if patch is not None:
                await client.patch(
                    NODES, self.settings.node_name, patch, patch_type="merge", field_manager=FIELD_MANAGER
                )
                self.metrics.patches.inc()
                self.log.info("node-patched", patch=patch, attempt=n)
            else:
                self.log.info("node-unchanged")
            self.last_published = want
            self.metrics.last_publish.set(time.time())
            return CycleResult(True, patch)

        outcome = await self.retrying(attempt, errors=self.metrics.publish_errors, event="publish")
        if isinstance(outcome, CycleResult):
            return outcome
        return CycleResult(False, reason=f"publish failed: {outcome or 'no attempts'}")

    async def retrying(
        self, attempt: Callable[[int], Awaitable[_T]], *, errors: Counter, event: str
    ) -> _T | KubeError | None:
        """``attempt(n)`` (n = 1, 2, ...) until it returns; a retryable ``KubeError`` (409, 429,
        5xx, refused, timeout) is counted in ``errors`` by kind, logged ``<event>-retry`` and tried
        again after the backoff, up to ``max_attempts``. Otherwise the error that ended it, logged
        ``<event>-failed`` (None when ``max_attempts`` < 1)."""
        self.backoff.reset()
        for n in range(1, self.settings.max_attempts + 1):
            try:
                return await attempt(n)
            except KubeError as error:
                errors.labels(error.kind).inc()
                if not error.retryable or n == self.settings.max_attempts:
                    self.log.error(f"{event}-failed", kind=error.kind, error=str(error), attempt=n)
                    return error
                delay = self.backoff.next_delay(error.retry_after if isinstance(error, ApiError) else None)
                self.log.warning(f"{event}-retry", kind=error.kind, error=str(error), attempt=n, delay=delay)
                await asyncio.sleep(delay)
        return None

    # --- the loop -----------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Cycle every ``interval`` seconds and whenever ``wake`` is set (SIGHUP), until ``stop``."""
        while not stop.is_set():
            await self.cycle()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
            _done, pending = await asyncio.wait(
                waiters, timeout=self.settings.interval, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            if self.wake.is_set():
                self.log.info("rediscover-requested")
            self.wake.clear()


def _unexpected(error: BaseException) -> str:
    if isinstance(error, OSError):
        return f"{error.filename or 'host'}: {error.strerror or error}"
    if isinstance(error, UnicodeDecodeError):
        return f"not text ({error.reason} at byte {error.start})"
    return f"{type(error).__name__}: {' '.join(str(error).split())[:200]}"


def _describe(published: Published | None) -> dict[str, Any] | None:
    if published is None:
        return None
    return {"annotations": dict(published.annotations), "labels": dict(published.labels)}
