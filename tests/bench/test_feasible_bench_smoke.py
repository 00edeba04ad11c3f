"""The feasible-node threshold benchmark runs end to end at a small size (the full size by hand)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_webhook_feasible_bench_at_300_nodes() -> None:
    done = subprocess.run(
        [sys.executable, "bench/webhook_feasible_bench.py", "--nodes", "300", "--scale", "300",
         "--requests", "60", "--warmup", "10"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "feasible, constrained VMI, memo off" in out
    assert "no-op handler, constrained VMI" in out
    assert "300 nodes, feasible / cluster: ready" in out
    matches = [line.split() for line in out.splitlines() if "nodes match" in line]
    assert matches[0][:5] == ["hostname", "(1", "node)", "1", "nodes"]  # it picks one node
