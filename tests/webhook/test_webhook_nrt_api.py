"""--nrt=on against the API test server serving the real NodeResourceTopology CRD.

The CRD (tests/fixtures/nrt, byte-exact from noderesourcetopology-api, see its PROVENANCE.md) is
installed with ``kubectl apply``; the NRT objects are created, updated and deleted by real
clients (kubectl, the official ``kubernetes`` Python client), and the webhook, list-watching the
server, follows: a valid object wins over its Node's annotations, its delete gives them back, a
bad one is ignored with the metric. Without the CRD the annotations serve, /readyz says so, and a
CRD installed later is picked up.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_webhook_chain import node, passthrough, vmi
from webhook_harness import RunningWebhook, eventually, running_webhook

from kubeapi.clients import k8s, kube_client
from kubeapi.server import KubeApiServer
from kvnuma.kube import ClusterConfig
from kvnuma.webhook.cache import ClusterCache
from kvnuma.webhook.kube_source import kube_source
from kvnuma.webhook.switch import from_flag

CRD = Path(__file__).resolve().parents[1] / "fixtures" / "nrt" / "noderesourcetopologies.crd.yaml"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
GROUP, VERSION, PLURAL = "topology.node.k8s.io", "v1alpha2", "noderesourcetopologies"
GI = 1 << 30


def topology(name: str, *per_cell: tuple[Any, str]) -> dict[str, Any]:
    """An NRT object as NFD's topology-updater writes one: a Node zone per (cpus, memory)."""

    def resource(kind: str, capacity: Any) -> dict[str, Any]:
        return {"name": kind, "capacity": capacity, "allocatable": capacity, "available": capacity}

    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NodeResourceTopology",
        "metadata": {"name": name},
        "attributes": [{"name": "topologyManagerPolicy", "value": "single-numa-node"}],
        "zones": [
            {
                "name": f"node-{i}",
                "type": "Node",
                "costs": [{"name": f"node-{j}", "value": 10 if i == j else 20} for j in range(len(per_cell))],
                "resources": [resource("cpu", cpus), resource("memory", memory)],
            }
            for i, (cpus, memory) in enumerate(per_cell)
        ],
    }


