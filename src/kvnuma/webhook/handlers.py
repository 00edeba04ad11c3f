"""The webhook's HTTP endpoints. Every answer is well formed; nothing here answers 500.

POST /mutate-virtualmachineinstances   AdmissionReview v1 -> AdmissionReview v1 (or 400/413 + Status)
GET  /healthz                          the process serves
GET  /readyz                           200 only after the first complete list of Nodes and of KubeVirt
                                       CRs (and, with --nrt=on, the first answer to the list of
                                       NodeResourceTopologies, whatever it was); the text names the
                                       auto-NUMA switch and its source, and where capacity comes from
GET  /metrics                          Prometheus text
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kvnuma.admission import AdmissionConfig, Mode, Outcome, build_response, decide
from kvnuma.errors import InputError
from kvnuma.webhook.cache import ClusterCache
from kvnuma.webhook.metrics import WebhookMetrics
from kvnuma.webhook.switch import Switch

__all__ = ["MAX_BODY_BYTES", "MUTATE_PATH", "WebhookState", "build_app"]

MUTATE_PATH = "/mutate-virtualmachineinstances"
MAX_BODY_BYTES = 3 << 20
_log = logging.getLogger("kvnuma.webhook")
_JSON = "application/json"


@dataclass
class WebhookState:
    cache: ClusterCache
    mode: Mode = Mode.SKIP
    hugepages_required: bool = True
    metrics: WebhookMetrics = field(default_factory=WebhookMetrics)


def _status(code: int, message: str) -> web.Response:
    body = {"apiVersion": "v1", "kind": "Status", "status": "Failure", "code": code, "message": message}
    return web.Response(status=code, body=orjson.dumps(body), content_type=_JSON)


def _uid_of(review: object) -> str | None:
    if isinstance(review, dict):
        request = review.get("request")
        if isinstance(request, dict) and isinstance(request.get("uid"), str) and request["uid"]:
            return str(request["uid"])
    return None


def build_app(state: WebhookState) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    metrics = state.metrics
    cache = state.cache

    def switched(switch: Switch) -> None:
        _log.info("%s%s", switch.describe(), f"; {switch.problem}" if switch.problem else "")
        metrics.set_switch(switch.enabled, switch.source.value)

    cache.on_switch = switched
    if cache.override is not None:
        switched(cache.override)
    if cache.nrt is not None:
        cache.nrt.on_ignored = lambda ignored: metrics.nrt_ignored.labels(ignored.reason.value).inc()

    async def mutate(request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            metrics.decisions.labels("bad-request").inc()
            return _status(413, f"request body is larger than {MAX_BODY_BYTES >> 20} MiB")
        review: object = None
        try:
            review = orjson.loads(body)
            config = AdmissionConfig(
                enabled=cache.enabled, mode=state.mode, hugepages_required=state.hugepages_required
            )
            threshold = cache.capacity_for if cache.feasible else cache.capacity()
            decision = decide(review, threshold, config)
        except orjson.JSONDecodeError as error:
            metrics.decisions.labels("bad-request").inc()
            return _status(400, f"request body: malformed JSON ({error})")
        except InputError as error:
            metrics.decisions.labels("bad-request").inc()
            return _status(400, error.one_line())
        except Exception as error:  # a bug must not become a 500 in the admission path
            # one line (no request body, no traceback unless debugging): the input may hold secrets
            _log.error(
                "auto-NUMA decision failed: %s: %s",
                type(error).__name__,
                " ".join(str(error).split())[:200],
                exc_info=_log.isEnabledFor(logging.DEBUG),
            )
            metrics.decisions.labels("error").inc()
            uid = _uid_of(review)
            if uid is None:
                return _status(400, f"request could not be decided ({type(error).__name__})")
            answer = build_response(uid, allowed=True, warnings=["auto-NUMA skipped: internal error"])
            return web.Response(body=orjson.dumps(answer), content_type=_JSON)
        metrics.decisions.labels(decision.outcome.value).inc()
        if decision.outcome not in (Outcome.FITS, Outcome.DISABLED, Outcome.NOT_APPLICABLE, Outcome.HAS_NUMA):
            _log.info("uid=%s outcome=%s %s", decision.uid, decision.outcome.value, decision.reason)
        response = web.Response(body=orjson.dumps(decision.response()), content_type=_JSON)
        metrics.latency.observe(time.perf_counter() - started)
        return response

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_request: web.Request) -> web.Response:
        if cache.ready:
            switch = cache.switch
            problem = f"; {switch.problem}" if switch.problem else ""
            threshold = ", feasible-node threshold" if cache.feasible else ""
            nrt = _nrt_detail(cache)
            return web.Response(
                text=f"ok: {switch.describe()}, {cache.node_count} nodes{threshold}{nrt}{problem}"
            )
        missing = [
            name
            for name, listed in (
                ("Nodes", cache.nodes_listed),
                ("KubeVirt CRs", cache.kubevirt_listed),
                ("NodeResourceTopologies", cache.nrt is None or cache.nrt.settled),
            )
            if not listed
        ]
        return web.Response(status=503, text="waiting for the first list of " + " and ".join(missing))

    async def metrics_endpoint(_request: web.Request) -> web.Response:
        capacity = cache.capacity()
        metrics.cache_nodes.set(cache.node_count)
        metrics.publishing_nodes.set(capacity.nodes)
        metrics.set_switch(cache.enabled, cache.switch.source.value)
        metrics.node_lists.set(cache.node_lists)
        if cache.nrt is not None:
            metrics.nrt_nodes.set(cache.nrt_nodes)
        return web.Response(
            body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app.router.add_post(MUTATE_PATH, mutate)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_endpoint)
    return app


def _nrt_detail(cache: ClusterCache) -> str:
    """', capacity from NodeResourceTopology on 3 nodes, annotations on 1 (1 NRT object ignored)'
    or ', capacity from annotations on 4 nodes, NodeResourceTopology unavailable: the CRD is not
    installed (404)'; '' with --nrt=off."""
    nrt = cache.nrt
    if nrt is None:
        return ""
    text = f", {cache.source()}"
    if nrt.unavailable:
        return f"{text}: {nrt.unavailable}"
    ignored = len(nrt.ignored)
    if ignored:
        text += f" ({ignored} NRT {'object' if ignored == 1 else 'objects'} ignored, see the log)"
    return text
