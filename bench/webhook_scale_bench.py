# ruff: noqa: E501
"""The webhook's node cache at cluster scale: realistic Nodes served by the API test server.

For each cluster size the API test server runs in its own process with N realistic Nodes (about
12 KB of JSON each: status capacity/allocatable, 24 labels including NFD
``feature.node.kubernetes.io/*``, 40 images, conditions, nodeInfo, the kvnuma annotations) and a
KubeVirt CR annotated ``kvnuma.io/auto-numa: "true"``. A webhook process (the same stack as
``kvnuma webhook --source kube``) is spawned against it and measured. On 2 or more CPUs the webhooks
run on CPU 0, the API server (at nice 19) and this driver on CPU 1 (a real API server is on other
machines; without this the driver's own timings wait behind the API server serving pages):

  ready      time from spawning the webhook process to its first ``/readyz`` 200
  RSS        the webhook process's peak RSS (VmHWM) when ready, and at the end of the run
  bytes      API bytes the webhook read (``kvnuma_webhook_api_bytes_received``)
  p99        admission over keep-alive TLS, paced, alternating the real handler and a no-op handler
             in the same process; and the p99 of the same webhook against a 1-node cluster
  re-list    p99 while the API server expires the webhook's watch again and again (410 -> re-list
             beside the old cache), beside the idle p99 of the same process

``new`` is the current source (metadata-only, ``limit=500`` pages, cache built beside and swapped);
``old`` is the same-run baseline of the previous behaviour (one unpaginated full-object LIST), run
only up to ``--old-max`` nodes (a 50,000-node full list needs several GB). Ratios are printed; the
script asserts nothing about time.

    .venv/bin/python bench/webhook_scale_bench.py                       (1k, 10k, 50k: ~4-5 min)
    .venv/bin/python bench/webhook_scale_bench.py --sizes 200 --old-max 200 --requests 300   (smoke)

Goals (issue 13): at 50,000 nodes ready within 10 s and under 150 MB RSS; bytes at most a fifth of
a full-object list; p99 at 50,000 nodes within 10% of p99 at one node; p99 during a re-list within
2x the idle p99.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import multiprocessing as mp
import os
import re
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from bench.loadgen import Client, noop_admission, p99, paced, serving_tls  # noqa: E402

REVIEW = ROOT / "examples" / "reviews" / "large-vmi.json"
MUTATE = "/mutate-virtualmachineinstances"

# --- realistic Nodes --------------------------------------------------------------------------

_IMAGES = [
    {
        "names": [
            f"registry.example.com/team-{i % 7}/service-{i}@sha256:{(i * 2654435761) % (1 << 64):016x}{'0' * 48}",
            f"registry.example.com/team-{i % 7}/service-{i}:v1.{i}.{i % 5}",
        ],
        "sizeBytes": 10_000_000 + i * 7_654_321,
    }
    for i in range(40)
]


def realistic_node(i: int) -> dict[str, Any]:
    """One Node as a kubelet on a KubeVirt worker reports it (about 12 KB of JSON)."""
    name = f"worker-{i:05d}.cluster.example.com"
    zone = f"zone-{i % 3}"
    cpus = 32 + (i % 4) * 16
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node-role.kubernetes.io/worker": "",
        "node.kubernetes.io/instance-type": f"metal-{cpus}c",
        "topology.kubernetes.io/region": "region-1",
        "topology.kubernetes.io/zone": zone,
        "cpumanager": "true",
        "kubevirt.io/schedulable": "true",
        "kubevirt.io/realtime": "true",
        "feature.node.kubernetes.io/cpu-cpuid.AVX512F": "true",
        "feature.node.kubernetes.io/cpu-cpuid.AVX512VNNI": "true",
        "feature.node.kubernetes.io/cpu-cpuid.VMX": "true",
        "feature.node.kubernetes.io/cpu-hardware_multithreading": "true",
        "feature.node.kubernetes.io/cpu-model.family": "6",
        "feature.node.kubernetes.io/cpu-model.id": "143",
        "feature.node.kubernetes.io/cpu-model.vendor_id": "Intel",
        "feature.node.kubernetes.io/kernel-version.full": "6.1.0-27-amd64",
        "feature.node.kubernetes.io/memory-numa": "true",
        "feature.node.kubernetes.io/pci-10de.present": "true" if i % 5 == 0 else "false",
        "feature.node.kubernetes.io/system-os_release.ID": "debian",
        "feature.node.kubernetes.io/system-os_release.VERSION_ID": "12",
    }
    annotations = {
        "kubevirt.io/max-single-numa-cpus": str(cpus // 2),
        "kubevirt.io/max-single-numa-memory": f"{96 + (i % 8) * 32}Gi",
        "kubevirt.io/max-single-numa-hugepages-1Gi": f"{32 + (i % 4) * 16}Gi",
        "kubevirt.io/max-single-numa-hugepages-2Mi": "2Gi",
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
        "csi.volume.kubernetes.io/nodeid": f'{{"csi.example.com":"{name}"}}',
        "kubevirt.io/heartbeat": "2026-12-02T19:00:00Z",
        "nfd.node.kubernetes.io/feature-labels": "cpu-cpuid.AVX512F,cpu-cpuid.VMX,memory-numa,pci-10de.present",
    }
    resources = {
        "cpu": str(cpus),
        "memory": f"{cpus * 8}Gi",
        "pods": "250",
        "ephemeral-storage": "936Gi",
        "hugepages-1Gi": "64Gi",
        "hugepages-2Mi": "4Gi",
        "devices.kubevirt.io/kvm": "1k",
        "devices.kubevirt.io/tun": "1k",
        "devices.kubevirt.io/vhost-net": "1k",
    }
    stamp = "2026-12-02T19:00:00Z"
    conditions = [
        {
            "type": kind,
            "status": status,
            "lastHeartbeatTime": stamp,
            "lastTransitionTime": stamp,
            "reason": reason,
            "message": message,
        }
        for kind, status, reason, message in (
            (
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ("NetworkUnavailable", "False", "CalicoIsUp", "Calico is running on this node"),
        )
    ]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "uid": f"{i:08x}-0000-4000-8000-{i:012x}",
            "resourceVersion": str(1000 + i),
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": labels,
            "annotations": annotations,
        },
        "spec": {
            "podCIDR": f"10.{i >> 8 & 255}.{i & 255}.0/24",
            "podCIDRs": [f"10.{i >> 8 & 255}.{i & 255}.0/24"],
            "providerID": f"metal://{name}",
        },
        "status": {
            "capacity": resources,
            "allocatable": dict(resources, cpu=str(cpus - 2), memory=f"{cpus * 8 - 4}Gi"),
            "conditions": conditions,
            "addresses": [
                {"type": "InternalIP", "address": f"192.168.{i >> 8 & 255}.{i & 255}"},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": f"{i:032x}",
                "systemUUID": f"{i:08x}-1111-2222-3333-{i:012x}",
                "bootID": f"{i:08x}-4444-5555-6666-{i:012x}",
                "kernelVersion": "6.1.0-27-amd64",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "containerRuntimeVersion": "containerd://1.7.24",
                "kubeletVersion": "v1.33.0",
                "kubeProxyVersion": "v1.33.0",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
            "images": _IMAGES,  # shared by every node in the server's memory; copied when served
        },
    }


KUBEVIRT = {
    "apiVersion": "kubevirt.io/v1",
    "kind": "KubeVirt",
    "metadata": {"name": "kubevirt", "namespace": "kubevirt", "annotations": {"kvnuma.io/auto-numa": "true"}},
    "spec": {"configuration": {"developerConfiguration": {"featureGates": ["CPUManager"]}}},
}

# --- the API server process -------------------------------------------------------------------


def fill(api: Any, count: int) -> None:
    """Put ``count`` Nodes straight into the store (``put_object`` would also record history and
    managed fields for each, which at 50,000 Nodes costs minutes and gigabytes)."""
    store = api.store
    res = store.by_kind("v1", "Node")
    for i in range(count):
        obj = realistic_node(i)
        store.rv += 1
        obj["metadata"]["resourceVersion"] = str(store.rv)
        store.objects[store.key_of(res, obj)] = obj
    store.oldest_rv = store.rv


def pin(cpu: int) -> None:
    """Keep the API server off the webhook's CPU, as a real API server runs on other machines."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {cpu % (os.cpu_count() or 1)})


