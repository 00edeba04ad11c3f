"""The feasible-node threshold through the API test server: the webhook (``--threshold feasible``)
list-watches full Node objects, and a real kubectl's ``label``, ``taint`` and ``cordon`` move the
threshold a VMI is compared with."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from test_webhook_chain import kubevirt, node, passthrough, vmi
from webhook_harness import RunningWebhook, eventually, running_webhook

from kubeapi.server import KubeApiServer
from kvnuma.admission.feasible import Constraints
from kvnuma.kube import ClusterConfig
from kvnuma.webhook.cache import ClusterCache
from kvnuma.webhook.kube_source import kube_source

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


def labelled(name: str, cpus: int, **labels: str) -> dict[str, Any]:
    obj = node(name, cpus)
    obj["metadata"]["labels"] = labels
    return obj


def pinned(vcpus: int, **spec: Any) -> dict[str, Any]:
    obj = vmi(vcpus)
    obj["spec"].update(spec)
    return obj


@pytest.fixture
async def api() -> AsyncIterator[KubeApiServer]:
    async with KubeApiServer(bookmark_interval=0.2) as server:
        server.put_object(labelled("small-1", 8, pool="small"))
        server.put_object(labelled("big-1", 32, pool="big"))
        server.put_object(labelled("big-2", 48, pool="big"))
        server.put_object(kubevirt(True))
        yield server


@pytest.fixture
async def hook(api: KubeApiServer, tmp_path: Path) -> AsyncIterator[RunningWebhook]:
    source = kube_source(ClusterConfig(api.url), backoff_base=0.01, backoff_cap=0.05, watch_timeout_seconds=5)
    async with running_webhook(tmp_path, source=source, cache=ClusterCache(feasible=True)) as running:
        await eventually(lambda: running.server.state.cache.ready)
        yield running


async def kubectl(api: KubeApiServer, tmp_path: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        KUBECTL, "--server", api.url, "--cache-dir", str(tmp_path / "kubectl-cache"), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


def threshold_cpus(hook: RunningWebhook, **spec: Any) -> int | None:
    return hook.server.state.cache.capacity_for(Constraints.from_vmi({"spec": spec})).cpus


async def test_a_vmi_is_compared_with_the_nodes_it_can_land_on(hook: RunningWebhook) -> None:
    stored, answer = await hook.create_vmi(pinned(16, nodeSelector={"pool": "big"}))
    assert not passthrough(stored)  # 16 vCPUs fit every big node; the cluster minimum (8) would mutate
    stored, answer = await hook.create_vmi(pinned(40, nodeSelector={"pool": "big"}))
    assert passthrough(stored)
    warnings = answer["response"]["warnings"]
    assert "vCPUs 40 > 32" in warnings[0]
    assert warnings[1].startswith(
        "auto-NUMA: smallest NUMA node among 2 of 3 nodes matching nodeSelector {pool=big}: 32 CPUs"
    )
    assert "matching nodeSelector {pool=big}" in answer["response"]["auditAnnotations"]["auto-numa-reason"]
    status, text = await hook.get("/readyz")
    assert status == 200
    assert "3 nodes, feasible-node threshold" in text


async def test_no_matching_node_admits_unchanged(hook: RunningWebhook) -> None:
    stored, answer = await hook.create_vmi(pinned(64, nodeSelector={"pool": "gpu"}))
    assert not passthrough(stored)
    assert "0 of 3 nodes matching nodeSelector {pool=gpu}" in answer["response"]["warnings"][0]


async def test_required_affinity_on_the_name(hook: RunningWebhook) -> None:
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["big-2"]}]}
    affinity = {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}
    }
    stored, _answer = await hook.create_vmi(pinned(40, affinity=affinity))
    assert not passthrough(stored)  # big-2 has 48


async def test_kubectl_label_taint_and_cordon_move_the_threshold(
    api: KubeApiServer, hook: RunningWebhook, tmp_path: Path
) -> None:
    assert threshold_cpus(hook, nodeSelector={"pool": "big"}) == 32
    await kubectl(api, tmp_path, "label", "node", "small-1", "pool=big", "--overwrite")
    await eventually(lambda: threshold_cpus(hook, nodeSelector={"pool": "big"}) == 8)
    await kubectl(api, tmp_path, "taint", "node", "small-1", "maintenance=yes:NoSchedule")
    await eventually(lambda: threshold_cpus(hook, nodeSelector={"pool": "big"}) == 32)
    tolerating = [{"key": "maintenance", "operator": "Exists", "effect": "NoSchedule"}]
    assert threshold_cpus(hook, nodeSelector={"pool": "big"}, tolerations=tolerating) == 8
    await kubectl(api, tmp_path, "cordon", "big-1")
    await eventually(lambda: threshold_cpus(hook, nodeSelector={"pool": "big"}) == 48)
    stored, _answer = await hook.create_vmi(pinned(40, nodeSelector={"pool": "big"}))
    assert not passthrough(stored)
    cache = hook.server.state.cache
    scope = cache.capacity_for(Constraints.from_vmi({"spec": {"nodeSelector": {"pool": "big"}}})).scope
    assert scope == "1 of 3 nodes matching nodeSelector {pool=big}, 2 excluded by taints"
    await kubectl(api, tmp_path, "uncordon", "big-1")
    await kubectl(api, tmp_path, "taint", "node", "small-1", "maintenance-")
    await eventually(lambda: threshold_cpus(hook, nodeSelector={"pool": "big"}) == 8)


def test_the_real_process_takes_the_flag(tmp_path: Path) -> None:
    """``kvnuma webhook --threshold feasible`` over a folder: ready says so, and the pinned example
    VMI fits the node its nodeSelector names (the cluster threshold would mutate it)."""
    root = Path(__file__).resolve().parents[2]
    kvnuma = str(Path(sys.executable).parent / "kvnuma")
    certs = tmp_path / "certs"
    subprocess.run([kvnuma, "webhook", "gen-certs", "--out", str(certs)], check=True, capture_output=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cluster = f"file:{root / 'examples' / 'cluster'}"
    command = [kvnuma, "webhook", "--cert", str(certs / "tls.crt"), "--key", str(certs / "tls.key"),
               "--host", "127.0.0.1", "--port", str(port), "--source", cluster,
               "--threshold", "feasible"]  # fmt: skip
    context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    context.check_hostname = False
    base = f"https://127.0.0.1:{port}"
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as process:
        try:
            ready = ""
            for _ in range(300):
                try:
                    with urllib.request.urlopen(base + "/readyz", context=context, timeout=2) as answer:
                        ready = answer.read().decode()
                        break
                except OSError:
                    time.sleep(0.05)
            assert "feasible-node threshold" in ready
            body = (root / "examples" / "reviews" / "pinned-vmi.json").read_bytes()
            request = urllib.request.Request(
                base + "/mutate-virtualmachineinstances",
                data=body,
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, context=context, timeout=5) as answer:
                response = json.loads(answer.read())["response"]
            assert response["allowed"] is True
            assert "patch" not in response
        finally:
            process.terminate()
            process.wait(10)
