# ruff: noqa: E501
"""The webhook's node cache at cluster scale: realistic Nodes served by the API test server.

For each cluster size the API test server runs in its own process with N realistic Nodes (about
12 KB of JSON each: status capacity/allocatable, 24 labels including NFD
``feature.node.kubernetes.io/*``, 40 images, conditions, nodeInfo, the kvnuma annotations) and a
KubeVirt CR annotated ``kvnuma.io/auto-numa: "true"``. A webhook process (the same stack as
``kvnuma webhook --source kube``) is spawned against it and measured:

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

    .venv/bin/python bench/webhook_scale_bench.py                       (1k, 10k, 50k: ~3-4 min)
    .venv/bin/python bench/webhook_scale_bench.py --sizes 200 --old-max 200 --requests 300   (smoke)

Goals (issue 13): at 50,000 nodes ready within 10 s and under 150 MB RSS; bytes at most a fifth of
a full-object list; p99 at 50,000 nodes within 10% of p99 at one node; p99 during a re-list within
2x the idle p99.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import re
import socket
import ssl
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
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


def api_main(count: int, pipe: Connection) -> None:
    from kubeapi.server import KubeApiServer

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
            else:
                break
        await api.stop()

    asyncio.run(main())


# --- the webhook process ----------------------------------------------------------------------


def webhook_main(url: str, variant: str, cert: str, key: str, pipe: Connection) -> None:
    import orjson
    from aiohttp import web

    from kvnuma.admission import build_response
    from kvnuma.kube import ClusterConfig
    from kvnuma.webhook.cache import ClusterCache
    from kvnuma.webhook.handlers import WebhookState, build_app
    from kvnuma.webhook.kube_source import kube_source
    from kvnuma.webhook.server import WebhookServer

    variants: dict[str, dict[str, Any]] = {
        "old": {"page_size": None, "metadata_only": False},
        "new": {},
        "watch-list": {"watch_list": True},
    }
    options = variants[variant]

    async def main() -> None:
        state = WebhookState(cache=ClusterCache())
        app = build_app(state)

        async def noop(request: web.Request) -> web.Response:
            review = orjson.loads(await request.read())
            return web.Response(
                body=orjson.dumps(build_response(review["request"]["uid"], allowed=True)),
                content_type="application/json",
            )

        app.router.add_post("/noop", noop)
        source = kube_source(ClusterConfig(url), resync_seconds=600, **options)
        server = WebhookServer(
            state, cert=Path(cert), key=Path(key), host="127.0.0.1", port=0, app=app, source=source
        )
        pipe.send(await server.start())
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        await server.stop()

    asyncio.run(main())


# --- the driver -------------------------------------------------------------------------------


class Client:
    def __init__(self, port: int, context: ssl.SSLContext) -> None:
        raw = socket.create_connection(("127.0.0.1", port))
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = context.wrap_socket(raw, server_hostname="localhost")
        self.buffer = b""

    def call(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        self.sock.sendall(head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("webhook closed the connection")
            self.buffer += chunk
        header, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = int(
            next(h for h in header.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1]
        )
        while len(rest) < length:
            rest += self.sock.recv(65536)
        self.buffer = rest[length:]
        return int(header.split(b" ")[1]), rest[:length]


def paced(client: Client, body: bytes, paths: list[str], count: int, rate: float) -> dict[str, list[float]]:
    lat: dict[str, list[float]] = {p: [] for p in paths}
    interval = 1.0 / rate
    start = time.perf_counter()
    for i in range(count):
        due = start + i * interval
        for path in paths:
            now = time.perf_counter()
            if now < due:
                time.sleep(due - now)
            t0 = time.perf_counter()
            status, _ = client.call("POST", path, body)
            lat[path].append(time.perf_counter() - t0)
            assert status == 200
            due += interval / len(paths)
    return lat


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1e3


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
    relist_p99_ms: float = float("nan")
    relists: int = 0
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)


class Api:
    def __init__(self, count: int) -> None:
        self.parent, child = mp.Pipe()
        self.process = mp.get_context("spawn").Process(target=api_main, args=(count, child))
        self.process.start()
        self.url = str(self.parent.recv())

    def relist(self) -> None:
        self.parent.send("relist")
        self.parent.recv()

    def stop(self) -> None:
        self.parent.send("stop")
        self.process.join(30)
        if self.process.is_alive():
            self.process.kill()


def measure(
    api: Api,
    variant: str,
    tls: tuple[str, str, ssl.SSLContext],
    body: bytes,
    args: argparse.Namespace,
    *,
    relist: bool,
) -> Result:
    cert, key, context = tls
    parent, child = mp.Pipe()
    started = time.monotonic()
    process = mp.get_context("spawn").Process(target=webhook_main, args=(api.url, variant, cert, key, child))
    process.start()
    result = Result()
    try:
        port = int(parent.recv())
        client = Client(port, context)
        deadline = started + args.ready_timeout
        while client.call("GET", "/readyz")[0] != 200:
            if time.monotonic() > deadline or not process.is_alive():
                result.note = (
                    f"not ready after {args.ready_timeout:.0f} s" if process.is_alive() else "webhook died"
                )
                return result
            time.sleep(0.02)
        result.ready_s = time.monotonic() - started
        assert process.pid is not None
        result.rss_ready_mb = rss_peak_mb(process.pid)
        result.bytes = metric(client, "kvnuma_webhook_api_bytes_received")
        status, answer = client.call("POST", MUTATE, body)
        assert status == 200, answer[:300]
        assert b'"patch"' in answer, answer[:300]
        paced(client, body, [MUTATE, "/noop"], args.warmup, args.rate)
        idle = paced(client, body, [MUTATE, "/noop"], args.requests, args.rate)
        result.p99_ms, result.noop_p99_ms = p99(idle[MUTATE]), p99(idle["/noop"])
        if relist:
            result.relist_p99_ms, result.relists = relist_p99(api, client, Client(port, context), body, args)
        result.rss_end_mb = rss_peak_mb(process.pid)
        client.sock.close()
    finally:
        if process.is_alive():
            parent.send("stop")
            process.join(20)
        if process.is_alive():
            process.kill()
    return result


def relist_p99(
    api: Api, load: Client, probe: Client, body: bytes, args: argparse.Namespace
) -> tuple[float, int]:
    """Admission p99 while the server expires the watch over and over (each a full re-list)."""
    latencies: list[float] = []
    done = threading.Event()

    def run_load() -> None:
        latencies.extend(paced(load, body, [MUTATE], args.requests, args.rate)[MUTATE])
        done.set()

    thread = threading.Thread(target=run_load)
    relists = 0
    thread.start()
    while not done.is_set():
        before = metric(probe, "kvnuma_webhook_node_lists")
        api.relist()
        while metric(probe, "kvnuma_webhook_node_lists") <= before and not done.is_set():
            time.sleep(0.01)
        relists += 1
    thread.join()
    return p99(latencies), relists


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument(
        "--old-max", type=int, default=10000, help="largest size for the old full-object baseline"
    )
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--rate", type=float, default=400.0)
    parser.add_argument("--ready-timeout", type=float, default=120.0)
    parser.add_argument("--watch-list", action="store_true", help="also run the streaming watch-list variant")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    body = REVIEW.read_bytes()
    import trustme

    ca = trustme.CA()
    issued = ca.issue_cert("localhost", "127.0.0.1")
    context = ssl.create_default_context()
    ca.configure_trust(context)
    rows: list[tuple[int, str, Result]] = []
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = f"{tmp}/tls.crt", f"{tmp}/tls.key"
        issued.cert_chain_pems[0].write_to_path(cert)
        issued.private_key_pem.write_to_path(key)
        tls = (cert, key, context)
        one = Api(1)
        try:
            baseline = measure(one, "new", tls, body, args, relist=False)
        finally:
            one.stop()
        rows.append((1, "new", baseline))
        for size in sizes:
            t0 = time.monotonic()
            api = Api(size)
            print(f"# {size:,} nodes: API server filled in {time.monotonic() - t0:.1f} s", file=sys.stderr)
            try:
                variants = (
                    ["new"]
                    + (["watch-list"] if args.watch_list else [])
                    + (["old"] if size <= args.old_max else [])
                )
                for variant in variants:
                    result = measure(api, variant, tls, body, args, relist=variant != "old")
                    rows.append((size, variant, result))
                    print(f"# {size:,} {variant}: {result}", file=sys.stderr)
            finally:
                api.stop()
    print(
        f"webhook node cache at scale: realistic Nodes ({len(__import__('json').dumps(realistic_node(1))):,} B of JSON each), "
        f"admission at {args.rate:.0f} req/s, {args.requests} requests, same run"
    )
    print(
        f"{'nodes':>7} {'variant':<10} {'ready s':>8} {'RSS ready':>10} {'RSS end':>8} {'MB recv':>9} {'p99 ms':>7} {'no-op':>7} {'vs 1 node':>9} {'re-list p99':>11} {'vs idle':>7}"
    )
    one_p99 = baseline.p99_ms
    old_bytes = {size: r.bytes for size, v, r in rows if v == "old"}
    for size, variant, r in rows:
        ratio_relist = r.relist_p99_ms / r.p99_ms if r.relists else float("nan")
        print(
            f"{size:>7,} {variant:<10} {r.ready_s:8.2f} {r.rss_ready_mb:8.0f}MB {r.rss_end_mb:6.0f}MB {r.bytes / 1e6:9.1f} "
            f"{r.p99_ms:7.3f} {r.noop_p99_ms:7.3f} {r.p99_ms / one_p99:9.2f} "
            + (f"{r.relist_p99_ms:8.3f} ({r.relists}x)" if r.relists else f"{'':>11}")
            + (f" {ratio_relist:7.2f}" if r.relists else "")
            + (f"  {r.note}" if r.note else "")
        )
    for size, nbytes in old_bytes.items():
        new = next(r.bytes for s, v, r in rows if s == size and v == "new")
        print(f"bytes new / old full-object list at {size:,} nodes: {new / nbytes:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
