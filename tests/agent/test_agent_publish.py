"""The agent against the Kubernetes API test server, on fake sysfs and /proc trees."""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from agent_harness import (
    NODE_NAME,
    GiB,
    MiB,
    foreign_intact,
    host,
    make_agent,
    ours,
    proc_root,
    seed_node,
    write_tree,
)
from aiohttp.test_utils import TestClient, TestServer

from kubeapi.server import KubeApiServer
from kvnuma.agent.http import health_app
from kvnuma.errors import InputError
from kvnuma.model.quantity import format_bytes
from kvnuma.topology.capabilities import parse_capabilities

PAGES = {2 * MiB: 512, GiB: 2}


@pytest.fixture
async def api() -> AsyncIterator[KubeApiServer]:
    async with KubeApiServer() as server:
        seed_node(server)
        yield server


def expected(cpus_per_cell: int, memory: int, pools: dict[int, int]) -> dict[str, str]:
    annotations = {
        "kubevirt.io/max-single-numa-cpus": str(cpus_per_cell),
        "kubevirt.io/max-single-numa-memory": format_bytes(memory),
    }
    for size, count in pools.items():
        annotations[f"kubevirt.io/max-single-numa-hugepages-{format_bytes(size)}"] = format_bytes(
            size * count
        )
    return annotations


async def test_annotations_appear_and_foreign_keys_survive(api: KubeApiServer, tmp_path: Path) -> None:
    agent, _ = make_agent(api.url, tmp_path, sysfs=write_tree(host(PAGES), tmp_path / "sys"))
    async with agent.client or pytest.fail("no client"):
        result = await agent.cycle()
    node = api.get_object(f"Node/{NODE_NAME}")
    assert result.ok
    assert ours(node) == (expected(4 * 2, 64 * GiB, PAGES), {})
    assert foreign_intact(node)
    capabilities = parse_capabilities((tmp_path / "out" / "capabilities.xml").read_text(), source="out")
    assert len(capabilities.cells) == 2


async def test_a_topology_change_updates_and_removes_only_our_keys(
    api: KubeApiServer, tmp_path: Path
) -> None:
    tree = tmp_path / "sys"
    agent, _ = make_agent(api.url, tmp_path, sysfs=write_tree(host(PAGES), tree))
    async with agent.client or pytest.fail("no client"):
        assert (await agent.cycle()).ok
        shutil.rmtree(tree)
        write_tree(host({2 * MiB: 1024}, cores=6), tree)
        result = await agent.cycle()
        patches_before = len(api.requests_for("patch"))
        again = await agent.cycle()
    node = api.get_object(f"Node/{NODE_NAME}")
    assert ours(node) == (expected(6 * 2, 64 * GiB, {2 * MiB: 1024}), {})
    assert result.patch is not None
    assert result.patch["metadata"]["annotations"]["kubevirt.io/max-single-numa-hugepages-1Gi"] is None
    assert foreign_intact(node)
    assert (again.ok, again.patch, len(api.requests_for("patch"))) == (True, None, patches_before)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(("patch", 409, 3, "conflict"), id="conflicts"),
        pytest.param(("get", 500, 2, "server"), id="get-500"),
        pytest.param(("patch", 503, 2, "server"), id="patch-503"),
        pytest.param(("patch", 429, 2, "throttled"), id="throttled"),
    ],
)
async def test_api_errors_are_retried_to_the_right_state(
    api: KubeApiServer, tmp_path: Path, case: tuple[str, int, int, str]
) -> None:
    verb, status, count, kind = case
    api.faults.fail_next(
        verb, rf"/nodes/{NODE_NAME}$", status, count, retry_after=0 if status == 429 else None
    )
    agent, logs = make_agent(api.url, tmp_path, sysfs=write_tree(host(PAGES), tmp_path / "sys"))
    async with agent.client or pytest.fail("no client"):
        result = await agent.cycle()
    node = api.get_object(f"Node/{NODE_NAME}")
    assert result.ok
    assert ours(node) == (expected(8, 64 * GiB, PAGES), {})
    assert foreign_intact(node)
    assert agent.metrics.publish_errors.labels(kind)._value.get() == count
    assert logs.getvalue().count('"event":"publish-retry"') == count


async def test_a_foreign_write_racing_our_patch_is_not_lost(api: KubeApiServer, tmp_path: Path) -> None:
    api.faults.slow("patch", rf"/nodes/{NODE_NAME}$", seconds=0.3, count=1)
    agent, _ = make_agent(api.url, tmp_path, sysfs=write_tree(host(PAGES), tmp_path / "sys"))
    async with agent.client or pytest.fail("no client"):
        cycle = asyncio.create_task(agent.cycle())
        while not api.requests_for("patch"):
            await asyncio.sleep(0.01)
        node = api.get_object(f"Node/{NODE_NAME}")
        node["metadata"]["annotations"]["example.com/late"] = "written-meanwhile"
        api.put_object(node)
        assert (await cycle).ok
    node = api.get_object(f"Node/{NODE_NAME}")
    assert node["metadata"]["annotations"]["example.com/late"] == "written-meanwhile"
    assert ours(node)[0] == {**expected(8, 64 * GiB, PAGES), "example.com/late": "written-meanwhile"}


