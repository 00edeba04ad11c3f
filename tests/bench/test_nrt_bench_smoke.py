"""The --nrt benchmark runs end to end at a small size (the full size by hand)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_webhook_nrt_bench_at_200_nodes() -> None:
    done = subprocess.run(
        [sys.executable, "bench/webhook_nrt_bench.py", "--nodes", "200", "--requests", "60",
         "--warmup", "10", "--events", "500"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "kvnuma, capacity from NodeResourceTopology" in out
    assert "no-op handler, the NRT process" in out
    ratios = [line for line in out.splitlines() if line.startswith("p99 ratio NRT / annotations")]
    assert len(ratios) == 1
    assert float(ratios[0].split()[-1]) > 0
