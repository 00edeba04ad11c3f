"""The agent's NodeResourceTopology step: read the kubelet, build, create or update on change.

read podresources (``Agent.read_kubelet``)
    fails -> no NRT this cycle, the last object stays; nrt-not-published log line,
    kvnuma_agent_nrt_errors_total{kind="podresources"} + 1, kvnuma_agent_nrt_published 0,
    /healthz "nrt" says why (the agent stays healthy: restarting it would not help)
read the topology-manager settings (``Agent.topology_manager``; logged when they change)
build (kvnuma.topology.nrt.build_nrt); a contradiction -> kind="build", nothing sent
GET the object: 404 -> POST it; there and different (zones, attributes, owner) -> PUT it
with the resourceVersion read (other metadata kept); the same -> nothing sent
    409/429/5xx/refused/timeout -> backoff, GET again (up to ``max_attempts``)
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kvnuma.errors import KvnumaError
from kvnuma.kube.errors import ApiError
from kvnuma.kube.resources import NODE_RESOURCE_TOPOLOGIES, NODES
from kvnuma.model.topology import HostTopology
from kvnuma.topology.nrt import TopologyManager, build_nrt

if TYPE_CHECKING:
    from kvnuma.agent.core import Agent

__all__ = ["NrtResult", "differs", "publish_nrt"]

_COMPARED = ("zones", "attributes")
_NO_CRD = (
    "the API server has no noderesourcetopologies.topology.node.k8s.io/v1alpha2: install the "
    "NodeResourceTopology CRD (NFD, the NUMA Resources Operator, or noderesourcetopology-api's "
    "manifests/crd.yaml)"
)


@dataclass(frozen=True)
class NrtResult:
    """What the NRT step did: ``written`` is "created", "updated" or "" (unchanged or failed)."""

    ok: bool
    written: str = ""
    reason: str = ""


def differs(current: dict[str, Any], want: dict[str, Any]) -> bool:
    """True when the stored object is not what we would write (zones, attributes, our owner)."""
    if any(current.get(key) != want.get(key) for key in _COMPARED):
        return True
    owners = current.get("metadata", {}).get("ownerReferences") or []
    return bool(owners != want["metadata"]["ownerReferences"])


def _failed(agent: Agent, kind: str, reason: str, **fields: Any) -> NrtResult:
    agent.metrics.nrt_errors.labels(kind).inc()
    agent.metrics.nrt_published.set(0)
    agent.nrt_state = f"not published: {reason}"
    agent.log.error(
        "nrt-not-published", kind=kind, reason=reason, keeping=agent.last_nrt is not None, **fields
    )
    return NrtResult(False, reason=reason)


async def publish_nrt(agent: Agent, topology: HostTopology, field_manager: str) -> NrtResult:
    if agent.read_kubelet is None:
        return _failed(agent, "podresources", "no podresources reader configured")
    try:
        kubelet = await asyncio.to_thread(agent.read_kubelet)
    except KvnumaError as error:
        return _failed(agent, "podresources", f"kubelet podresources unreadable: {error.one_line()}")
    except Exception as error:  # OS trouble the reader did not name: still no guess
        return _failed(
            agent, "podresources", f"kubelet podresources unreadable: {type(error).__name__}: {error}"
        )
    manager, note = agent.topology_manager() if agent.topology_manager else (TopologyManager(), "")
    if note and note != agent.manager_note:
        level = agent.log.info if manager.policy is not None else agent.log.warning
        level("kubelet-config", note=note)
        agent.manager_note = note

    client = agent.client
    assert client is not None
    name = agent.settings.node_name

    async def attempt(n: int) -> NrtResult:
        if agent.node_uid is None:
            node = await client.get(NODES, name)
            agent.node_uid = str(node.get("metadata", {}).get("uid") or "") or None
        try:
            want = build_nrt(
                topology, node_name=name, node_uid=agent.node_uid or "", kubelet=kubelet, manager=manager
            )
        except KvnumaError as error:
            return _failed(agent, "build", error.one_line())
        written = await _write(client, want, field_manager)
        agent.last_nrt = want
        agent.metrics.nrt_published.set(1)
        agent.metrics.nrt_last_publish.set(time.time())
        if written:
            agent.metrics.nrt_writes.labels(written).inc()
            agent.log.info(f"nrt-{written}", zones=len(want["zones"]), attempt=n)
        else:
            agent.log.info("nrt-unchanged")
        agent.nrt_state = "published" if written else "published (unchanged)"
        return NrtResult(True, written)

    outcome = await agent.retrying(attempt, errors=agent.metrics.nrt_errors, event="nrt-publish")
    if isinstance(outcome, NrtResult):
        return outcome
    if outcome is None:
        return NrtResult(False, reason="NRT publish failed: no attempts")
    agent.metrics.nrt_published.set(0)
    agent.nrt_state = f"not published: {outcome}"
    return NrtResult(False, reason=f"NRT publish failed: {outcome}")


async def _write(client: Any, want: dict[str, Any], field_manager: str) -> str:
    """Create, update or leave the object; which of "created", "updated", ""."""
    try:
        current = await client.get(NODE_RESOURCE_TOPOLOGIES, want["metadata"]["name"])
    except ApiError as error:
        if error.code != 404:
            raise
        try:
            await client.create(NODE_RESOURCE_TOPOLOGIES, want, field_manager=field_manager)
        except ApiError as refused:
            if refused.code == 404:  # no such resource at all, not just no object
                raise ApiError(404, refused.reason, _NO_CRD) from refused
            raise
        return "created"
    if not differs(current, want):
        return ""
    body = {key: value for key, value in want.items() if key != "metadata"}
    metadata = dict(current.get("metadata") or {})
    metadata["ownerReferences"] = want["metadata"]["ownerReferences"]
    body["metadata"] = metadata  # keeps the resourceVersion read: a stale one is a 409
    await client.replace(NODE_RESOURCE_TOPOLOGIES, body, field_manager=field_manager)
    return "updated"
