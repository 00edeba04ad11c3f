"""A malformed cluster folder: the running webhook keeps serving the last good cluster, logs one
line (no traceback, no request body), and picks up the next good folder."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from webhook_harness import folder_webhook, vmi_review

BIG_VMI = {
    "apiVersion": "kubevirt.io/v1",
    "kind": "VirtualMachineInstance",
    "metadata": {"name": "big", "namespace": "vms", "annotations": {"note": "s3cr3t-token-value"}},
    "spec": {
        "domain": {
            "cpu": {"cores": 32, "dedicatedCpuPlacement": True},
            "memory": {"guest": "32Gi", "hugepages": {"pageSize": "1Gi"}},
            "devices": {},
        }
    },
}

KEPT = "keeping the last good cluster"
LOADED = "cluster folder loaded"  # tolerated: the object carries nothing the cache uses
DEEP = b'{"kind": "Node", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"

BROKEN = [
    ("yaml-syntax", "broken.yaml", b"kind: Node\nmetadata: [\n", KEPT),
    ("binary", "broken.yaml", b"\x89PNG\r\n\x1a\n\x00\xff", KEPT),
    ("not-an-object", "broken.yaml", b"- just\n- a list\n", KEPT),
    ("deep", "broken.json", DEEP, KEPT),
    ("node-without-capacity", "broken.yaml", b"kind: Node\nmetadata: {name: n9, annotations: 7}\n", LOADED),
    (
        "kubevirt-spec-garbage",
        "broken.yaml",
        b"kind: KubeVirt\nmetadata: {name: k, namespace: x}\nspec: 5\n",
        LOADED,
    ),
]


async def _decision(hook: object) -> str:
    status, answer = await hook.post(vmi_review(BIG_VMI))  # type: ignore[attr-defined]
    assert status == 200
    return str(answer["response"].get("auditAnnotations", {}).get("auto-numa-decision", "-"))


@pytest.mark.parametrize(
    ("name", "content", "logged"), [pytest.param(*case[1:], id=case[0]) for case in BROKEN]
)
async def test_a_malformed_folder_keeps_the_last_good_cluster(
    name: str, content: bytes, logged: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cluster = tmp_path / "cluster"
    async with folder_webhook(tmp_path) as hook:
        before = await _decision(hook)
        nodes = hook.server.state.cache.node_count
        with caplog.at_level(logging.INFO, logger="kvnuma.webhook"):
            caplog.clear()
            (cluster / name).write_bytes(content)
            for _ in range(100):
                if "cluster folder" in caplog.text:
                    break
                await asyncio.sleep(0.02)
            during = await _decision(hook)
            lines = [r for r in caplog.records if "cluster folder" in r.getMessage()]
            (cluster / name).unlink()
            await asyncio.sleep(0.3)
        after = await _decision(hook)
    assert before == during == after == "mutated"
    assert hook.server.state.cache.node_count == nodes
    assert len(lines) == 1
    message = lines[0].getMessage()
    assert logged in message
    assert "\n" not in message
    assert all(record.exc_info is None for record in caplog.records)
    assert "s3cr3t-token-value" not in caplog.text
