"""``/healthz`` and ``/metrics`` for the agent (aiohttp).

``/healthz`` answers 503 with the reason when the host cannot be read (the last published
values stay on the Node); API trouble does not make the agent unhealthy, since restarting it
would not help: it shows in ``kvnuma_agent_publish_errors_total`` instead. With
``--publish-nrt`` the body also has ``nrt``: "published", "published (unchanged)" or
"not published: <why>" (an unreadable podresources socket does not make the agent unhealthy).
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kvnuma.agent.core import Agent

__all__ = ["health_app"]


def health_app(agent: Agent) -> web.Application:
    async def healthz(_request: web.Request) -> web.Response:
        status = 200 if agent.healthy else 503
        body: dict[str, object] = {"healthy": agent.healthy, "reason": agent.health_reason}
        if agent.settings.publish_nrt:
            body["nrt"] = agent.nrt_state
        return web.json_response(body, status=status)

    async def metrics(_request: web.Request) -> web.Response:
        body = generate_latest(agent.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app
