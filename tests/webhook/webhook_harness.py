"""A running webhook over real TLS (trustme CA) and an admission caller that plays kube-apiserver."""

from __future__ import annotations

import asyncio
import io
import shutil
import ssl
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import trustme
from kubevirt_validator import decode_patch, kubevirt_rejections

from kubeapi.patches import json_patch
from kvnuma.kube import ClusterConfig
from kvnuma.webhook.cache import ClusterCache
from kvnuma.webhook.handlers import MUTATE_PATH, WebhookState
from kvnuma.webhook.kube_source import kube_source
from kvnuma.webhook.server import SourceLoop, WebhookServer, folder_source

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def write_pair(ca: trustme.CA, folder: Path) -> tuple[Path, Path]:
    issued = ca.issue_cert("localhost", "127.0.0.1")
    cert, key = folder / "tls.crt", folder / "tls.key"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    return cert, key


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def vmi_review(vmi: dict[str, Any], *, uid: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid or str(uuid.uuid4()),
            "kind": {"group": "kubevirt.io", "version": "v1", "kind": "VirtualMachineInstance"},
            "resource": {"group": "kubevirt.io", "version": "v1", "resource": "virtualmachineinstances"},
            "namespace": "vms",
            "operation": "CREATE",
            "object": vmi,
            "dryRun": False,
        },
    }


@dataclass
class RunningWebhook:
    server: WebhookServer
    url: str
    session: aiohttp.ClientSession
    ssl: ssl.SSLContext
    ca: trustme.CA
    folder: Path

    async def post(self, body: bytes | dict[str, Any]) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"json": body}
        if isinstance(body, bytes):
            kwargs = {"data": io.BytesIO(body) if len(body) > (1 << 20) else body}
        async with self.session.post(self.url + MUTATE_PATH, ssl=self.ssl, **kwargs) as response:
            return response.status, await response.json(content_type=None)

    async def get(self, path: str) -> tuple[int, str]:
        async with self.session.get(self.url + path, ssl=self.ssl) as response:
            return response.status, await response.text()

    async def create_vmi(self, vmi: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """kube-apiserver's part: call the webhook, check the answer, apply the patch, reinvoke once
        (reinvocationPolicy IfNeeded), then run KubeVirt's admission. Returns (stored VMI, response)."""
        review = vmi_review(vmi)
        status, answer = await self.post(review)
        assert status == 200, answer
        assert answer["apiVersion"] == "admission.k8s.io/v1"
        assert answer["kind"] == "AdmissionReview"
        assert answer["response"]["uid"] == review["request"]["uid"]
        assert all(len(w) <= 120 for w in answer["response"].get("warnings", []))
        if not answer["response"]["allowed"]:
            return vmi, answer
        mutated = json_patch(vmi, decode_patch(answer))
        if mutated != vmi:
            status, again = await self.post(vmi_review(mutated))
            assert status == 200
            assert decode_patch(again) == [], "not idempotent under reinvocation"
        if not kubevirt_rejections(vmi):
            assert kubevirt_rejections(mutated) == [], (
                f"kvnuma made an admissible VMI inadmissible: {mutated}"
            )
        return mutated, answer


@asynccontextmanager
async def running_webhook(
    tmp: Path, *, source: SourceLoop | None, cache: ClusterCache | None = None, cert_poll: float = 5.0
) -> AsyncIterator[RunningWebhook]:
    ca = trustme.CA()
    cert, key = write_pair(ca, tmp)
    state = WebhookState(cache=cache or ClusterCache())
    server = WebhookServer(
        state, cert=cert, key=key, host="127.0.0.1", port=0, source=source, cert_poll_seconds=cert_poll
    )
    port = await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield RunningWebhook(server, f"https://127.0.0.1:{port}", session, client_context(ca), ca, tmp)
    finally:
        await server.stop()


async def eventually(check: Callable[[], bool]) -> None:
    """Wait (up to about 10 s) until ``check()`` holds; fail the test if it never does."""
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.01)
    assert check(), "condition not reached"


@asynccontextmanager
async def folder_webhook(tmp: Path, *, poll_seconds: float = 0.05) -> AsyncIterator[RunningWebhook]:
    """The webhook over a copy of examples/cluster (in ``tmp/cluster``), once its cache is ready."""
    cluster = tmp / "cluster"
    shutil.copytree(EXAMPLES / "cluster", cluster)
    async with running_webhook(tmp, source=folder_source(cluster, poll_seconds=poll_seconds)) as running:
        await eventually(lambda: running.server.state.cache.ready)
        yield running


@asynccontextmanager
async def kube_webhook(api_url: str, tmp: Path) -> AsyncIterator[RunningWebhook]:
    """The webhook list-watching the API server at ``api_url`` (quick back-off), once it is ready."""
    source = kube_source(ClusterConfig(api_url), backoff_base=0.01, backoff_cap=0.05, watch_timeout_seconds=5)
    async with running_webhook(tmp, source=source) as running:
        await eventually(lambda: running.server.state.cache.ready)
        yield running
