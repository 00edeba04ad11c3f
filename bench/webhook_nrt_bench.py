# ruff: noqa: E501
"""``--nrt=on``: admission p99 with NodeResourceTopology objects as the capacity source, beside the
annotations (``--nrt=off``) and the no-op handler, in one run; and what the NRT side costs the cache.

1. admission  two webhook processes (the same stack as ``kvnuma webhook``), each with N nodes
              (default 10,000): one reads their annotations, one also holds an NRT object for every
              node (two Node zones with cpu, memory, two huge page sizes and a device, costs and
              attributes, as NFD's topology-updater writes them), so every threshold comes from NRT.
              Each also serves the no-op handler (parse the review, answer "allowed"), so each
              source is compared with the floor of its own process too. Paced over keep-alive TLS;
              each round calls every target once, in turn.
2. cache      in this process: N Nodes digested (a list swapped in) beside N NRT objects listed over
              them (each applied as read, its digest replacing the node's annotation one; the
              reflector feeds 25 a step) and the list's last step (the objects not seen dropped),
              and NRT watch events absorbed per second beside Node watch events.

    .venv/bin/python bench/webhook_nrt_bench.py                 (~40 s on 2 cores)
    .venv/bin/python bench/webhook_nrt_bench.py --nodes 200 --requests 60 --warmup 10   (smoke)

Ratios are printed; nothing about time is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import multiprocessing as mp
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import loadgen  # noqa: E402
from bench.loadgen import Client, percentile  # noqa: E402
from kvnuma.webhook.cache import ClusterCache  # noqa: E402
from kvnuma.webhook.handlers import MUTATE_PATH, WebhookState, build_app  # noqa: E402
from kvnuma.webhook.server import WebhookServer  # noqa: E402
from kvnuma.webhook.switch import from_flag  # noqa: E402

REVIEW = ROOT / "examples" / "reviews" / "large-vmi.json"
RATE = 200.0  # rounds a second


def make_node(i: int) -> dict[str, Any]:
    return {
        "kind": "Node",
        "metadata": {
            "name": f"node-{i:05d}",
            "annotations": {
                "kubevirt.io/max-single-numa-cpus": str(16 + i % 48),
                "kubevirt.io/max-single-numa-memory": f"{64 + i % 64}Gi",
                "kubevirt.io/max-single-numa-hugepages-1Gi": f"{32 + i % 32}Gi",
            },
        },
    }


def make_nrt(i: int, shift: int = 0) -> dict[str, Any]:
    """Node i's NodeResourceTopology: two cells, the larger one a little smaller than its annotations say."""

    def resource(name: str, capacity: str) -> dict[str, str]:
        return {"name": name, "capacity": capacity, "allocatable": capacity, "available": capacity}

    cpus, gib, huge = 14 + (i + shift) % 48, 60 + i % 64, 30 + i % 32
    zones = [
        {
            "name": f"node-{cell}",
            "type": "Node",
            "costs": [
                {"name": "node-0", "value": 10 if cell == 0 else 21},
                {"name": "node-1", "value": 21 if cell == 0 else 10},
            ],
            "attributes": [{"name": "cpumanager.policy", "value": "static"}],
            "resources": [
                resource("cpu", str(cpus - 2 * cell)),
                resource("memory", f"{gib - cell}Gi"),
                resource("hugepages-1Gi", f"{huge}Gi"),
                resource("hugepages-2Mi", "0"),
                resource("example.com/sriov-nic", "4"),
            ],
        }
        for cell in (0, 1)
    ]
    return {
        "apiVersion": "topology.node.k8s.io/v1alpha2",
        "kind": "NodeResourceTopology",
        "metadata": {"name": f"node-{i:05d}"},
        "attributes": [
            {"name": "topologyManagerPolicy", "value": "single-numa-node"},
            {"name": "topologyManagerScope", "value": "pod"},
        ],
        "zones": zones,
    }


def filled_cache(nodes: int, *, nrt: bool) -> ClusterCache:
    cache = ClusterCache(override=from_flag("on"), nrt=nrt)
    cache.nodes.on_replace([make_node(i) for i in range(nodes)])
    cache.kubevirts.on_replace([])
    if cache.nrt is not None:
        cache.nrt.on_replace([make_nrt(i) for i in range(nodes)])
        assert cache.nrt_nodes == nodes, cache.nrt_nodes
    assert cache.ready
    return cache


def serve(nodes: int, nrt: bool, cert: str, key: str, pipe: Connection) -> None:
    async def main() -> None:
        state = WebhookState(cache=filled_cache(nodes, nrt=nrt))
        app = build_app(state)

        app.router.add_post("/noop", loadgen.noop_admission)
        server = WebhookServer(state, cert=Path(cert), key=Path(key), host="127.0.0.1", port=0, app=app)
        pipe.send(await server.start())
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        await server.stop()

    asyncio.run(main())


class Server:
    def __init__(self, nodes: int, nrt: bool, cert: str, key: str) -> None:
        self.parent, child = mp.Pipe()
        self.process = mp.get_context("spawn").Process(target=serve, args=(nodes, nrt, cert, key, child))
        self.process.start()
        self.port = int(self.parent.recv())

    def stop(self) -> None:
        self.parent.send("stop")
        self.process.join(10)


