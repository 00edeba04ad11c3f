"""The image: size, build time from a cold cache, and the webhook's start-to-ready time in a container
beside the same process started outside it, in the same run.

    .venv/bin/python bench/image_bench.py            # cold build (mmdebstrap included, ~2.5 min)
    .venv/bin/python bench/image_bench.py --warm     # skip the cold build; time a cached rebuild

Start-to-ready: from starting the process (``buildah run --isolation chroot --network host`` in an
existing working container, or ``.venv/bin/kvnuma`` directly) until ``/readyz`` answers 200 over
TLS; both serve the same certificates and the same ``file:`` cluster, alternated, 7 rounds each.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KVNUMA = Path(sys.executable).parent / "kvnuma"
USER = 65532
BUILDAH_RUN = ["buildah", "run", "--isolation", "chroot", "--network", "host"]


def build(fresh: bool) -> tuple[str, float]:
    env = {**os.environ, "KVNUMA_IMAGE_FRESH": "1" if fresh else "0"}
    start = time.monotonic()
    done = subprocess.run(
        ["bash", "scripts/build-image"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.monotonic() - start
    if done.returncode != 0:
        sys.exit(f"image_bench: scripts/build-image failed: {done.stderr.strip()[-1000:]}")
    return done.stdout.strip().splitlines()[-1], elapsed


def inspect(image: str, template: str) -> str:
    argv = ["podman", "image", "inspect", "--format", template, image]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_to_ready(argv: list[str], port: int, context: ssl.SSLContext) -> float:
    start = time.monotonic()
    process = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"image_bench: {argv[0]} exited: {process.stderr.read()[-500:]!r}")  # type: ignore[union-attr]
            try:
                with urllib.request.urlopen(
                    f"https://localhost:{port}/readyz", context=context, timeout=2
                ) as r:
                    if r.status == 200:
                        return time.monotonic() - start
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.005)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


def webhook_args(port: int, certs: str, cluster: str) -> list[str]:
    return ["webhook", "--cert", f"{certs}/tls.crt", "--key", f"{certs}/tls.key", "--host", "127.0.0.1",
            "--port", str(port), "--source", f"file:{cluster}"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warm", action="store_true", help="no cold build; time a rebuild from cache")
    parser.add_argument("--rounds", type=int, default=7)
    options = parser.parse_args()

    image, cold = build(fresh=not options.warm)
    _, cached = build(fresh=False)
    size = int(inspect(image, "{{.Size}}"))
    print(f"image          {image}  {inspect(image, '{{.Digest}}')}")
    print(f"size           {size / 1e6:.0f} MB uncompressed (goal < 150 MB)")
    if not options.warm:
        print(f"build, cold    {cold:.0f} s (mmdebstrap base, wheels, podman build)")
    print(f"build, cached  {cached:.1f} s (inputs unchanged: reuse + digest + SBOM)")

    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        tmp.chmod(0o755)
        certs, cluster = tmp / "tls", tmp / "cluster"
        subprocess.run([str(KVNUMA), "webhook", "gen-certs", "--out", str(certs), "--service", "localhost"],
                       check=True, capture_output=True)  # fmt: skip
        shutil.copytree(ROOT / "examples" / "cluster", cluster)
        for path in [certs, *certs.iterdir(), cluster, *cluster.iterdir()]:
            os.chown(path, USER, USER)
        context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        made = time.monotonic()
        container = subprocess.run(["buildah", "from", "--pull-never", image], capture_output=True, text=True,
                                   check=True).stdout.strip()  # fmt: skip
        made = time.monotonic() - made
        inside: list[float] = []
        outside: list[float] = []
        try:
            for _ in range(options.rounds):
                port = free_port()
                mounts = ["-v", f"{certs}:/tls:ro", "-v", f"{cluster}:/cluster:ro"]
                run = [*BUILDAH_RUN, *mounts, container, "--", "kvnuma"]
                inside.append(start_to_ready(run + webhook_args(port, "/tls", "/cluster"), port, context))
                port = free_port()
                here = [str(KVNUMA), *webhook_args(port, str(certs), str(cluster))]
                outside.append(start_to_ready(here, port, context))
        finally:
            subprocess.run(["buildah", "rm", container], capture_output=True, check=False)
    a, b = statistics.median(inside), statistics.median(outside)
    print(f"buildah from   {made:.2f} s (a working container, once)")
    print(f"webhook start-to-ready, median of {options.rounds}:")
    for name, times in (("in the container", inside), ("outside (venv)", outside)):
        middle, low, high = (value * 1000 for value in (statistics.median(times), min(times), max(times)))
        print(f"  {name:<18} {middle:.0f} ms  (min {low:.0f}, max {high:.0f})")
    print(f"  ratio              {a / b:.2f}x")


if __name__ == "__main__":
    main()