async def kubectl(api: KubeApiServer, tmp_path: Path, *args: str, stdin: str = "", ok: bool = True) -> str:
    process = await asyncio.create_subprocess_exec(
        KUBECTL, "--server", api.url, "--cache-dir", str(tmp_path / "kubectl-cache"), *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate(stdin.encode())
    assert (process.returncode == 0) == ok, err.decode()
    return out.decode() + err.decode()


@pytest.fixture
async def api() -> AsyncIterator[KubeApiServer]:
    async with KubeApiServer(bookmark_interval=0.2) as server:
        server.put_object(node("w1", 32))
        server.put_object(node("w2", 16))
        yield server


@asynccontextmanager
async def nrt_webhook(api: KubeApiServer, tmp_path: Path) -> AsyncIterator[RunningWebhook]:
    """``kvnuma webhook --nrt=on --auto-numa=on`` list-watching ``api`` (quick back-off)."""
    cache = ClusterCache(override=from_flag("on"), nrt=True)
    source = kube_source(
        ClusterConfig(api.url),
        backoff_base=0.01,
        backoff_cap=0.05,
        watch_timeout_seconds=5,
        nrt_retry_seconds=0.1,
    )
    async with running_webhook(tmp_path, source=source, cache=cache) as running:
        await eventually(lambda: cache.ready)
        yield running


def threshold(hook: RunningWebhook) -> int | None:
    return hook.server.state.cache.capacity().cpus


async def test_nrt_objects_written_by_real_clients_move_the_threshold(
    api: KubeApiServer, tmp_path: Path
) -> None:
    said = await kubectl(api, tmp_path, "apply", "--validate=false", "-f", str(CRD))
    assert "noderesourcetopologies.topology.node.k8s.io created" in said
    async with nrt_webhook(api, tmp_path) as hook:
        assert threshold(hook) == 16
        status, text = await hook.get("/readyz")
        assert status == 200
        assert "capacity from NodeResourceTopology on 0 nodes, annotations on 2" in text

        # kubectl creates w2's object: its largest cell (10 CPUs) now measures w2, not its annotation (16)
        said = await kubectl(
            api, tmp_path, "apply", "-f", "-", stdin=yaml.safe_dump(topology("w2", (8, "32Gi"), (10, "32Gi")))
        )
        assert "noderesourcetopology.topology.node.k8s.io/w2 created" in said
        await eventually(lambda: threshold(hook) == 10)
        stored, answer = await hook.create_vmi(vmi(12))
        assert passthrough(stored)
        warnings = answer["response"]["warnings"]
        assert "vCPUs 12 > 10" in warnings[0]
        assert "auto-NUMA: capacity from NodeResourceTopology on 1 node, annotations on 1" in warnings
        assert "NodeResourceTopology on 1 node" in (await hook.get("/readyz"))[1]

        # the kubernetes client updates it (get, change, replace) to 40 CPUs: w1's 32 is the minimum
        client: Any = kube_client(api.url)
        custom = k8s.CustomObjectsApi(client)
        current = await asyncio.to_thread(custom.get_cluster_custom_object, GROUP, VERSION, PLURAL, "w2")
        current["zones"][1]["resources"][0].update(capacity=40, allocatable=38, available=38)
        await asyncio.to_thread(custom.replace_cluster_custom_object, GROUP, VERSION, PLURAL, "w2", current)
        await eventually(lambda: threshold(hook) == 32)
        assert not passthrough((await hook.create_vmi(vmi(20)))[0])

        # a bad one the CRD's schema accepts (a negative quantity matches its pattern): ignored, counted
        bad = topology("w1", ("-4", "64Gi"))
        await asyncio.to_thread(custom.create_cluster_custom_object, GROUP, VERSION, PLURAL, bad)
        await eventually(
            lambda: "w1" in (hook.server.state.cache.nrt.ignored if hook.server.state.cache.nrt else {})
        )
        assert threshold(hook) == 32  # w1 keeps its annotations
        metrics = (await hook.get("/metrics"))[1]
        assert 'kvnuma_webhook_nrt_ignored_total{reason="negative"} 1.0' in metrics
        assert "kvnuma_webhook_nrt_nodes 1.0" in metrics
        assert "(1 NRT object ignored, see the log)" in (await hook.get("/readyz"))[1]
        # one the schema refuses never reaches the webhook: kube-apiserver answers 422
        no_zones = {k: v for k, v in topology("w3", (4, "8Gi")).items() if k != "zones"}
        refused = await kubectl(api, tmp_path, "create", "-f", "-", stdin=yaml.safe_dump(no_zones), ok=False)
        assert "zones" in refused

        # kubectl deletes w2's object: back to its annotation
        await kubectl(api, tmp_path, "delete", "noderesourcetopology", "w2")
        await eventually(lambda: threshold(hook) == 16)
        assert hook.server.state.cache.nrt_nodes == 0
        client.close()


async def test_without_the_crd_the_annotations_serve_and_a_crd_installed_later_is_read(
    api: KubeApiServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kvnuma.webhook")
    async with nrt_webhook(api, tmp_path) as hook:  # ready although the list answers 404
        status, text = await hook.get("/readyz")
        assert status == 200
        assert "capacity from annotations on 2 nodes, NodeResourceTopology unavailable" in text
        assert "the NodeResourceTopology CRD is not installed (404)" in text
        assert threshold(hook) == 16
        stored, answer = await hook.create_vmi(vmi(20))
        assert passthrough(stored)
        assert any("NodeResourceTopology unavailable" in w for w in answer["response"]["warnings"])
        nrt = hook.server.state.cache.nrt
        assert nrt is not None
        failures = nrt.failures
        await eventually(lambda: nrt.failures >= failures + 3)  # it retries
        unavailable = [
            r for r in caplog.records if r.getMessage().startswith("NodeResourceTopology unavailable")
        ]
        assert len(unavailable) == 1  # one line, not one per retry

        await kubectl(api, tmp_path, "apply", "--validate=false", "-f", str(CRD))
        await kubectl(api, tmp_path, "apply", "-f", "-", stdin=yaml.safe_dump(topology("w1", (6, "16Gi"))))
        await eventually(lambda: threshold(hook) == 6)
        assert (
            "capacity from NodeResourceTopology on 1 node, annotations on 1" in (await hook.get("/readyz"))[1]
        )
        assert any("NodeResourceTopology: listed" in r.getMessage() for r in caplog.records)

        # the CRD removed again: its objects go (DELETED), then the list answers 404
        await kubectl(api, tmp_path, "delete", "crd", "noderesourcetopologies.topology.node.k8s.io")
        await eventually(lambda: threshold(hook) == 16)
        await eventually(
            lambda: bool(hook.server.state.cache.nrt and hook.server.state.cache.nrt.unavailable)
        )


async def test_the_list_is_paginated_and_the_watch_asks_for_bookmarks(
    api: KubeApiServer, tmp_path: Path
) -> None:
    await kubectl(api, tmp_path, "apply", "--validate=false", "-f", str(CRD))
    for i in range(3, 253):  # 250 objects, each for a Node
        api.put_object(node(f"w{i}", 64))
        api.put_object(topology(f"w{i}", (48, "128Gi")))
    async with nrt_webhook(api, tmp_path) as hook:
        lists = api.requests_for("list", PLURAL)
        assert [r.query.get("limit") for r in lists] == ["100", "100", "100"]
        assert lists[1].query.get("continue")
        await eventually(lambda: bool(api.requests_for("watch", PLURAL)))
        assert api.requests_for("watch", PLURAL)[0].query.get("allowWatchBookmarks") == "true"
        assert hook.server.state.cache.nrt_nodes == 250
        assert threshold(hook) == 16  # w1, w2 have no object: their annotations

        # a compaction expires the watch (410): a re-list beside the old table, then the same answer
        nrt = hook.server.state.cache.nrt
        assert nrt is not None
        before = nrt.lists
        api.compact()
        api.put_object(copy.deepcopy(topology("w7", (2, "4Gi"))))
        await eventually(lambda: threshold(hook) == 2)
        await eventually(lambda: nrt.lists > before)
        assert nrt.lists == before + 1
        assert [r.query.get("limit") for r in api.requests_for("list", PLURAL)[3:]][:1] == ["25"]


async def test_forbidden_then_granted_and_a_cut_stream(
    api: KubeApiServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kvnuma.webhook")
    await kubectl(api, tmp_path, "apply", "--validate=false", "-f", str(CRD))
    api.put_object(topology("w2", (10, "32Gi")))
    api.faults.fail_next("list", PLURAL, 403, count=10**6, message="noderesourcetopologies is forbidden")
    async with nrt_webhook(api, tmp_path) as hook:  # ready on the first answer, a 403
        text = (await hook.get("/readyz"))[1]
        assert "forbidden (403): the webhook's ClusterRole needs list/watch on noderesourcetopologies" in text
        nrt = hook.server.state.cache.nrt
        assert nrt is not None
        await eventually(lambda: nrt.failures >= 3)
        assert threshold(hook) == 16
        api.faults.clear()  # the RBAC fixed: read on the next retry
        await eventually(lambda: threshold(hook) == 10)
        said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("NodeResourceTopology")]
        assert len(said) == 2
        assert said[0].startswith("NodeResourceTopology unavailable: forbidden (403)")
        assert said[1].startswith("NodeResourceTopology: listed 1 objects (0 ignored)")

        lists = nrt.lists

        def cut() -> bool:  # a cut stream: listed again, beside the table that serves
            api.faults.drop_watches()  # (again until it lands: the watch may not be open yet)
            return nrt.lists > lists

        await eventually(cut)
        assert threshold(hook) == 10
        api.put_object(topology("w2", (5, "32Gi")))
        await eventually(lambda: threshold(hook) == 5)


async def test_a_v1alpha1_object_is_read_as_the_server_converts_it(
    api: KubeApiServer, tmp_path: Path
) -> None:
    """The CRD serves v1alpha1 too (conversion None: the same fields, apiVersion rewritten): an
    object written as v1alpha1 reaches the v1alpha2 watch as v1alpha2 and measures its node. (Read
    as v1alpha1, e.g. from a folder, it is ignored: tests/webhook/test_webhook_nrt.py.)"""
    await kubectl(api, tmp_path, "apply", "--validate=false", "-f", str(CRD))
    example = yaml.safe_load((CRD.parent / "crd-instance-example.yaml").read_text())
    example["metadata"]["name"] = "w2"
    assert example["apiVersion"] == "topology.node.k8s.io/v1alpha1"
    async with nrt_webhook(api, tmp_path) as hook:
        said = await kubectl(api, tmp_path, "create", "-f", "-", stdin=yaml.safe_dump(example))
        assert "noderesourcetopology.topology.node.k8s.io/w2 created" in said
        await eventually(lambda: threshold(hook) == 30)  # its largest cpu capacity; w1's annotation is 32
        nrt = hook.server.state.cache.nrt
        assert nrt is not None
        assert not nrt.ignored
