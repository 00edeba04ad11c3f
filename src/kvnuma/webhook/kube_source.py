"""``--source kube``: the project's ``Reflector`` list-and-watches Nodes and KubeVirt CRs into the cache.

One ``KubeClient`` and two reflectors (``kvnuma.kube``): LIST -> the cache sink's ``on_replace``,
WATCH with bookmarks -> ``on_event``; 410, a cut stream and the periodic resync re-list and
replace; other failures back off. The cache keeps only the annotations it needs, so the
reflectors keep no copy of the objects (``keep_objects=False``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from kvnuma.kube.backoff import Backoff
from kvnuma.kube.client import KubeClient
from kvnuma.kube.config import ClusterConfig, load_config
from kvnuma.kube.errors import ApiError, KubeError
from kvnuma.kube.reflector import Reflector
from kvnuma.kube.resources import KUBEVIRTS, NODES, Resource
from kvnuma.webhook.cache import Sink
from kvnuma.webhook.handlers import WebhookState
from kvnuma.webhook.server import SourceLoop

__all__ = ["kube_source"]

_log = logging.getLogger("kvnuma.webhook")


def _logger(resource: Resource) -> Callable[[KubeError], None]:
    def log(error: KubeError) -> None:
        if isinstance(error, ApiError) and error.code == 410:
            _log.info("%s: resourceVersion expired (410), re-listing", resource.plural)
        else:
            _log.warning("%s: %s; re-listing", resource.plural, error)

    return log


def kube_source(
    config: ClusterConfig | None = None,
    *,
    resync_seconds: float = 600.0,
    watch_timeout_seconds: int = 300,
    backoff_base: float = 0.5,
    backoff_cap: float = 30.0,
) -> SourceLoop:
    """A source loop over the API server ``config`` names (default: ``load_config()``: in a pod
    its service account, else ``$KUBECONFIG``; with neither it raises ``InputError`` here, not
    later in the loop)."""
    cluster = config if config is not None else load_config()

    async def run(state: WebhookState) -> None:
        sinks: list[tuple[Resource, Sink]] = [(NODES, state.cache.nodes), (KUBEVIRTS, state.cache.kubevirts)]
        async with KubeClient(cluster, user_agent="kvnuma-webhook") as client:
            reflectors = [
                Reflector(
                    client,
                    resource,
                    on_event=sink.on_event,
                    on_replace=sink.on_replace,
                    on_error=_logger(resource),
                    keep_objects=False,
                    resync_seconds=resync_seconds,
                    watch_timeout_seconds=watch_timeout_seconds,
                    backoff=Backoff(base=backoff_base, cap=backoff_cap),
                )
                for resource, sink in sinks
            ]
            await asyncio.gather(*(reflector.run() for reflector in reflectors))

    return run
