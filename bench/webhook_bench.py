# ruff: noqa: E501
"""Auto-NUMA webhook latency and throughput over keep-alive TLS, beside a no-op handler.

The server runs in its own process (aiohttp + orjson + TLS, the same stack as ``kvnuma webhook``)
with N annotated nodes in its cache; it serves the real handler and a no-op handler that parses the
AdmissionReview and answers "allowed" (the floor of the stack). Three servers (5,000, 10 and 10,000
nodes) run at once; the client is a raw TLS socket per server doing HTTP/1.1 keep-alive, and each
paced round calls every target once in turn (kvnuma and no-op at 5,000 nodes, kvnuma at 10 and at
10,000), so every ratio compares requests made at the same moments. Then the cache alone absorbs
node events, beside a plain rescan of all nodes per event.

    .venv/bin/python bench/webhook_bench.py            (~35 s on 2 cores)

Goals (issue 4): p99 <= 1 ms; kvnuma/no-op p99 <= 1.3; p99 at 10,000 nodes within
10% of p99 at 10 nodes; >= 20,000 node events/s absorbed by the cache.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing as mp
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from kvnuma.admission import ClusterCapacity, NodeCapacity
from kvnuma.webhook.cache import ClusterCache
from kvnuma.webhook.handlers import MUTATE_PATH, WebhookState, build_app
from kvnuma.webhook.server import WebhookServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import loadgen
from bench.loadgen import Client, percentile

REVIEW = Path(__file__).resolve().parents[1] / "examples" / "reviews" / "large-vmi.json"
RATE = 200.0  # rounds a second; each round calls the 4 targets once
REQUESTS = 2000
WARMUP = 300


def make_node(i: int, cpus: int) -> dict[str, Any]:
    return {
        "kind": "Node",
        "metadata": {
            "name": f"node-{i:05d}",
            "annotations": {
                "kubevirt.io/max-single-numa-cpus": str(cpus),
                "kubevirt.io/max-single-numa-memory": f"{64 + i % 64}Gi",
                "kubevirt.io/max-single-numa-hugepages-1Gi": f"{32 + i % 32}Gi",
            },
        },
    }


def filled_cache(nodes: int) -> ClusterCache:
    cache = ClusterCache()
    cache.nodes.on_replace([make_node(i, 16 + i % 48) for i in range(nodes)])
    kubevirt = {"spec": {"configuration": {"developerConfiguration": {"autoNUMAEnablement": True}}}}
    cache.kubevirts.on_replace([{"kind": "KubeVirt", "metadata": {"name": "kv"}, **kubevirt}])
    return cache


def serve(nodes: int, cert: str, key: str, pipe: Connection) -> None:
    async def main() -> None:
        state = WebhookState(cache=filled_cache(nodes))
        app = build_app(state)

        app.router.add_post("/noop", loadgen.noop_admission)
        server = WebhookServer(state, cert=Path(cert), key=Path(key), host="127.0.0.1", port=0, app=app)
        pipe.send(await server.start())
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        await server.stop()

    asyncio.run(main())


def throughput(client: Client, body: bytes, path: str, seconds: float) -> float:
    done = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        client.post(path, body)
        done += 1
    return done / seconds


class Server:
    def __init__(self, nodes: int, cert: str, key: str) -> None:
        self.parent, child = mp.Pipe()
        self.process = mp.get_context("spawn").Process(target=serve, args=(nodes, cert, key, child))
        self.process.start()
        self.port = int(self.parent.recv())

    def stop(self) -> None:
        self.parent.send("stop")
        self.process.join(10)


def events_per_second(nodes: int, events: int) -> tuple[float, float]:
    cache = filled_cache(nodes)
    stream = [make_node(i % nodes, 8 + (i * 7919) % 120) for i in range(events)]
    t0 = time.perf_counter()
    for obj in stream:
        cache.nodes.on_event("MODIFIED", obj)
        cache.capacity()
    incremental = events / (time.perf_counter() - t0)
    per_node = {f"node-{i:05d}": NodeCapacity.from_node(make_node(i, 16)) for i in range(nodes)}
    scan_events = 200
    t0 = time.perf_counter()
    for obj in stream[:scan_events]:
        per_node[obj["metadata"]["name"]] = NodeCapacity.from_node(obj)
        ClusterCapacity.of(list(per_node.values()))
    rescan = scan_events / (time.perf_counter() - t0)
    return incremental, rescan


def main() -> int:
    body = REVIEW.read_bytes()
    rows: list[tuple[str, str]] = []
    with loadgen.serving_tls() as (cert, key, context):
        # Every server runs at once and each round calls every target in turn, so all of them see
        # the machine at the same moments (a shared machine's noise hits each alike).
        servers = {nodes: Server(nodes, cert, key) for nodes in (5000, 10, 10000)}
        try:
            clients = {nodes: Client(server.port, context) for nodes, server in servers.items()}
            for client in clients.values():
                assert b'"patch"' in client.post(MUTATE_PATH, body)
            targets = [(5000, MUTATE_PATH), (5000, "/noop"), (10, MUTATE_PATH), (10000, MUTATE_PATH)]
            calls = [functools.partial(clients[n].post, path, body) for n, path in targets]
            loadgen.paced(calls, WARMUP, RATE)
            latencies = dict(zip(targets, loadgen.paced(calls, REQUESTS, RATE), strict=True))
            rates = {
                "kvnuma": throughput(clients[5000], body, MUTATE_PATH, 2.0),
                "noop": throughput(clients[5000], body, "/noop", 2.0),
            }
            for client in clients.values():
                client.sock.close()
        finally:
            for server in servers.values():
                server.stop()
    incremental, rescan = events_per_second(5000, 100_000)

    k, n = latencies[5000, MUTATE_PATH], latencies[5000, "/noop"]
    p99_10, p99_10k = (
        percentile(latencies[10, MUTATE_PATH], 0.99),
        percentile(latencies[10000, MUTATE_PATH], 0.99),
    )
    print(
        f"auto-NUMA webhook, keep-alive TLS, {RATE:.0f} rounds/s over 4 targets (3 servers at once), {REQUESTS} requests each, review {len(body)} B"
    )
    print(f"{'':38} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for label, values in (
        ("kvnuma, 5,000 nodes", k),
        ("no-op handler, same stack", n),
        ("kvnuma, 10 nodes", latencies[10, MUTATE_PATH]),
        ("kvnuma, 10,000 nodes", latencies[10000, MUTATE_PATH]),
    ):
        print(
            f"{label:38} {percentile(values, 0.5):8.3f} {percentile(values, 0.99):8.3f} {statistics.mean(values) * 1e3:8.3f}"
        )
    print()
    rows.append(("p99 kvnuma @5,000 nodes (goal <= 1 ms)", f"{percentile(k, 0.99):.3f} ms"))
    rows.append(
        ("p99 ratio kvnuma / no-op (goal <= 1.3)", f"{percentile(k, 0.99) / percentile(n, 0.99):.2f}")
    )
    rows.append(("p99 ratio 10,000 / 10 nodes (goal <= 1.10)", f"{p99_10k / p99_10:.2f}"))
    rows.append(("throughput kvnuma, 1 connection", f"{rates['kvnuma']:.0f} req/s"))
    rows.append(("throughput no-op, 1 connection", f"{rates['noop']:.0f} req/s"))
    rows.append(("throughput ratio kvnuma / no-op", f"{rates['kvnuma'] / rates['noop']:.2f}"))
    rows.append(("node events absorbed, 5,000 nodes (goal >= 20,000/s)", f"{incremental:,.0f} /s"))
    rows.append(("same events with a full rescan per event (baseline)", f"{rescan:,.0f} /s"))
    rows.append(("incremental / rescan", f"{incremental / rescan:.0f}x"))
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"{label:{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