def api_main(count: int, pipe: Connection) -> None:
    from kubeapi.server import KubeApiServer

    pin(1)
    os.nice(19)  # and below the driver that shares its CPU, so the driver's clock reads promptly

    async def main() -> None:
        api = KubeApiServer(bookmark_interval=30)
        fill(api, count)
        api.put_object(KUBEVIRT)
        await api.start()
        pipe.send(api.url)
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, pipe.recv)
            if command == "relist":
                api.compact()  # open watches get a 410 ERROR event: the webhook lists again
                pipe.send("ok")
            elif command == "cut":
                api.faults.drop_watches()  # the streams end mid-flight: the webhook lists again
                pipe.send("ok")
            else:
                break
        await api.stop()

    asyncio.run(main())


# --- the webhook process ----------------------------------------------------------------------


class _Swaps(logging.Handler):
    """Sends the moment of each re-list's swap (the webhook's own log line) to the driver."""

    def __init__(self, pipe: Connection) -> None:
        super().__init__(logging.INFO)
        self.pipe = pipe

    def emit(self, record: logging.LogRecord) -> None:
        if "re-listed, cache swapped" in record.getMessage():
            self.pipe.send(record.created)


def webhook_main(
    url: str,
    variant: str,
    files: tuple[str, str],
    pipe: Connection,
    cpu: int,
    *,
    tuning: dict[str, Any] | None = None,
    swaps: Connection | None = None,
) -> None:
    cert, key = files
    if swaps is not None:
        log = logging.getLogger("kvnuma.webhook")
        log.setLevel(logging.INFO)
        log.addHandler(_Swaps(swaps))

    from kvnuma.kube import ClusterConfig
    from kvnuma.webhook.cache import ClusterCache
    from kvnuma.webhook.handlers import WebhookState, build_app
    from kvnuma.webhook.kube_source import kube_source
    from kvnuma.webhook.server import WebhookServer

    pin(cpu)
    variants: dict[str, dict[str, Any]] = {
        "old": {"page_size": None, "metadata_only": False},
        "new": tuning or {},
        "watch-list": {"watch_list": True, **(tuning or {})},
    }
    options = variants[variant]

    async def main() -> None:
        state = WebhookState(cache=ClusterCache())
        app = build_app(state)

        app.router.add_post("/noop", noop_admission)
        source = kube_source(ClusterConfig(url), resync_seconds=600, **options)
        server = WebhookServer(
            state, cert=Path(cert), key=Path(key), host="127.0.0.1", port=0, app=app, source=source
        )
        pipe.send(await server.start())
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        await server.stop()

    asyncio.run(main())


