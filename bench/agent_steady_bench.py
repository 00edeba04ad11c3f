"""The node agent's steady state: RSS and CPU per resync cycle, beside a bare sleeping interpreter.

A real ``kvnuma agent`` process (448-CPU synthetic sysfs, the API test server in another process)
re-discovers every ``--interval`` seconds; after a warm-up, its RSS and CPU time (utime + stime from
/proc) are sampled over a window and divided by the cycles it ran (its
``kvnuma_agent_discovery_duration_seconds_count``). Beside it, in the same run, a bare
``python3 -c 'import time; time.sleep(...)'`` process (the interpreter's floor).

    .venv/bin/python bench/agent_steady_bench.py [--interval 1] [--window 20]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "big"}}
TICK = os.sysconf("SC_CLK_TCK")


def api_main(pipe: Connection) -> None:
    import asyncio

    from kubeapi.server import KubeApiServer

    async def main() -> None:
        async with KubeApiServer() as api:
            api.put_object(NODE)
            pipe.send(api.url)
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)

    asyncio.run(main())


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    found = re.search(rf"{key}:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    assert found is not None
    return int(found.group(1)) / 1024


def cycles(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    found = re.search(r"^kvnuma_agent_discovery_duration_seconds_count ([0-9.e+]+)$", text, re.M)
    return int(float(found.group(1))) if found else 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--warmup", type=float, default=4.0)
    parser.add_argument("--window", type=float, default=20.0)
    args = parser.parse_args()
    from support.hostbuilder import render_sysfs, synthetic_host

    parent, child = mp.Pipe()
    api = mp.get_context("spawn").Process(target=api_main, args=(child,))
    api.start()
    url = str(parent.recv())
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "sys"
        topology = synthetic_host()
        render_sysfs(topology, tree)
        proc = Path(scratch) / "proc" / "sys" / "kernel"
        proc.mkdir(parents=True)
        (proc / "sched_rt_runtime_us").write_text("950000\n")
        port = free_port()
        agent = subprocess.Popen(
            [str(Path(sys.executable).parent / "kvnuma"), "agent", "--node-name", "big",
             "--interval", str(args.interval),
             "--sysfs", str(tree), "--proc", str(Path(scratch) / "proc"), "--server", url,
             "--listen", f"127.0.0.1:{port}", "--capabilities-out", str(Path(scratch) / "caps.xml")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        bare = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
        try:
            listening = time.monotonic() + 120
            while True:  # the process starts (imports) before it listens; a loaded machine is slow
                try:
                    cycles(port)
                    break
                except OSError:
                    if time.monotonic() > listening or agent.poll() is not None:
                        raise
                    time.sleep(0.1)
            time.sleep(args.warmup)
            a_cpu, b_cpu, a_cycles = cpu_seconds(agent.pid), cpu_seconds(bare.pid), cycles(port)
            time.sleep(args.window)
            a_cpu = cpu_seconds(agent.pid) - a_cpu
            b_cpu = cpu_seconds(bare.pid) - b_cpu
            ran = cycles(port) - a_cycles
            a_rss, a_peak = rss_mb(agent.pid), rss_mb(agent.pid, "VmHWM")
            b_rss, b_peak = rss_mb(bare.pid), rss_mb(bare.pid, "VmHWM")
        finally:
            for process in (agent, bare):
                process.terminate()
                process.wait(10)
            parent.send("stop")
            api.join(10)
    print(
        f"agent steady state: {topology.cpu_count}-CPU synthetic host, --interval {args.interval:g} s, "
        f"{args.window:g} s window, {ran} cycles, same run"
    )
    print(f"{'':34} {'RSS MB':>8} {'peak MB':>8} {'CPU s':>8} {'CPU ms/cycle':>13} {'CPU %':>6}")
    per_cycle = a_cpu / ran * 1e3 if ran else float("nan")
    print(
        f"{'kvnuma agent':34} {a_rss:8.1f} {a_peak:8.1f} {a_cpu:8.2f} {per_cycle:13.1f} "
        f"{a_cpu / args.window * 100:6.1f}"
    )
    print(f"{'python3 -c sleep (bare interpreter)':34} {b_rss:8.1f} {b_peak:8.1f} {b_cpu:8.2f} {'':>13} "
          f"{b_cpu / args.window * 100:6.1f}")  # fmt: skip
    print(f"ratio agent / bare: RSS {a_rss / b_rss:.1f}x; CPU above the bare process {a_cpu - b_cpu:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
