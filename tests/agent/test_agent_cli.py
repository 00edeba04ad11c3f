"""``kvnuma agent`` as a command: --once --dry-run, and the real process with SIGHUP and SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import sys
from pathlib import Path

import aiohttp
from agent_harness import NODE_NAME, GiB, MiB, foreign_intact, host, ours, proc_root, seed_node, write_tree
from click.testing import CliRunner

from kubeapi.server import KubeApiServer
from kvnuma.cli import cli

PAGES = {2 * MiB: 512, GiB: 2}


def test_once_dry_run_prints_the_patch_against_an_empty_node(tmp_path: Path) -> None:
    tree = write_tree(host(PAGES), tmp_path / "sys")
    proc = proc_root(tmp_path / "proc", "-1")
    args = [
        "agent",
        "--once",
        "--dry-run",
        "--node-name",
        NODE_NAME,
        "--sysfs",
        str(tree),
        "--proc",
        str(proc),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "metadata": {
            "annotations": {
                "kubevirt.io/max-single-numa-cpus": "8",
                "kubevirt.io/max-single-numa-hugepages-1Gi": "2Gi",
                "kubevirt.io/max-single-numa-hugepages-2Mi": "1Gi",
                "kubevirt.io/max-single-numa-memory": "64Gi",
            },
            "labels": {"kubevirt.io/realtime": "true"},
        }
    }


def test_missing_node_name_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner(env={"NODE_NAME": ""}).invoke(cli, ["agent", "--once", "--dry-run"])
    assert result.exit_code == 2
    assert "--node-name" in result.stderr


async def _run(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from kvnuma.cli import main; main()", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_dry_run_against_a_server_names_only_what_differs(tmp_path: Path) -> None:
    tree = write_tree(host(PAGES), tmp_path / "sys")
    async with KubeApiServer() as api:
        seed_node(api)
        node = api.get_object(f"Node/{NODE_NAME}")
        node["metadata"]["annotations"]["kubevirt.io/max-single-numa-cpus"] = "8"
        node["metadata"]["annotations"]["kubevirt.io/max-single-numa-hugepages-16Gi"] = "16Gi"
        api.put_object(node)
        before = api.resource_version
        code, out, err = await _run(
            "agent", "--once", "--dry-run", "--node-name", NODE_NAME, "--server", api.url,
            "--sysfs", str(tree), "--proc", str(proc_root(tmp_path / "proc", "0")),
        )  # fmt: skip
        assert api.resource_version == before
    assert code == 0, err
    patch = json.loads(out)["metadata"]["annotations"]
    assert patch["kubevirt.io/max-single-numa-hugepages-16Gi"] is None
    assert "kubevirt.io/max-single-numa-cpus" not in patch
    assert patch["kubevirt.io/max-single-numa-memory"] == "64Gi"


async def _until(check: object, what: str) -> None:
    for _ in range(3000):
        if callable(check) and check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


async def test_the_agent_process_publishes_reloads_on_sighup_and_stops_on_sigterm(tmp_path: Path) -> None:
    tree = write_tree(host(PAGES), tmp_path / "sys")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    caps = tmp_path / "out" / "capabilities.xml"
    async with KubeApiServer() as api, aiohttp.ClientSession() as http:
        seed_node(api)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from kvnuma.cli import main; main()", "agent",
            "--server", api.url, "--sysfs", str(tree), "--proc", str(proc_root(tmp_path / "proc", "0")),
            "--listen", f"127.0.0.1:{port}", "--capabilities-out", str(caps), "--interval", "3600",
            env={**os.environ, "NODE_NAME": NODE_NAME}, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip

        def cpus() -> str | None:
            return ours(api.get_object(f"Node/{NODE_NAME}"))[0].get("kubevirt.io/max-single-numa-cpus")

        await _until(lambda: cpus() == "8", "first publish")
        shutil.rmtree(tree)
        write_tree(host(PAGES, cores=2), tree)
        process.send_signal(signal.SIGHUP)
        await _until(lambda: cpus() == "4", "re-discovery on SIGHUP")
        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
            health = (response.status, await response.json())
        async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
            metrics = await response.text()
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 30)
        node = api.get_object(f"Node/{NODE_NAME}")
    assert process.returncode == 0
    assert health == (200, {"healthy": True, "reason": "ok"})
    assert "kvnuma_agent_node_patches_total 2.0" in metrics
    assert foreign_intact(node)
    assert caps.read_text().startswith("<capabilities>")
    events = [json.loads(line)["event"] for line in err.decode().splitlines()]
    assert events.count("node-patched") == 2
    assert "rediscover-requested" in events
    assert events[-1] == "stopped"


async def test_once_with_publish_nrt_and_no_socket_publishes_the_node_only_and_exits_1(
    tmp_path: Path,
) -> None:
    tree = write_tree(host(PAGES), tmp_path / "sys")
    async with KubeApiServer() as api:
        seed_node(api)
        code, _, err = await _run(
            "agent", "--once", "--publish-nrt", "--node-name", NODE_NAME, "--server", api.url,
            "--sysfs", str(tree), "--proc", str(proc_root(tmp_path / "proc", "0")), "--capabilities-out", "",
            "--podresources-socket", str(tmp_path / "absent.sock"), "--kubelet-config", "",
        )  # fmt: skip
        node = api.get_object(f"Node/{NODE_NAME}")
        nrt_requests = [r for r in api.requests if "noderesourcetopologies" in r.path]
    assert code == 1
    assert ours(node)[0]["kubevirt.io/max-single-numa-cpus"] == "8"  # the Node part still published
    assert nrt_requests == []
    events = [json.loads(line) for line in err.splitlines()]
    (skipped,) = [e for e in events if e["event"] == "nrt-not-published"]
    assert skipped["kind"] == "podresources"
    assert "absent.sock: no such socket" in skipped["reason"]


def test_a_bad_podresources_timeout_is_one_line_and_exit_2() -> None:
    result = CliRunner().invoke(cli, ["agent", "--once", "--node-name", "n", "--podresources-timeout", "0"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "kvnuma: error: --podresources-timeout: must be positive, got 0.0"
    ]