# --- the driver -------------------------------------------------------------------------------


def rss_peak_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", text).group(1)) / 1024  # type: ignore[union-attr]


def metric(client: Client, name: str) -> float:
    _status, text = client.call("GET", "/metrics")
    found = re.search(rf"^{name} ([0-9.e+]+)$", text.decode(), re.M)
    return float(found.group(1)) if found else float("nan")


@dataclass
class Result:
    ready_s: float = float("nan")
    rss_ready_mb: float = float("nan")
    rss_end_mb: float = float("nan")
    bytes: float = float("nan")
    p99_ms: float = float("nan")
    noop_p99_ms: float = float("nan")
    one_p99_ms: float = float("nan")  # the 1-node webhook, interleaved with this one
    relist_p99_ms: float = float("nan")
    relist_idle_p99_ms: float = float("nan")  # the same process idle, interleaved the same way
    relist_one_p99_ms: float = float("nan")
    relist_one_idle_p99_ms: float = float("nan")
    relist_requests: int = 0  # admission requests sent during a re-list
    relists: int = 0
    note: str = ""


class Webhook:
    """A webhook process against ``url``; ``ready()`` waits for its first /readyz 200."""

    def __init__(
        self,
        url: str,
        variant: str,
        tls: tuple[str, str, ssl.SSLContext],
        cpu: int = 0,
        tuning: dict[str, Any] | None = None,
    ) -> None:
        cert, key, self.context = tls
        self.parent, child = mp.Pipe()
        self.swaps, swaps = mp.Pipe(duplex=False)  # the time of each re-list's swap
        self.started = time.monotonic()
        self.process = mp.get_context("spawn").Process(
            target=webhook_main,
            args=(url, variant, (cert, key), child, cpu),
            kwargs={"tuning": tuning, "swaps": swaps},
        )
        self.process.start()
        self.port = int(self.parent.recv())
        self.client = Client(self.port, self.context)

    def ready(self, timeout: float) -> float | str:
        deadline = self.started + timeout
        while self.client.call("GET", "/readyz")[0] != 200:
            if not self.process.is_alive():
                return "webhook died"
            if time.monotonic() > deadline:
                return f"not ready after {timeout:.0f} s"
            time.sleep(0.02)
        return time.monotonic() - self.started

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def connect(self) -> Client:
        return Client(self.port, self.context)

    def stop(self) -> None:
        if self.process.is_alive():
            self.parent.send("stop")
            self.process.join(20)
        if self.process.is_alive():
            self.process.kill()


