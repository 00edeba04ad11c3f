# ruff: noqa: E501
from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubevirt_validator import kubevirt_rejections
from webhook_harness import EXAMPLES, RunningWebhook, folder_webhook, running_webhook, vmi_review, write_pair

from kvnuma.webhook.server import folder_source


def big_vmi(**cpu: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"name": "big", "namespace": "vms"},
        "spec": {
            "domain": {
                "cpu": {"cores": 32, "dedicatedCpuPlacement": True, **cpu},
                "memory": {"guest": "32Gi", "hugepages": {"pageSize": "1Gi"}},
                "devices": {},
            }
        },
    }


@pytest.fixture
async def hook(tmp_path: Path) -> AsyncIterator[RunningWebhook]:
    async with folder_webhook(tmp_path) as running:
        yield running


async def test_large_vmi_gets_passthrough_that_kubevirt_accepts(hook: RunningWebhook) -> None:
    stored, answer = await hook.create_vmi(big_vmi())
    assert stored["spec"]["domain"]["cpu"]["numa"] == {"guestMappingPassthrough": {}}
    assert kubevirt_rejections(stored) == []
    assert "vCPUs 32 > 16" in answer["response"]["warnings"][0]
    assert answer["response"]["auditAnnotations"]["auto-numa-decision"] == "mutated"


async def test_unsafe_vmi_is_left_alone_with_a_warning(hook: RunningWebhook) -> None:
    vmi = big_vmi(dedicatedCpuPlacement=False)
    stored, answer = await hook.create_vmi(vmi)
    assert stored == vmi
    assert "no dedicatedCpuPlacement" in answer["response"]["warnings"][0]


async def test_example_reviews_are_answered(hook: RunningWebhook) -> None:
    outcomes = {}
    for path in sorted((EXAMPLES / "reviews").glob("*.json")):
        status, answer = await hook.post(path.read_bytes())
        assert status == 200
        outcomes[path.name] = answer["response"].get("auditAnnotations", {}).get("auto-numa-decision", "-")
    assert outcomes == {
        "large-vmi-shared-cpus.json": "skipped-unsafe",
        "large-vmi.json": "mutated",
        "pinned-vmi.json": "mutated",
        "small-vmi.json": "-",
        "vmi-with-numa.json": "-",
    }


async def test_health_ready_and_metrics(hook: RunningWebhook) -> None:
    assert await hook.get("/healthz") == (200, "ok")
    status, ready = await hook.get("/readyz")
    assert (status, ready.split(":")[0]) == (200, "ok")
    assert "auto-NUMA on (field: spec.configuration.developerConfiguration.autoNUMAEnablement=true" in ready
    await hook.create_vmi(big_vmi())
    status, text = await hook.get("/metrics")
    assert status == 200
    assert 'kvnuma_webhook_decisions_total{outcome="mutated"} 1.0' in text
    assert "kvnuma_webhook_cache_nodes 3.0" in text
    assert 'kvnuma_webhook_auto_numa_enabled{source="field"} 1.0' in text
    assert "kvnuma_webhook_request_seconds_bucket" in text


async def test_not_ready_before_the_first_list(tmp_path: Path) -> None:
    async with running_webhook(tmp_path, source=None) as running:
        status, text = await running.get("/readyz")
        assert status == 503
        assert "Nodes and KubeVirt CRs" in text
        running.server.state.cache.nodes.on_replace([])
        running.server.state.cache.kubevirts.on_replace([])
        assert (await running.get("/readyz"))[0] == 200


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        pytest.param(b"{not json", 400, "malformed JSON", id="malformed-json"),
        pytest.param(b"", 400, "malformed JSON", id="empty"),
        pytest.param(b'{"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}', 400, "apiVersion", id="v1beta1"),
        pytest.param(b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"kind": {}}}', 400, "uid", id="no-uid"),
        pytest.param(b"[" * 100_000, 400, "malformed JSON", id="deep-nesting"),
        pytest.param(b" " * (10 << 20), 413, "larger than 3 MiB", id="10MB"),
    ],
)  # fmt: skip
async def test_bad_requests_get_a_clear_status(
    hook: RunningWebhook, body: bytes, status: int, named: str
) -> None:
    code, answer = await hook.post(body)
    assert code == status
    assert answer["kind"] == "Status"
    assert named in answer["message"]


async def test_non_vmi_and_malformed_vmi_are_allowed_unchanged(hook: RunningWebhook) -> None:
    pod = vmi_review({"kind": "Pod"})
    pod["request"]["kind"]["kind"] = "Pod"
    code, answer = await hook.post(pod)
    assert (code, answer["response"]["allowed"], "patch" in answer["response"]) == (200, True, False)
    bad = big_vmi()
    bad["spec"]["domain"]["cpu"]["cores"] = "many"
    code, answer = await hook.post(vmi_review(bad))
    assert (code, answer["response"]["allowed"], "patch" in answer["response"]) == (200, True, False)
    assert "spec.domain.cpu.cores" in answer["response"]["warnings"][0]


async def test_tls_below_1_2_is_refused(hook: RunningWebhook) -> None:
    assert hook.server.context.minimum_version == ssl.TLSVersion.TLSv1_2
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    hook.ca.configure_trust(old)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        await asyncio.open_connection("127.0.0.1", hook.server.port, ssl=old)


async def _served_cert(port: int, context: ssl.SSLContext) -> bytes:
    _reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    await writer.wait_closed()
    assert der is not None
    return bytes(der)


async def test_certificate_rotation_under_load(tmp_path: Path) -> None:
    cluster = tmp_path / "cluster"
    shutil.copytree(EXAMPLES / "cluster", cluster)
    async with running_webhook(tmp_path, source=folder_source(cluster), cert_poll=0.05) as hook:
        before = await _served_cert(hook.server.port, hook.ssl)
        done = asyncio.Event()
        answered: list[int] = []

        async def load() -> None:
            while not done.is_set():
                status, _answer = await hook.post(vmi_review(big_vmi()))
                answered.append(status)

        workers = [asyncio.create_task(load()) for _ in range(4)]
        await asyncio.sleep(0.2)
        new = tmp_path / "new"
        new.mkdir()
        cert, key = write_pair(hook.ca, new)
        os.replace(key, tmp_path / "tls.key")
        os.replace(cert, tmp_path / "tls.crt")
        after = before
        for _ in range(500):
            after = await _served_cert(hook.server.port, hook.ssl)
            if after != before:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        done.set()
        await asyncio.gather(*workers)
        assert after != before
        assert after == await _served_cert(hook.server.port, hook.ssl)
        assert answered
        assert set(answered) == {200}
        assert hook.server.reloader.reloads == 1
