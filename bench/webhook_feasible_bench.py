# ruff: noqa: E501
"""The feasible-node threshold (``--threshold feasible``): admission p99 for a constrained VMI at
10,000 label-indexed nodes beside the unconstrained p99 and the no-op handler, the index's cost per
lookup, and its cost in memory and bytes at 50,000 nodes, all in one run.

1. admission  one webhook process (the same stack as ``kvnuma webhook``) holding 10,000 realistic
              Nodes (``bench/webhook_scale_bench.realistic_node``; every 20th tainted, every 100th
              cordoned) three times: the feasible cache, the same with its memo off (every lookup
              computed: a new constraint set, or the first after a node changed), and today's
              cluster threshold; plus the no-op handler. Paced over keep-alive TLS, each round calls
              every target once, in turn.
2. lookup     the index alone (memo off): microseconds per lookup by how many nodes match
3. scale      the scale bench's API server with N realistic Nodes (default 50,000); its webhook
              process (metadata-only list, cluster threshold) beside the same with the feasible
              threshold (full-object list: taints are in the spec): ready time, peak RSS, bytes

    .venv/bin/python bench/webhook_feasible_bench.py                 (~3 min on 2 cores)
    .venv/bin/python bench/webhook_feasible_bench.py --nodes 300 --scale 300 --requests 100   (smoke)

Ratios are printed; nothing about time is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import functools
import gc
import multiprocessing as mp
import os
import ssl
import sys
import time
import tracemalloc
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loadgen import Client, noop_admission, p99, serving_tls  # noqa: E402
from bench.webhook_scale_bench import (  # noqa: E402
    MUTATE,
    REVIEW,
    Api,
    Webhook,
    metric,
    pin,
    realistic_node,
    rss_peak_mb,
    webhook_main,
)

ZONE = "topology.kubernetes.io/zone"
TYPE = "node.kubernetes.io/instance-type"


def bench_node(i: int) -> dict[str, Any]:
    node = realistic_node(i)
    if i % 20 == 7:
        node["spec"]["taints"] = [{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}]
    if i % 100 == 11:
        node["spec"]["unschedulable"] = True
    return node


def constrained(review: dict[str, Any]) -> dict[str, Any]:
    """The review's VMI pinned to one zone and two of the four machine types, tolerating the
    infra taint (about a sixth of the nodes)."""
    review = copy.deepcopy(review)
    spec = review["request"]["object"]["spec"]
    spec["nodeSelector"] = {ZONE: "zone-1"}
    term = {"matchExpressions": [{"key": TYPE, "operator": "In", "values": ["metal-32c", "metal-48c"]}]}
    spec["affinity"] = {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}
    }
    spec["tolerations"] = [
        {"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}
    ]
    return review


# --- 1. admission ------------------------------------------------------------------------------


def serve(nodes: int, cert: str, key: str, pipe: Connection) -> None:

    from kvnuma.webhook.cache import ClusterCache
    from kvnuma.webhook.handlers import WebhookState, build_app
    from kvnuma.webhook.server import WebhookServer

    pin(0)
    objects = [bench_node(i) for i in range(nodes)]
    kubevirt = {
        "kind": "KubeVirt",
        "metadata": {"name": "kv", "annotations": {"kvnuma.io/auto-numa": "true"}},
    }

    def filled(cache: ClusterCache) -> WebhookState:
        cache.nodes.on_replace(objects)
        cache.kubevirts.on_replace([kubevirt])
        return WebhookState(cache=cache)

    async def main() -> None:
        state = filled(ClusterCache(feasible=True))
        app = build_app(state)
        app.add_subapp("/nomemo", build_app(filled(ClusterCache(feasible=True, memo_size=0))))
        app.add_subapp("/cluster", build_app(filled(ClusterCache())))

        app.router.add_post("/noop", noop_admission)
        objects.clear()
        gc.collect()
        gc.freeze()  # as the kube source does after a list: the caches stay out of full collections
        server = WebhookServer(state, cert=Path(cert), key=Path(key), host="127.0.0.1", port=0, app=app)
        pipe.send(await server.start())
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        await server.stop()

    asyncio.run(main())


Target = tuple[str, str, bytes]  # label, path, body


def paced(client: Client, targets: list[Target], count: int, rate: float) -> list[list[float]]:
    """``count`` rounds at ``rate`` rounds a second, each calling every target once, in turn."""
    lat: list[list[float]] = [[] for _ in targets]
    interval = 1.0 / rate
    start = time.perf_counter()
    for i in range(count):
        due = start + i * interval
        for n, (_label, path, body) in enumerate(targets):
            now = time.perf_counter()
            if now < due:
                time.sleep(due - now)
            t0 = time.perf_counter()
            status, _answer = client.call("POST", path, body)
            lat[n].append(time.perf_counter() - t0)
            assert status == 200
            due += interval / len(targets)
    return lat


def admission(args: argparse.Namespace, tls: tuple[str, str, ssl.SSLContext]) -> list[tuple[str, float]]:
    cert, key, context = tls
    review = orjson.loads(REVIEW.read_bytes())
    plain, pinned = orjson.dumps(review), orjson.dumps(constrained(review))
    targets: list[Target] = [
        ("cluster threshold, unconstrained VMI", "/cluster" + MUTATE, plain),
        ("feasible, unconstrained VMI", MUTATE, plain),
        ("feasible, constrained VMI (memoised)", MUTATE, pinned),
        ("feasible, constrained VMI, memo off", "/nomemo" + MUTATE, pinned),
        ("no-op handler, constrained VMI", "/noop", pinned),
    ]
    parent, child = mp.Pipe()
    process = mp.get_context("spawn").Process(target=serve, args=(args.nodes, cert, key, child))
    process.start()
    try:
        client = Client(int(parent.recv()), context)
        _status, answer = client.call("POST", MUTATE, pinned)
        warnings = orjson.loads(answer)["response"].get("warnings", [])
        print(f"# constrained VMI: {' | '.join(warnings)}", file=sys.stderr)
        assert any("matching nodeSelector" in w for w in warnings), warnings
        paced(client, targets, args.warmup, args.rate)
        latencies = paced(client, targets, args.requests, args.rate)
    finally:
        parent.send("stop")
        process.join(20)
    return [(label, p99(values)) for (label, _path, _body), values in zip(targets, latencies, strict=True)]


# --- 2. lookups ----------------------------------------------------------------------------------


def lookups(nodes: int) -> tuple[list[tuple[str, int, float]], float, float]:
    from kvnuma.admission.feasible import Constraints
    from kvnuma.webhook.cache import ClusterCache

    objects = [bench_node(i) for i in range(nodes)]
    sizes: list[float] = []
    caches = []
    for feasible in (False, True):
        tracemalloc.start()
        cache = ClusterCache(feasible=feasible, memo_size=0)
        cache.nodes.on_replace(objects)
        sizes.append(tracemalloc.get_traced_memory()[0] / 1e6)
        tracemalloc.stop()
        caches.append(cache)
    cache = caches[1]
    gc.collect()
    gc.freeze()  # as the webhook does after a list
    cases = [
        (
            "hostname (1 node)",
            {"nodeSelector": {"kubernetes.io/hostname": objects[nodes // 2]["metadata"]["name"]}},
        ),
        (
            "zone + 2 machine types + toleration",
            constrained({"request": {"object": {"spec": {}}}})["request"]["object"]["spec"],
        ),
        ("zone (a third)", {"nodeSelector": {ZONE: "zone-1"}}),
        (
            "NotIn zone (two thirds)",
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {"key": ZONE, "operator": "NotIn", "values": ["zone-1"]}
                                    ]
                                }
                            ]
                        }
                    }
                }
            },
        ),
        ("a label every node has", {"nodeSelector": {"kubevirt.io/schedulable": "true"}}),
        ("unconstrained", {}),
        ("tolerations only", {"tolerations": [{"key": "dedicated", "operator": "Exists"}]}),
    ]
    rows = []
    for label, spec in cases:
        constraints = Constraints.from_vmi({"spec": spec})
        repeat = 200
        cache.capacity_for(constraints)  # warm
        t0 = time.perf_counter()
        for _ in range(repeat):
            found = cache.capacity_for(constraints)
        rows.append((label, found.nodes, (time.perf_counter() - t0) / repeat * 1e6))
    return rows, sizes[0], sizes[1]


# --- 3. scale --------------------------------------------------------------------------------------


def feasible_webhook_main(url: str, variant: str, files: tuple[str, str], pipe: Connection, cpu: int) -> None:
    """The scale bench's webhook process with ``ClusterCache(feasible=True)``: its kube source
    then lists and watches full Node objects."""
    from kvnuma.webhook import cache

    cache.ClusterCache = functools.partial(cache.ClusterCache, feasible=True)  # type: ignore[misc,assignment]
    webhook_main(url, variant, files, pipe, cpu)


class FeasibleWebhook(Webhook):
    def __init__(self, url: str, tls: tuple[str, str, ssl.SSLContext], cpu: int = 0) -> None:
        cert, key, self.context = tls
        self.parent, child = mp.Pipe()
        self.started = time.monotonic()
        self.process = mp.get_context("spawn").Process(
            target=feasible_webhook_main, args=(url, "new", (cert, key), child, cpu)
        )
        self.process.start()
        self.port = int(self.parent.recv())
        self.client = Client(self.port, self.context)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scale(
    count: int, tls: tuple[str, str, ssl.SSLContext], timeout: float
) -> list[tuple[str, float | str, float, float, float]]:
    api = Api(count)
    rows: list[tuple[str, float | str, float, float, float]] = []
    try:
        for label, feasible in (
            ("cluster threshold (metadata-only list)", False),
            ("feasible threshold (full-object list)", True),
        ):
            hook = FeasibleWebhook(api.url, tls) if feasible else Webhook(api.url, "new", tls)
            try:
                ready = hook.ready(timeout)
                rss = rss_peak_mb(hook.pid)
                cpu = cpu_seconds(hook.pid)
                received = metric(hook.client, "kvnuma_webhook_api_bytes_received")
                rows.append((label, ready, rss, received, cpu))
                print(
                    f"# {count:,} nodes, {label}: ready {ready}, peak RSS {rss:.0f} MB, CPU {cpu:.1f} s",
                    file=sys.stderr,
                )
            finally:
                hook.stop()
    finally:
        api.stop()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=10000, help="nodes for the admission and lookup parts")
    parser.add_argument("--scale", type=int, default=50000, help="nodes for the memory part (0: skip)")
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument(
        "--rate", type=float, default=100.0, help="rounds a second (each round calls 5 targets)"
    )
    parser.add_argument("--ready-timeout", type=float, default=300.0)
    args = parser.parse_args()
    pin(1)
    with serving_tls() as (cert, key, context):
        tls = (cert, key, context)
        p99s = admission(args, tls)
        rows, plain_mb, feasible_mb = lookups(args.nodes)
        scaled = scale(args.scale, tls, args.ready_timeout) if args.scale else []

    print(
        f"feasible-node threshold, {args.nodes:,} realistic nodes, {args.rate:.0f} rounds/s x {len(p99s)} targets, {args.requests} requests each, same process"
    )
    noop = p99s[-1][1]
    unconstrained = p99s[1][1]
    for label, value in p99s:
        print(
            f"  {label:40} p99 {value:7.3f} ms   / no-op {value / noop:5.2f}   / feasible unconstrained {value / unconstrained:5.2f}"
        )
    print(f"index lookups, memo off, {args.nodes:,} nodes:")
    for label, matched, micros in rows:
        print(f"  {label:40} {matched:>7,} nodes match  {micros:9.1f} us")
    print(
        f"cache memory, {args.nodes:,} nodes (tracemalloc): cluster threshold {plain_mb:.1f} MB, feasible {feasible_mb:.1f} MB"
    )
    for label, ready, rss, received, cpu in scaled:
        shown = f"{ready:6.1f} s" if isinstance(ready, float) else ready
        print(
            f"{args.scale:,} nodes, {label:40} ready {shown}  webhook CPU {cpu:5.1f} s  peak RSS {rss:5.0f} MB  {received / 1e6:7.1f} MB received"
        )
    if len(scaled) == 2 and all(isinstance(r[1], float) for r in scaled):
        (_a, ready_a, rss_a, bytes_a, cpu_a), (_b, ready_b, rss_b, bytes_b, cpu_b) = scaled
        assert isinstance(ready_a, float)
        assert isinstance(ready_b, float)
        print(
            f"{args.scale:,} nodes, feasible / cluster: ready {ready_b / ready_a:.2f}, webhook CPU {cpu_b / cpu_a:.2f}, peak RSS {rss_b / rss_a:.2f}, bytes {bytes_b / bytes_a:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