class Api:
    def __init__(self, count: int) -> None:
        self.parent, child = mp.Pipe()
        self.process = mp.get_context("spawn").Process(target=api_main, args=(count, child))
        self.process.start()
        self.url = str(self.parent.recv())

    def command(self, command: str) -> None:
        """``relist``: expire the open watches (410); ``cut``: cut them mid-stream."""
        self.parent.send(command)
        self.parent.recv()

    def stop(self) -> None:
        self.parent.send("stop")
        self.process.join(30)
        if self.process.is_alive():
            self.process.kill()


Tls = tuple[str, str, ssl.SSLContext]


def measure(
    api: Api, variant: str, one: Webhook, tls: Tls, body: bytes, *, args: argparse.Namespace, relist: bool
) -> Result:
    hook = Webhook(api.url, variant, tls, tuning=tuning(args))
    result = Result()
    try:
        ready = hook.ready(args.ready_timeout)
        if isinstance(ready, str):
            result.note = ready
            return result
        result.ready_s = ready
        result.rss_ready_mb = rss_peak_mb(hook.pid)
        result.bytes = metric(hook.client, "kvnuma_webhook_api_bytes_received")
        status, answer = hook.client.call("POST", MUTATE, body)
        assert status == 200, answer[:300]
        assert b'"patch"' in answer, answer[:300]
        calls = [
            post(hook.client, MUTATE, body),
            post(hook.client, "/noop", body),
            post(one.client, MUTATE, body),
        ]
        paced(calls, args.warmup, args.rate)
        full, noop, single = paced(calls, args.requests, args.rate)
        result.p99_ms, result.noop_p99_ms, result.one_p99_ms = p99(full), p99(noop), p99(single)
        if relist:
            relist_p99(api, hook, one, body, args=args, result=result)
        result.rss_end_mb = rss_peak_mb(hook.pid)
    finally:
        hook.stop()
    return result


def post(client: Client, path: str, body: bytes) -> Callable[[], bytes]:
    return functools.partial(client.post, path, body)


def relist_p99(
    api: Api, hook: Webhook, one: Webhook, body: bytes, *, args: argparse.Namespace, result: Result
) -> None:
    """Admission p99 during re-lists forced as on a real cluster, beside the idle p99 of the same
    process at the same moments: one paced load runs for ``--relist-seconds`` while the API server,
    after an idle gap (as long as the last re-list took, at least ``--relist-gap``), in turn expires the webhook's watch (an ERROR event with a 410 Status) or cuts
    the stream (fault injection); a re-list is under way from the fault to the swap the webhook logs
    (its log line's time, sent over a pipe: nothing polls the webhook meanwhile), and each request
    counts as "re-list" if it was sent inside such a window, else "idle". The 1-node webhook on the
    same CPU is loaded and split the same way (the machine's own noise)."""
    load = hook.connect()
    sent: list[float] = []

    def tagged() -> bytes:
        sent.append(time.time())
        return load.post(MUTATE, body)

    latencies: list[list[float]] = []
    done = threading.Event()

    def run_load() -> None:
        latencies.extend(
            paced([tagged, post(one.client, MUTATE, body)], int(args.relist_seconds * args.rate), args.rate)
        )
        done.set()

    thread = threading.Thread(target=run_load)
    thread.start()
    faults = ["relist", "cut"]
    windows: list[tuple[float, float]] = []
    gap = args.relist_gap
    while not done.wait(gap):
        start = time.time()
        api.command(faults[len(windows) % 2])
        while not hook.swaps.poll(0.1):
            if done.is_set():
                break
        else:
            windows.append((start, hook.swaps.recv()))
            # idle as long as the re-list took, so both samples are about the same size
            gap = max(args.relist_gap, windows[-1][1] - start)
            continue
        windows.append((start, float("inf")))  # still under way when the load ended
        break
    thread.join()
    result.relists = sum(end != float("inf") for _start, end in windows)
    busy = [any(start <= t < end for start, end in windows) for t in sent]
    full, single = latencies
    during = [t for t, b in zip(full, busy, strict=True) if b]
    idle = [t for t, b in zip(full, busy, strict=True) if not b]
    result.relist_p99_ms, result.relist_idle_p99_ms = p99(during), p99(idle)
    result.relist_one_p99_ms = p99([t for t, b in zip(single, busy, strict=True) if b])
    result.relist_one_idle_p99_ms = p99([t for t, b in zip(single, busy, strict=True) if not b])
    result.relist_requests = len(during)


