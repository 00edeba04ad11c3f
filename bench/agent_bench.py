"""One agent cycle (discover, diff, patch) on a 448-CPU synthetic host against the Kubernetes API
test server, beside a bare GET of the same Node in the same run: time and peak memory, and ratios.

    .venv/bin/python bench/agent_bench.py [--rounds 30]

The server runs in this process and loop, so both measurements pay for it alike. Before each
cycle the Node is reset (outside the timing) so every timed cycle really sends its PATCH.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from kubeapi.server import KubeApiServer  # noqa: E402
from kvnuma.agent.core import Agent, AgentSettings  # noqa: E402
from kvnuma.agent.discovery import make_discovery  # noqa: E402
from kvnuma.agent.logs import JsonLog  # noqa: E402
from kvnuma.kube import NODES, ClusterConfig, KubeClient  # noqa: E402
from kvnuma.topology.capabilities import write_capabilities  # noqa: E402
from support.hostbuilder import render_sysfs, synthetic_host  # noqa: E402

NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "big", "labels": {"example.com/zone": "z"}}}


async def measure(
    label: str, action: Callable[[], Awaitable[object]], reset: Callable[[], None], rounds: int
) -> tuple[float, int]:
    """Median wall time over ``rounds`` untraced runs, then peak traced memory over 5 more."""
    times = []
    for _ in range(rounds):
        reset()
        started = time.perf_counter()
        await action()
        times.append(time.perf_counter() - started)
    peak = 0
    for _ in range(5):
        reset()
        tracemalloc.start()
        await action()
        peak = max(peak, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    median, p90 = statistics.median(times), sorted(times)[max(0, int(rounds * 0.9) - 1)]
    print(f"{label:<34} median {median * 1e3:7.2f} ms  p90 {p90 * 1e3:7.2f} ms  peak {peak / 1024:7.1f} KiB")
    return median, peak


async def main(rounds: int) -> None:
    topology = synthetic_host()
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "sys"
        render_sysfs(topology, tree)
        proc = Path(scratch) / "proc"
        (proc / "sys" / "kernel").mkdir(parents=True)
        (proc / "sys" / "kernel" / "sched_rt_runtime_us").write_text("950000\n")
        async with KubeApiServer() as api, KubeClient(ClusterConfig(api.url)) as client:
            api.put_object(NODE)
            settings = AgentSettings("big", proc_root=proc, capabilities_out=Path(scratch) / "caps.xml")
            agent = Agent(
                settings,
                make_discovery(tree),
                client,
                render_capabilities=write_capabilities,
                log=JsonLog(io.StringIO()),
            )
            print(f"host: {topology.cpu_count} CPUs in {len(topology.cells)} cells; {rounds} rounds each")

            def reset() -> None:
                api.put_object(NODE)
                (Path(scratch) / "caps.xml").unlink(missing_ok=True)

            async def cycle() -> None:
                result = await agent.cycle()
                assert result.ok, result
                assert result.patch is not None

            await cycle()  # warm-up: imports, connection
            get_time, get_peak = await measure(
                "bare GET of the Node", lambda: client.get(NODES, "big"), reset, rounds
            )
            discover = make_discovery(tree)

            async def discover_only() -> None:
                discover()

            disc_time, _ = await measure("discovery only (sysfs)", discover_only, reset, rounds)
            cycle_time, cycle_peak = await measure("agent cycle (discover+diff+patch)", cycle, reset, rounds)
            time_ratio, memory_ratio = cycle_time / get_time, cycle_peak / get_peak
            print(f"ratio cycle/GET: time {time_ratio:.1f}x, peak memory {memory_ratio:.1f}x")
            print(f"ratio discovery/cycle: time {disc_time / cycle_time:.2f}")
            print("published:", api.get_object("Node/big")["metadata"]["annotations"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    asyncio.run(main(parser.parse_args().rounds))
