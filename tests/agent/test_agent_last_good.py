"""The agent keeps the last good values: a broken host publishes nothing new and erases nothing,
turns /healthz unhealthy with the reason, counts in a metric, and the next good read recovers.
Run against the Kubernetes API test server."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from agent_harness import NODE_NAME, GiB, MiB, host, make_agent, seed_node, write_tree
from aiohttp.test_utils import TestClient, TestServer

from kubeapi.server import KubeApiServer
from kvnuma.agent.http import health_app

NODE = "devices/system/node"
CPU = "devices/system/cpu"
PAGES = {2 * MiB: 512, GiB: 2}


@pytest.fixture
async def api() -> AsyncIterator[KubeApiServer]:
    async with KubeApiServer() as server:
        seed_node(server)
        yield server


def _write(relpath: str, data: bytes) -> Callable[[Path, Path], None]:
    def mutate(sysfs: Path, _proc: Path) -> None:
        (sysfs / relpath).write_bytes(data)

    return mutate


def _remove(relpath: str) -> Callable[[Path, Path], None]:
    def mutate(sysfs: Path, _proc: Path) -> None:
        target = sysfs / relpath
        shutil.rmtree(target) if target.is_dir() else target.unlink()

    return mutate


def _rt(data: bytes) -> Callable[[Path, Path], None]:
    def mutate(_sysfs: Path, proc: Path) -> None:
        (proc / "sys/kernel/sched_rt_runtime_us").write_bytes(data)

    return mutate


def _fifo(relpath: str) -> Callable[[Path, Path], None]:
    def mutate(sysfs: Path, _proc: Path) -> None:
        (sysfs / relpath).unlink()
        os.mkfifo(sysfs / relpath)

    return mutate


BROKEN = [
    # (id, mutation, a fragment of the /healthz reason)
    ("meminfo-missing", _remove(f"{NODE}/node1/meminfo"), "node1/meminfo: missing"),
    ("meminfo-zero-total", _write(f"{NODE}/node1/meminfo", b"Node 1 MemFree: 1 kB\n"), "no MemTotal"),
    (
        "memtotal-absurd",
        _write(f"{NODE}/node1/meminfo", b"Node 1 MemTotal: 99999999999999999999999 kB\n"),
        "beyond any real NUMA node",
    ),
    ("cpulist-overlap", _write(f"{NODE}/node1/cpulist", b"0,8-15\n"), "also in cell 0"),
    ("node-folder-gone", _remove(f"{NODE}/node1"), "no node<N> folder"),
    ("cpulist-fifo", _fifo(f"{NODE}/node0/cpulist"), "a FIFO where a file was expected"),
    (
        "pages-absurd",
        _write(f"{NODE}/node0/hugepages/hugepages-2048kB/nr_hugepages", b"99999999999999999999999\n"),
        "do not fit",
    ),
    (
        "free-above-total",
        _write(f"{NODE}/node0/hugepages/hugepages-2048kB/free_hugepages", b"9999\n"),
        "9999 free",
    ),
    ("rt-binary", _rt(b"\x00\xff\xfe\x01"), "sched_rt_runtime_us: not text"),
    ("rt-garbage", _rt(b"lots\n"), "sched_rt_runtime_us: expected an integer"),
    ("siblings-huge", _write(f"{CPU}/cpu0/topology/thread_siblings_list", b"0-999999\n"), "limit"),
]


@pytest.mark.parametrize(("mutate", "fragment"), [pytest.param(*case[1:], id=case[0]) for case in BROKEN])
async def test_a_broken_host_keeps_the_last_good_values(
    mutate: Callable[[Path, Path], None], fragment: str, api: KubeApiServer, tmp_path: Path
) -> None:
    sysfs = write_tree(host(PAGES), tmp_path / "sys")
    agent, logs = make_agent(api.url, tmp_path, sysfs=sysfs)
    async with agent.client or pytest.fail("no client"), TestClient(TestServer(health_app(agent))) as probe:
        assert (await agent.cycle()).ok
        good = api.get_object(f"Node/{NODE_NAME}")["metadata"]
        writes = len(api.requests_for("patch"))
        mutate(sysfs, tmp_path / "proc")
        failed = await agent.cycle()
        health = await probe.get("/healthz")
        body = await health.json()
        metrics = await (await probe.get("/metrics")).text()
        after = api.get_object(f"Node/{NODE_NAME}")["metadata"]
        patches_during_failure = len(api.requests_for("patch")) - writes
        shutil.rmtree(sysfs)
        write_tree(host(PAGES), sysfs)
        (tmp_path / "proc/sys/kernel/sched_rt_runtime_us").write_text("950000\n")
        recovered = await agent.cycle()
        healthy = await probe.get("/healthz")
        recovered_metrics = await (await probe.get("/metrics")).text()
    assert not failed.ok
    assert patches_during_failure == 0  # nothing new, nothing partial, nothing erased
    assert (after["annotations"], after["labels"]) == (good["annotations"], good["labels"])
    assert health.status == 503
    assert body["healthy"] is False
    assert fragment in body["reason"]
    assert "\n" not in body["reason"]
    assert 'kvnuma_agent_publish_errors_total{kind="discovery"} 1.0' in metrics
    assert "kvnuma_agent_host_readable 0.0" in metrics
    assert "Traceback" not in logs.getvalue()
    assert recovered.ok
    assert healthy.status == 200
    assert "kvnuma_agent_host_readable 1.0" in recovered_metrics
    assert api.get_object(f"Node/{NODE_NAME}")["metadata"]["annotations"] == good["annotations"]