def tuning(args: argparse.Namespace) -> dict[str, Any]:
    """kube_source options given on the command line (to compare settings; default: the source's)."""
    found: dict[str, Any] = {}
    if args.relist_page_size is not None:
        found["relist_page_size"] = args.relist_page_size
    if args.relist_pause is not None:
        found["relist_pause"] = args.relist_pause
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument(
        "--old-max", type=int, default=10000, help="largest size for the old full-object baseline"
    )
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument(
        "--rate", type=float, default=200.0, help="rounds a second (each round calls 3 targets)"
    )
    parser.add_argument("--ready-timeout", type=float, default=120.0)
    parser.add_argument("--watch-list", action="store_true", help="also run the streaming watch-list variant")
    parser.add_argument(
        "--relist-seconds", type=float, default=60.0, help="length of the load run that forces re-lists"
    )
    parser.add_argument(
        "--relist-gap", type=float, default=1.0, help="least idle seconds before each forced re-list"
    )
    parser.add_argument("--relist-page-size", type=int, help="override kube_source's relist_page_size")
    parser.add_argument("--relist-pause", type=float, help="override kube_source's relist_pause (seconds)")
    args = parser.parse_args()
    pin(1)  # the driver shares the API server's CPU; it sleeps between calls
    sizes = [int(s) for s in args.sizes.split(",")]
    body = REVIEW.read_bytes()
    rows: list[tuple[int, str, Result]] = []
    with serving_tls() as (cert, key, context):
        tls = (cert, key, context)
        single_api = Api(1)
        one = Webhook(single_api.url, "new", tls)  # on the measured webhook's CPU: same machine, same moments
        try:
            assert not isinstance(one.ready(args.ready_timeout), str), "the 1-node webhook never got ready"
            for size in sizes:
                t0 = time.monotonic()
                api = Api(size)
                print(
                    f"# {size:,} nodes: API server filled in {time.monotonic() - t0:.1f} s", file=sys.stderr
                )
                try:
                    variants = (
                        ["new"]
                        + (["watch-list"] if args.watch_list else [])
                        + (["old"] if size <= args.old_max else [])
                    )
                    for variant in variants:
                        result = measure(api, variant, one, tls, body, args=args, relist=variant != "old")
                        rows.append((size, variant, result))
                        print(f"# {size:,} {variant}: {result}", file=sys.stderr)
                finally:
                    api.stop()
        finally:
            one.stop()
            single_api.stop()
    node_bytes = len(json.dumps(realistic_node(1)))
    print(
        f"webhook node cache at scale: realistic Nodes ({node_bytes:,} B of JSON each), admission at {args.rate:.0f} req/s, "
        f"{args.requests} requests per path, interleaved with a 1-node webhook and a no-op handler, same run"
    )
    print(
        f"{'nodes':>7} {'variant':<10} {'ready s':>8} {'RSS ready':>9} {'RSS end':>8} {'MB recv':>8} {'p99 ms':>7} {'no-op':>6} {'1 node':>6} {'/1 node':>7} {'re-list':>8} {'idle':>6} {'/idle':>6}"
    )
    for size, variant, r in rows:
        line = (
            f"{size:>7,} {variant:<10} {r.ready_s:8.2f} {r.rss_ready_mb:7.0f}MB {r.rss_end_mb:6.0f}MB {r.bytes / 1e6:8.1f} "
            f"{r.p99_ms:7.3f} {r.noop_p99_ms:6.3f} {r.one_p99_ms:6.3f} {r.p99_ms / r.one_p99_ms:7.2f}"
        )
        if r.relist_requests:
            line += (
                f" {r.relist_p99_ms:8.3f} {r.relist_idle_p99_ms:6.3f} {r.relist_p99_ms / r.relist_idle_p99_ms:6.2f}"
                f"  ({r.relists} re-lists, {r.relist_requests} requests during them; 1-node p99 meanwhile {r.relist_one_p99_ms:.3f}, idle {r.relist_one_idle_p99_ms:.3f})"
            )
        print(line + (f"  {r.note}" if r.note else ""))
    for size in sorted({s for s, v, _r in rows if v == "old"}):
        old = next(r for s, v, r in rows if s == size and v == "old")
        new = next(r for s, v, r in rows if s == size and v == "new")
        print(
            f"{size:,} nodes, new / old full-object list: bytes {new.bytes / old.bytes:.3f}, "
            f"ready {new.ready_s / old.ready_s:.2f}, peak RSS {new.rss_ready_mb / old.rss_ready_mb:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
