"""The scale benchmarks run end to end at a small size (the full sizes are run by hand)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.webhook_scale_bench import realistic_node  # noqa: E402


def test_realistic_nodes_look_like_a_kubevirt_worker() -> None:
    node = realistic_node(7)
    size = len(json.dumps(node))
    labels = node["metadata"]["labels"]
    assert 11_000 <= size <= 13_500
    assert len(labels) >= 20
    assert sum(key.startswith("feature.node.kubernetes.io/") for key in labels) >= 8
    assert len(node["status"]["images"]) == 40
    assert {"capacity", "allocatable", "conditions", "nodeInfo"} <= set(node["status"])
    assert "kubevirt.io/max-single-numa-cpus" in node["metadata"]["annotations"]


def run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_webhook_scale_bench_at_200_nodes() -> None:
    out = run("bench/webhook_scale_bench.py", "--sizes", "200", "--old-max", "200", "--requests", "100",
              "--warmup", "20", "--rate", "200")  # fmt: skip
    rows = {tuple(line.split()[:2]) for line in out.splitlines() if line.strip()[:1].isdigit()}
    assert {("200", "new"), ("200", "old")} <= rows
    assert "200 nodes, new / old full-object list: bytes" in out
    assert "not ready" not in out
    assert "requests during them; 1-node p99 meanwhile" in out


def test_agent_steady_bench_runs() -> None:
    out = run("bench/agent_steady_bench.py", "--warmup", "2", "--window", "3", "--interval", "0.5")
    assert "kvnuma agent" in out
    assert "python3 -c sleep" in out