async def test_a_slow_api_times_out_and_is_retried(api: KubeApiServer, tmp_path: Path) -> None:
    api.faults.slow("get", rf"/nodes/{NODE_NAME}$", seconds=3, count=1)
    agent, _ = make_agent(api.url, tmp_path, sysfs=write_tree(host(PAGES), tmp_path / "sys"), timeout=0.3)
    async with agent.client or pytest.fail("no client"):
        result = await agent.cycle()
    assert result.ok
    assert agent.metrics.publish_errors.labels("timeout")._value.get() == 1
    assert ours(api.get_object(f"Node/{NODE_NAME}"))[0] == expected(8, 64 * GiB, PAGES)


async def test_refused_connections_are_retried_until_the_server_is_up(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    agent, _ = make_agent(
        f"http://127.0.0.1:{port}",
        tmp_path,
        sysfs=write_tree(host(PAGES), tmp_path / "sys"),
        max_attempts=400,
    )
    async with agent.client or pytest.fail("no client"):
        cycle = asyncio.create_task(agent.cycle())
        while agent.metrics.publish_errors.labels("refused")._value.get() < 2:
            await asyncio.sleep(0.01)
        async with KubeApiServer(port=port) as api:
            seed_node(api)
            result = await cycle
            node = api.get_object(f"Node/{NODE_NAME}")
    assert result.ok
    assert ours(node)[0] == expected(8, 64 * GiB, PAGES)


async def test_the_realtime_label_follows_the_proc_root(api: KubeApiServer, tmp_path: Path) -> None:
    agent, _ = make_agent(api.url, tmp_path, sysfs=write_tree(host(PAGES), tmp_path / "sys"), rt_runtime="-1")
    async with agent.client or pytest.fail("no client"):
        await agent.cycle()
        with_rt = ours(api.get_object(f"Node/{NODE_NAME}"))[1]
        proc_root(tmp_path / "proc", "950000")
        await agent.cycle()
        without_rt = api.get_object(f"Node/{NODE_NAME}")
    assert with_rt == {"kubevirt.io/realtime": "true"}
    assert ours(without_rt)[1] == {}
    assert foreign_intact(without_rt)


async def test_unreadable_sysfs_keeps_published_values_and_turns_healthz_unhealthy(
    api: KubeApiServer, tmp_path: Path
) -> None:
    tree = write_tree(host(PAGES), tmp_path / "sys")
    agent, logs = make_agent(api.url, tmp_path, sysfs=tree)
    async with agent.client or pytest.fail("no client"), TestClient(TestServer(health_app(agent))) as probe:
        assert (await agent.cycle()).ok
        published = api.get_object(f"Node/{NODE_NAME}")
        shutil.rmtree(tree)
        failed = await agent.cycle()
        unhealthy = await probe.get("/healthz")
        body = await unhealthy.json()
        metrics = await (await probe.get("/metrics")).text()
        write_tree(host(PAGES), tree)
        assert (await agent.cycle()).ok
        healthy = await probe.get("/healthz")
    assert not failed.ok
    assert (
        api.get_object(f"Node/{NODE_NAME}")["metadata"]["annotations"] == published["metadata"]["annotations"]
    )
    assert unhealthy.status == 503
    assert body["healthy"] is False
    assert "discovery failed" in body["reason"]
    assert str(tree) in body["reason"]
    assert 'kvnuma_agent_publish_errors_total{kind="discovery"} 1.0' in metrics
    assert '"event":"discovery-failed"' in logs.getvalue()
    assert healthy.status == 200


async def test_an_injected_discovery_failure_reports_its_reason(api: KubeApiServer, tmp_path: Path) -> None:
    def broken() -> object:
        raise InputError("/sys/devices/system/node/node0/meminfo", "permission denied")

    agent, _ = make_agent(api.url, tmp_path, discover=broken)
    async with agent.client or pytest.fail("no client"):
        result = await agent.cycle()
    assert not result.ok
    assert (
        agent.health_reason == "discovery failed: /sys/devices/system/node/node0/meminfo: permission denied"
    )
    assert ours(api.get_object(f"Node/{NODE_NAME}")) == ({}, {})


async def test_the_loop_rediscovers_when_woken(api: KubeApiServer, tmp_path: Path) -> None:
    tree = write_tree(host(PAGES), tmp_path / "sys")
    agent, _ = make_agent(api.url, tmp_path, sysfs=tree)
    stop = asyncio.Event()
    async with agent.client or pytest.fail("no client"):
        loop = asyncio.create_task(agent.run(stop))
        while ours(api.get_object(f"Node/{NODE_NAME}"))[0] != expected(8, 64 * GiB, PAGES):
            await asyncio.sleep(0.01)
        shutil.rmtree(tree)
        write_tree(host(PAGES, cores=3), tree)
        agent.wake.set()
        while ours(api.get_object(f"Node/{NODE_NAME}"))[0] != expected(6, 64 * GiB, PAGES):
            await asyncio.sleep(0.01)
        stop.set()
        await loop
    assert foreign_intact(api.get_object(f"Node/{NODE_NAME}"))


async def test_healthz_and_metrics_are_served(api: KubeApiServer, tmp_path: Path) -> None:
    agent, _ = make_agent(api.url, tmp_path, sysfs=write_tree(host(PAGES), tmp_path / "sys"))
    async with agent.client or pytest.fail("no client"), TestClient(TestServer(health_app(agent))) as probe:
        await agent.cycle()
        health = await probe.get("/healthz")
        metrics = await (await probe.get("/metrics")).text()
    assert health.status == 200
    assert "kvnuma_agent_last_successful_publish_timestamp_seconds" in metrics
    assert "kvnuma_agent_discovery_duration_seconds_count 1.0" in metrics
    assert "kvnuma_agent_node_patches_total 1.0" in metrics
