"""Discovery speed: kvnuma beside ``virsh capabilities`` and ``lscpu -J``, same machine, same run.

    .venv/bin/python bench/discover_bench.py [--runs N]

1. In process: ``read_sysfs`` on a synthetic 8-cell, 448-CPU SMT tree (goal <= 5 ms) and on this
   machine's /sys; also the file reads it needed.
2. Whole commands: ``kvnuma discover -o json`` vs ``virsh capabilities`` vs ``lscpu -J``
   (process start included), beside this interpreter's own start-up (``python -I -c pass``,
   the floor of any Python command) and ``virsh -c test:///default capabilities`` (virsh
   without a daemon). ``virsh -c qemu:///system`` is skipped with a note when libvirtd does not
   answer. kvnuma runs with a bytecode cache, as an installed package does; when this shell sets
   PYTHONDONTWRITEBYTECODE (every run compiles kvnuma's sources) that figure is printed too.

Prints medians (and minimums: the machine's cores may be shared) and ratios of medians;
asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from kvnuma.topology.sysfs import DirectoryReader, parse_sysfs, read_sysfs
from support.hostbuilder import render_sysfs, synthetic_host

URI = "qemu:///system"
LAST_MIN_MS = 0.0


def median_ms(action: Callable[[], object], runs: int) -> float:
    """Median wall time in ms (the minimum is printed too: this machine's 2 cores are shared)."""
    action()  # warm the page cache and imports
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    global LAST_MIN_MS
    LAST_MIN_MS = min(times) * 1000
    return statistics.median(times) * 1000


def row(label: str, median: float, note: str = "") -> None:
    print(f"  {label:<26}{median:8.2f} ms (min {LAST_MIN_MS:6.2f})" + (f"   {note}" if note else ""))


class CountingReader(DirectoryReader):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads = 0

    def read(self, relpath: str) -> str | None:
        self.reads += 1
        return super().read(relpath)


def run_quiet(command: list[str], env: dict[str, str] | None = None) -> Callable[[], object]:
    def action() -> object:
        return subprocess.run(command, capture_output=True, check=True, env=env)

    return action


def with_bytecode_cache(folder: str) -> dict[str, str]:
    """The environment with a bytecode cache in ``folder`` (an installed package has its .pyc)."""
    env = dict(os.environ, PYTHONPYCACHEPREFIX=folder)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def libvirt_answers(virsh: str) -> bool:
    try:
        done = subprocess.run(
            [virsh, "-c", URI, "capabilities"], capture_output=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--runs", type=int, default=30, help="runs per in-process measurement (commands: a third)"
    )
    runs = parser.parse_args().runs
    command_runs = max(runs // 3, 3)

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        host = synthetic_host()
        render_sysfs(host, root)
        counting = CountingReader(root)
        assert parse_sysfs(counting) == parse_sysfs(DirectoryReader(root))
        synthetic = median_ms(lambda: read_sysfs(root), runs)
        print(f"in-process, synthetic {len(host.cells)} cells / {len(host.cpus)} CPUs (SMT2):")
        row("read_sysfs", synthetic, f"{counting.reads} file reads; goal <= 5 ms")
    this = median_ms(read_sysfs, runs)
    real = read_sysfs()
    shape = f"{len(real.cells)} cells / {len(real.cpus)} CPUs, {len(real.pci_devices)} PCI devices"
    print(f"in-process, this machine /sys ({shape}):")
    row("read_sysfs", this)

    kvnuma = str(Path(sys.executable).parent / "kvnuma")
    print(f"whole commands on this machine (median of {command_runs}):")
    with tempfile.TemporaryDirectory() as cache:
        env = with_bytecode_cache(cache)
        ours = median_ms(run_quiet([kvnuma, "discover", "-o", "json"], env), command_runs)
        row("kvnuma discover -o json", ours, "with a bytecode cache")
        if os.environ.get("PYTHONDONTWRITEBYTECODE"):
            cold = median_ms(run_quiet([kvnuma, "discover", "-o", "json"]), command_runs)
            row("  ... without one", cold, "PYTHONDONTWRITEBYTECODE is set: sources compiled per run")
        start = median_ms(run_quiet([sys.executable, "-I", "-c", "pass"], env), command_runs)
    row("python -I -c pass", start, f"kvnuma/python start-up = {ours / start:.2f}")
    lscpu = shutil.which("lscpu")
    if lscpu is not None:
        peer = median_ms(run_quiet([lscpu, "-J"]), command_runs)
        row("lscpu -J", peer, f"kvnuma/lscpu = {ours / peer:.2f}")
    else:
        print("  lscpu -J                  skipped: lscpu is not installed")
    virsh = shutil.which("virsh")
    if virsh is not None:
        peer = median_ms(run_quiet([virsh, "-c", "test:///default", "capabilities"]), command_runs)
        row("virsh test:///default caps", peer, f"kvnuma/virsh(no daemon) = {ours / peer:.2f}")
    if virsh is not None and libvirt_answers(virsh):
        peer = median_ms(run_quiet([virsh, "-c", URI, "capabilities"]), command_runs)
        row("virsh capabilities", peer, f"kvnuma/virsh = {ours / peer:.2f}")
        libvirt_source = median_ms(
            run_quiet([kvnuma, "discover", "--libvirt", URI, "-o", "json"]), command_runs
        )
        row("kvnuma discover --libvirt", libvirt_source, "virsh plus kvnuma's start-up and parse")
    else:
        print(
            "  virsh capabilities        skipped: virsh is not installed or libvirtd does not answer at "
            + URI
        )


if __name__ == "__main__":
    main()