def cache_costs(nodes: int, events: int) -> dict[str, float]:
    """Seconds to swap in N Nodes, N NRT objects over them; events/s for each kind of watch event."""
    node_objects = [make_node(i) for i in range(nodes)]
    nrt_objects = [make_nrt(i) for i in range(nodes)]
    cache = ClusterCache(override=from_flag("on"), nrt=True)
    assert cache.nrt is not None
    t0 = time.perf_counter()
    cache.nodes.on_replace(node_objects)
    node_list = time.perf_counter() - t0
    build = cache.nrt.replacement()
    t0 = time.perf_counter()
    build.add(nrt_objects)  # the reflector does this 25 objects a step
    nrt_list = time.perf_counter() - t0
    t0 = time.perf_counter()
    build.commit()  # one step: the objects this list did not see are dropped
    nrt_swap = time.perf_counter() - t0
    assert cache.nrt_nodes == nodes
    node_stream = [make_node((i * 7919) % nodes) for i in range(events)]
    for i, obj in enumerate(node_stream):
        obj["metadata"]["annotations"]["kubevirt.io/max-single-numa-cpus"] = str(8 + i % 120)
    nrt_stream = [make_nrt((i * 7919) % nodes, shift=i) for i in range(events)]
    t0 = time.perf_counter()
    for obj in node_stream:
        cache.nodes.on_event("MODIFIED", obj)
        cache.capacity()
    node_events = events / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for obj in nrt_stream:
        cache.nrt.on_event("MODIFIED", obj)
        cache.capacity()
    nrt_events = events / (time.perf_counter() - t0)
    return {
        "node_list": node_list,
        "nrt_list": nrt_list,
        "nrt_swap": nrt_swap,
        "node_events": node_events,
        "nrt_events": nrt_events,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    body = REVIEW.read_bytes()
    with loadgen.serving_tls() as (cert, key, context):
        servers = {nrt: Server(args.nodes, nrt, cert, key) for nrt in (False, True)}
        try:
            clients = {nrt: Client(server.port, context) for nrt, server in servers.items()}
            sources = {}
            for nrt, client in clients.items():
                answer = orjson.loads(client.post(MUTATE_PATH, body))["response"]
                assert "patch" in answer, answer
                sources[nrt] = [w for w in answer.get("warnings", []) if "capacity from" in w]
            assert not sources[False]
            assert sources[True] == [
                f"auto-NUMA: capacity from NodeResourceTopology on {args.nodes} nodes, annotations on 0"
            ], sources
            targets = [(False, MUTATE_PATH), (True, MUTATE_PATH), (False, "/noop"), (True, "/noop")]
            calls = [functools.partial(clients[nrt].post, path, body) for nrt, path in targets]
            loadgen.paced(calls, args.warmup, RATE)
            latencies = dict(zip(targets, loadgen.paced(calls, args.requests, RATE), strict=True))
            for client in clients.values():
                client.sock.close()
        finally:
            for server in servers.values():
                server.stop()
    costs = cache_costs(args.nodes, args.events)

    annotations, from_nrt, noop, noop_nrt = (
        latencies[False, MUTATE_PATH],
        latencies[True, MUTATE_PATH],
        latencies[False, "/noop"],
        latencies[True, "/noop"],
    )
    print(
        f"--nrt: admission over keep-alive TLS, {args.nodes:,} nodes, {RATE:.0f} rounds/s over 4 targets (2 servers at once), {args.requests} requests each"
    )
    print(f"{'':44} {'p50 ms':>8} {'p99 ms':>8}")
    for label, values in (
        ("kvnuma, capacity from annotations", annotations),
        ("kvnuma, capacity from NodeResourceTopology", from_nrt),
        ("no-op handler, the annotations' process", noop),
        ("no-op handler, the NRT process", noop_nrt),
    ):
        print(f"{label:44} {percentile(values, 0.5):8.3f} {percentile(values, 0.99):8.3f}")
    print()
    p99_a, p99_n, p99_0, p99_0n = (percentile(v, 0.99) for v in (annotations, from_nrt, noop, noop_nrt))
    p50_a, p50_n = percentile(annotations, 0.5), percentile(from_nrt, 0.5)
    rows = [
        ("p99 ratio NRT / annotations", f"{p99_n / p99_a:.2f}"),
        ("p50 ratio NRT / annotations", f"{p50_n / p50_a:.2f}"),
        ("p99 ratio NRT / no-op (its process)", f"{p99_n / p99_0n:.2f}"),
        ("p99 ratio annotations / no-op (its process)", f"{p99_a / p99_0:.2f}"),
        (f"{args.nodes:,} Nodes listed into the cache (annotations)", f"{costs['node_list'] * 1e3:.0f} ms"),
        (f"{args.nodes:,} NRT objects listed over them (25 a step)", f"{costs['nrt_list'] * 1e3:.0f} ms"),
        ("the list's last step (drop the unseen)", f"{costs['nrt_swap'] * 1e3:.1f} ms"),
        ("NRT list / Node list", f"{(costs['nrt_list'] + costs['nrt_swap']) / costs['node_list']:.2f}"),
        ("Node watch events absorbed", f"{costs['node_events']:,.0f} /s"),
        ("NRT watch events absorbed", f"{costs['nrt_events']:,.0f} /s"),
        ("NRT / Node events", f"{costs['nrt_events'] / costs['node_events']:.2f}"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
