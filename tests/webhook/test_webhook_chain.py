"""The whole chain: the Kubernetes API test server holds Nodes and the KubeVirt CR, the webhook
list-and-watches them, and the harness plays kube-apiserver's admission (TLS call, JSONPatch,
reinvocation, then KubeVirt's own admission rules)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from webhook_harness import RunningWebhook, eventually, kube_webhook, running_webhook

from kubeapi.server import KubeApiServer
from kvnuma.errors import InputError
from kvnuma.kube import ClusterConfig
from kvnuma.webhook.cache import ClusterCache
from kvnuma.webhook.kube_source import kube_source
from kvnuma.webhook.switch import from_flag


def node(name: str, cpus: int, memory: str = "64Gi", **extra: str) -> dict[str, Any]:
    annotations = {
        "kubevirt.io/max-single-numa-cpus": str(cpus),
        "kubevirt.io/max-single-numa-memory": memory,
    }
    annotations.update(extra)
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "annotations": annotations}}


def kubevirt(enabled: bool) -> dict[str, Any]:
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "KubeVirt",
        "metadata": {"name": "kubevirt", "namespace": "kubevirt"},
        "spec": {"configuration": {"developerConfiguration": {"autoNUMAEnablement": enabled}}},
    }


def vmi(vcpus: int, *, dedicated: bool = True, hugepages: bool = True, memory: str = "8Gi") -> dict[str, Any]:
    domain: dict[str, Any] = {
        "cpu": {"sockets": 1, "cores": vcpus, "threads": 1, "dedicatedCpuPlacement": dedicated},
        "memory": {"guest": memory},
        "resources": {"requests": {"memory": memory}},
        "devices": {},
    }
    if hugepages:
        domain["memory"]["hugepages"] = {"pageSize": "1Gi"}
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"name": f"vm-{vcpus}", "namespace": "vms"},
        "spec": {"domain": domain},
    }


@pytest.fixture
async def api() -> AsyncIterator[KubeApiServer]:
    async with KubeApiServer(bookmark_interval=0.2) as server:
        server.put_object(node("worker-a", 16))
        server.put_object(node("worker-b", 24, "96Gi"))
        server.put_object(kubevirt(True))
        yield server


@pytest.fixture
async def hook(api: KubeApiServer, tmp_path: Path) -> AsyncIterator[RunningWebhook]:
    async with kube_webhook(api.url, tmp_path) as running:
        yield running


async def test_not_ready_until_nodes_and_kubevirt_are_listed(api: KubeApiServer, tmp_path: Path) -> None:
    api.faults.fail_next("list", r"/kubevirts$", 500, count=1_000_000)
    source = kube_source(ClusterConfig(api.url), backoff_base=0.01, backoff_cap=0.05)
    async with running_webhook(tmp_path, source=source) as running:
        cache = running.server.state.cache
        await eventually(lambda: cache.nodes_listed)
        assert not cache.kubevirt_listed
        assert (await running.get("/readyz"))[0] == 503
        api.faults.clear()  # the KubeVirt list now succeeds on the next retry
        await eventually(lambda: cache.ready)
        assert (await running.get("/readyz"))[0] == 200
        assert cache.node_count == 2
        assert cache.enabled


def test_no_cluster_to_watch_is_an_input_error_up_front(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    with pytest.raises(InputError, match="no API server given"):
        kube_source()


def passthrough(stored: dict[str, Any]) -> bool:
    return "numa" in stored["spec"]["domain"]["cpu"]


async def test_threshold_follows_node_annotations(api: KubeApiServer, hook: RunningWebhook) -> None:
    cache = hook.server.state.cache
    assert (await hook.get("/readyz"))[0] == 200
    stored, answer = await hook.create_vmi(vmi(20))
    assert passthrough(stored)
    assert "vCPUs 20 > 16" in answer["response"]["warnings"][0]
    assert not passthrough((await hook.create_vmi(vmi(16)))[0])

    api.put_object(node("worker-a", 32))  # the smallest node grows: worker-b (24) is now the minimum
    await eventually(lambda: cache.capacity().cpus == 24)
    assert not passthrough((await hook.create_vmi(vmi(20)))[0])

    api.put_object(node("worker-c", 8))  # a small node joins
    await eventually(lambda: cache.capacity().cpus == 8)
    assert passthrough((await hook.create_vmi(vmi(12)))[0])

    api.delete_object("Node/worker-c")
    await eventually(lambda: cache.capacity().cpus == 24)
    assert not passthrough((await hook.create_vmi(vmi(12)))[0])


async def test_kubevirt_flag_switches_the_feature(api: KubeApiServer, hook: RunningWebhook) -> None:
    api.put_object(kubevirt(False))
    await eventually(lambda: not hook.server.state.cache.enabled)
    stored, answer = await hook.create_vmi(vmi(64))
    assert not passthrough(stored)
    assert "warnings" not in answer["response"]
    api.put_object(kubevirt(True))
    await eventually(lambda: hook.server.state.cache.enabled)
    assert passthrough((await hook.create_vmi(vmi(64)))[0])


async def test_recovers_from_410_and_dropped_watches(api: KubeApiServer, hook: RunningWebhook) -> None:
    cache = hook.server.state.cache
    api.compact()
    api.put_object(node("worker-a", 4))
    await eventually(lambda: cache.capacity().cpus == 4)
    api.faults.drop_watches()
    api.put_object(node("worker-a", 10))
    await eventually(lambda: cache.capacity().cpus == 10)
    api.compact()
    api.delete_object("Node/worker-a")
    api.put_object(node("worker-z", 6))
    await eventually(lambda: cache.capacity().cpus == 6 and cache.node_count == 2)
    assert passthrough((await hook.create_vmi(vmi(7)))[0])


@pytest.mark.parametrize(
    ("vcpus", "dedicated", "hugepages"),
    [
        pytest.param(32, True, True, id="safe"),
        pytest.param(32, False, True, id="shared-cpus"),
        pytest.param(32, True, False, id="no-hugepages"),
        pytest.param(32, False, False, id="neither"),
        pytest.param(4, False, False, id="small"),
    ],
)
async def test_never_produces_a_vmi_kubevirt_rejects(
    hook: RunningWebhook, vcpus: int, dedicated: bool, hugepages: bool
) -> None:
    stored, _answer = await hook.create_vmi(vmi(vcpus, dedicated=dedicated, hugepages=hugepages))
    assert passthrough(stored) is (vcpus > 16 and dedicated and hugepages)


def annotated_kubevirt(value: str, *, field: bool | None = None) -> dict[str, Any]:
    cr = kubevirt(field) if field is not None else kubevirt(False)
    if field is None:
        del cr["spec"]["configuration"]["developerConfiguration"]["autoNUMAEnablement"]
    cr["metadata"]["annotations"] = {"kvnuma.io/auto-numa": value}
    return cr


async def test_the_annotation_switches_the_feature_and_says_so(
    api: KubeApiServer, hook: RunningWebhook
) -> None:
    api.put_object(annotated_kubevirt("false", field=True))  # the annotation decides over the field
    await eventually(lambda: not hook.server.state.cache.enabled)
    assert not passthrough((await hook.create_vmi(vmi(64)))[0])
    api.put_object(annotated_kubevirt("true"))
    await eventually(lambda: hook.server.state.cache.enabled)
    assert passthrough((await hook.create_vmi(vmi(64)))[0])
    status, ready = await hook.get("/readyz")
    assert status == 200
    assert "auto-NUMA on (annotation: kvnuma.io/auto-numa=true on KubeVirt kubevirt/kubevirt)" in ready
    metrics = (await hook.get("/metrics"))[1]
    assert 'kvnuma_webhook_auto_numa_enabled{source="annotation"} 1.0' in metrics
    assert 'source="field"' not in metrics


@pytest.mark.parametrize(("flag", "mutated"), [("on", True), ("off", False)])
async def test_the_flag_needs_no_kubevirt_cr(
    api: KubeApiServer, tmp_path: Path, flag: str, mutated: bool
) -> None:
    api.delete_object("KubeVirt/kubevirt/kubevirt")
    api.faults.fail_next("list", r"/kubevirts$", 403, count=1_000_000)  # not even allowed to read it
    source = kube_source(ClusterConfig(api.url), backoff_base=0.01, backoff_cap=0.05)
    cache = ClusterCache(override=from_flag(flag))
    async with running_webhook(tmp_path, source=source, cache=cache) as running:
        await eventually(lambda: cache.ready)
        assert passthrough((await running.create_vmi(vmi(64)))[0]) is mutated
        assert f"(flag: --auto-numa={flag})" in (await running.get("/readyz"))[1]
    assert api.requests_for("list", "/kubevirts") == []


async def test_a_relist_is_served_from_the_old_cache_until_it_is_complete(
    api: KubeApiServer, tmp_path: Path
) -> None:
    for i in range(5):
        api.put_object(node(f"worker-{i}", 16 + i))
    source = kube_source(
        ClusterConfig(api.url), backoff_base=0.01, backoff_cap=0.05, page_size=2, relist_page_size=1
    )
    async with running_webhook(tmp_path, source=source) as running:
        cache = running.server.state.cache
        await eventually(lambda: cache.ready)
        assert (cache.node_count, cache.capacity().cpus, cache.node_lists) == (7, 16, 1)
        lists = len(api.requests_for("list", "/nodes"))
        assert lists == 4  # 7 nodes in pages of 2
        await eventually(lambda: api.open_watches == 2)  # Nodes and KubeVirts: compaction reaches them
        api.faults.slow("list", r"/nodes$", seconds=0.5, count=1)  # the re-list's first page hangs
        api.compact()  # the watch gets 410: re-list
        await eventually(lambda: len(api.requests_for("list", "/nodes")) > lists)
        api.put_object(node("worker-small", 4))  # seen by the re-list only (no watch is open)
        # admission meanwhile: ready, and answered from the complete old cache
        assert (await running.get("/readyz"))[0] == 200
        assert (cache.capacity().cpus, cache.node_count) == (16, 7)
        assert not passthrough((await running.create_vmi(vmi(8)))[0])
        await eventually(lambda: cache.node_lists == 2)
        assert (cache.capacity().cpus, cache.node_count) == (4, 8)
        assert passthrough((await running.create_vmi(vmi(8)))[0])
    relist = [r.query for r in api.requests_for("list", "/nodes")][lists:]
    assert [q["limit"] for q in relist] == ["1"] * 8


@pytest.mark.parametrize(
    ("feasible", "first", "relist"),
    [
        pytest.param(False, "500", "100", id="metadata-only"),
        pytest.param(True, "100", "25", id="full-objects-feasible"),
    ],
)
async def test_list_pages_are_sized_for_what_each_decode_holds(
    api: KubeApiServer, tmp_path: Path, feasible: bool, first: str, relist: str
) -> None:
    for i in range(3):
        api.put_object(node(f"worker-{i}", 16 + i))
    cache = ClusterCache(feasible=feasible)
    source = kube_source(ClusterConfig(api.url), backoff_base=0.01, backoff_cap=0.05)
    async with running_webhook(tmp_path, source=source, cache=cache):
        await eventually(lambda: cache.ready)
        await eventually(lambda: api.open_watches == 2)
        api.compact()  # 410: a re-list while the old cache serves
        await eventually(lambda: cache.node_lists == 2)
    limits = [r.query.get("limit") for r in api.requests_for("list", "/nodes")]
    assert limits == [first, relist]


async def test_a_410_half_way_through_a_list_is_never_served_and_the_list_restarts(
    api: KubeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bad input: the continue token expires between pages (a 410), on the first list and on a
    re-list. The webhook stays not-ready through the cut first list, keeps answering from the old
    complete cache through the cut re-list, and lists again from the start each time."""
    for i in range(5):
        api.put_object(node(f"worker-{i}", 16 + i))
    from kvnuma.kube.client import KubeClient

    real = KubeClient.list_page
    seen: list[tuple[bool, int, int | None]] = []  # (ready, nodes, smallest cpus) when the 410 was made
    expire_after_first_page = [True]
    cache = ClusterCache()

    async def expiring(self: KubeClient, res: Any, namespace: str | None = None, **options: Any) -> Any:
        page = await real(self, res, namespace, **options)
        if res.plural == "nodes" and page.continue_token and expire_after_first_page[0]:
            expire_after_first_page[0] = False
            api.put_object(node("worker-small", 4))  # lands between the pages of the cut list
            api.compact()  # the next page's continue token is now expired
            seen.append((cache.ready, cache.node_count, cache.capacity().cpus))
        return page

    monkeypatch.setattr(KubeClient, "list_page", expiring)
    source = kube_source(
        ClusterConfig(api.url), backoff_base=0.01, backoff_cap=0.05, page_size=2, relist_page_size=2
    )
    async with running_webhook(tmp_path, source=source, cache=cache) as running:
        await eventually(lambda: cache.ready)
        assert seen == [(False, 0, None)]  # the first list was cut while nothing was served
        assert (cache.node_count, cache.capacity().cpus, cache.node_lists) == (8, 4, 1)
        api.delete_object("Node/worker-small")
        await eventually(lambda: cache.capacity().cpus == 16)
        await eventually(lambda: api.open_watches == 2)
        expire_after_first_page[0] = True
        api.compact()  # the watch gets 410; the re-list is cut after its first page by another 410
        await eventually(lambda: cache.node_lists == 2)
        assert seen[1] == (True, 7, 16)  # the old complete cache served meanwhile
        assert (cache.node_count, cache.capacity().cpus) == (8, 4)
        assert passthrough((await running.create_vmi(vmi(8)))[0])
    firsts = [not r.query.get("continue") for r in api.requests_for("list", "/nodes")]
    assert firsts.count(True) == 4  # each cut list began again from the start
