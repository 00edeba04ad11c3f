"""PCI NUMA placement benchmark: 8 GPUs + 8 NICs on an 8-cell guest.

Measures, in the same run:
  * in-process placement (``place_pci_devices`` on the domain XML text, parse + place + write);
  * the hook process end to end (``python3 -I deploy/hook/onDefineDomain --vmi … --domain …``
    with a fake sysfs), and the same through ``python -m kvnuma.hook``;
  * the baselines: a ``python3 -I -c pass`` and a ``python3 -I -S -c pass`` process start (the
    bundle's shebang runs ``-IS``);
  * with ``--compare FILE``, another bundle in the same run (e.g. an older one:
    ``git show REV:deploy/hook/onDefineDomain > /tmp/old-hook``).
No goal: the hook runs once per VM start (issue 11 retired the 20 ms goal). Prints medians and
ratios to the baseline.

    .venv/bin/python bench/pci_bench.py [--runs 30] [--compare /tmp/old-hook]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from kvnuma.pci import place_pci_devices  # noqa: E402
from pci.pci_domains import numa_domain  # noqa: E402
from pci.pci_sysfs_tree import FakePciDevice, build_sysfs  # noqa: E402

BUNDLE = ROOT / "deploy" / "hook" / "onDefineDomain"
SYSTEM_PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable


def host() -> tuple[list[FakePciDevice], list[str]]:
    """Per host node: a GPU and a NIC under one root complex (16 devices on 8 nodes)."""
    devices = []
    for node in range(8):
        bus = 0x10 + node * 0x10
        complex_id = f"pci0000:{bus:02x}"
        bridge = f"0000:{bus:02x}:00.0"
        devices.append(FakePciDevice(f"0000:{bus + 1:02x}:00.0", node, complex_id, (bridge,)))
        devices.append(FakePciDevice(f"0000:{bus + 2:02x}:00.0", node, complex_id, (bridge,)))
    return devices, [d.address for d in devices]


def timed(action: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--compare", type=Path, help="another bundle to time in the same run")
    options = parser.parse_args()
    runs = options.runs
    devices, addresses = host()
    domain = numa_domain(8, addresses, root_ports=4)
    nodes = {d.address: d.numa_node for d in devices if d.numa_node is not None}
    groups = {d.address: d.root_complex for d in devices if d.root_complex is not None}
    placed = place_pci_devices(domain, nodes, groups=groups)
    assert placed.plan is not None
    assert len(placed.plan.expanders) == 8
    with tempfile.TemporaryDirectory() as scratch:
        sysfs = build_sysfs(Path(scratch), devices, {n: str(n) for n in range(8)})
        env = {**os.environ, "KVNUMA_SYSFS_ROOT": str(sysfs), "PYTHONPATH": str(ROOT / "src")}
        arguments = ["--vmi", "{}", "--domain", domain]

        def run(command: list[str]) -> Callable[[], object]:
            return lambda: subprocess.run(command, env=env, capture_output=True, check=True)

        results = {
            "in-process placement": timed(lambda: place_pci_devices(domain, nodes, groups=groups), runs),
            "baseline: python3 -I -c pass": timed(run([SYSTEM_PYTHON, "-I", "-c", "pass"]), runs),
            "baseline: python3 -I -S -c pass": timed(run([SYSTEM_PYTHON, "-I", "-S", "-c", "pass"]), runs),
            "hook process (bundle, python3 -I)": timed(
                run([SYSTEM_PYTHON, "-I", str(BUNDLE), *arguments]), runs
            ),
            "hook process (bundle, shebang -IS)": timed(run([str(BUNDLE), *arguments]), runs),
            "hook process (python -m kvnuma.hook)": timed(
                run([sys.executable, "-m", "kvnuma.hook", *arguments]), runs
            ),
        }
        if options.compare is not None:
            results[f"compare: {options.compare.name} (python3 -I -S)"] = timed(
                run([SYSTEM_PYTHON, "-I", "-S", str(options.compare), *arguments]), runs
            )
    baseline = statistics.median(results["baseline: python3 -I -c pass"])
    print(f"8 GPUs + 8 NICs on an 8-cell guest, {runs} runs each, medians (p90)")
    for name, samples in results.items():
        median = statistics.median(samples)
        p90 = sorted(samples)[int(len(samples) * 0.9) - 1]
        print(f"  {name:44s} {median:7.2f} ms ({p90:6.2f})  x{median / baseline:5.2f} of baseline")


if __name__ == "__main__":
    main()
