"""``--source kube``: the project's ``Reflector`` list-and-watches Nodes and KubeVirt CRs into the cache.

One ``KubeClient`` and two reflectors (``kvnuma.kube``):

  Nodes      metadata-only (``PartialObjectMetadataList``; the annotations are all it reads) or,
             with the feasible-node threshold (``ClusterCache(feasible=True)``), full objects: the
             taints and the cordon are in the Node's spec, which no metadata-only or field-filtered
             request returns; pages of at most 100 (``FULL_OBJECT_PAGE``); each page is digested and
             dropped as before,
             paginated (``limit=page_size`` for the first list, ``relist_page`` for re-lists
             while the old cache serves; each page under the client's timeout) or, with
             ``watch_list``, the streaming watch-list with a fallback to pages; every list is built
             beside the current cache and swapped in when complete, so admission keeps answering
             from the old one during a re-list and never from a half-built one
             (a re-list reads pages of 100 metadata-only nodes, about 190 KB each and 0.6 ms to
             decode, digests 25 nodes per step and leaves the event loop to admission for
             ``relist_pause`` seconds after each, so it takes a small share of the CPU)
  KubeVirts  full objects (the VEP 135 field is in the spec); skipped when ``--auto-numa`` is
             ``on`` or ``off``
  NodeResourceTopologies (``--nrt=on``, ``ClusterCache(nrt=True)``) full objects (the zones are
             the object), paginated, built beside and watched like the Nodes. A 404 (the CRD is
             not installed) or 403 (RBAC) is one log line, the annotations serve, and the list is
             tried again after the back-off (at most ``nrt_retry_seconds``), so a CRD installed
             later is picked up; readiness never waits for it beyond the first answer

Watches with bookmarks follow; 410 and a cut stream re-list; the periodic resync replays the
cache and does not re-list; other failures back off. The reflectors keep no copy of the objects
(``keep_objects=False``): the cache keeps a few numbers per node.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from typing import Any

from kvnuma.kube.backoff import Backoff
from kvnuma.kube.client import KubeClient
from kvnuma.kube.clock import Clock
from kvnuma.kube.config import ClusterConfig, load_config
from kvnuma.kube.errors import ApiError, KubeError
from kvnuma.kube.reflector import Reflector, Replacement
from kvnuma.kube.resources import KUBEVIRTS, NODE_RESOURCE_TOPOLOGIES, NODES, Resource
from kvnuma.webhook.cache import ClusterCache
from kvnuma.webhook.handlers import WebhookState
from kvnuma.webhook.nrt_table import NrtTable
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


def _nrt_logger(table: NrtTable) -> Callable[[KubeError], None]:
    """One line per change of what NRT's availability says, not one per retry."""

    def log(error: KubeError) -> None:
        code = error.code if isinstance(error, ApiError) else None
        if code == 410:
            _log.info("noderesourcetopologies: resourceVersion expired (410), re-listing")
            return
        if code == 404:
            problem = "the NodeResourceTopology CRD is not installed (404)"
        elif code == 403:
            problem = "forbidden (403): the webhook's ClusterRole needs list/watch on noderesourcetopologies"
        else:
            problem = f"{error}"
        if table.failed(problem, drop=code in (403, 404)):
            _log.warning("NodeResourceTopology unavailable: %s; the annotations serve, retrying", problem)
        elif table.listed:
            _log.warning("noderesourcetopologies: %s; re-listing", error)

    return log


class _LoggedNodeBuild:
    def __init__(self, cache: ClusterCache, client: KubeClient) -> None:
        self._build = cache.nodes.replacement()
        self._cache = cache
        self._client = client

    def add(self, objects: list[dict[str, Any]]) -> None:
        self._build.add(objects)

    def commit(self) -> None:
        first = not self._cache.nodes_listed
        self._build.commit()
        # what the cache holds now lives until the next re-list: keep it out of the cyclic
        # collector's full passes (a pass over every digest is a pause in admission)
        gc.freeze()
        _log.info(
            "nodes: %s %d nodes (%.1f MB received from the API so far)",
            "listed" if first else "re-listed, cache swapped:",
            self._cache.node_count,
            self._client.bytes_received / 1e6,
        )


FULL_OBJECT_PAGE = 100
"""The first list's page size for full Node objects (the feasible-node threshold): about 1.2 MB of
JSON a page, so the page being decoded stays small beside the cache."""


def _full_object_page(page_size: int | None) -> int | None:
    return None if page_size is None else min(page_size, FULL_OBJECT_PAGE)


RELIST_PAGE = 100
"""Re-list pages of metadata-only Nodes while the old cache serves: about 190 KB, decoded in one
callback of about 0.6 ms. Pages of 25 cost a 50,000-node re-list 2,000 requests and 2.9 s of CPU
(measured), pages of 100 500 requests and 1.8 s, and less CPU taken while re-listing is what keeps
admission's tail short on a shared CPU."""
RELIST_FULL_OBJECT_PAGE = 25
"""Re-list pages of full objects (feasible-threshold Nodes, about 12 KB each; NRT objects)."""


def kube_source(
    config: ClusterConfig | None = None,
    *,
    resync_seconds: float = 600.0,
    watch_timeout_seconds: int = 300,
    backoff_base: float = 0.5,
    backoff_cap: float = 30.0,
    page_size: int | None = 500,
    relist_page_size: int | None = None,
    relist_pause: float = 0.003,
    metadata_only: bool = True,
    watch_list: bool = False,
    nrt_retry_seconds: float = 60.0,
    clock: Clock | None = None,
) -> SourceLoop:
    """A source loop over the API server ``config`` names (default: ``load_config()``: in a pod
    its service account, else ``$KUBECONFIG``; with neither it raises ``InputError`` here, not
    later in the loop). ``page_size=None, metadata_only=False`` is the old unpaginated full-object
    list (benchmarks compare against it). ``relist_page_size`` overrides the re-list pages
    (``RELIST_PAGE``, ``RELIST_FULL_OBJECT_PAGE``). ``nrt_retry_seconds`` caps the NRT reflector's back-off:
    how long a CRD installed later may wait to be seen."""
    cluster = config if config is not None else load_config()

    def relist_page(full_objects: bool) -> int | None:
        if page_size is None:
            return None
        if relist_page_size is not None:
            return relist_page_size
        return RELIST_FULL_OBJECT_PAGE if full_objects else RELIST_PAGE

    async def run(state: WebhookState) -> None:
        cache = state.cache
        async with KubeClient(cluster, user_agent="kvnuma-webhook") as client:
            state.metrics.bytes_received.set_function(lambda: client.bytes_received)

            def nodes() -> Replacement:
                return _LoggedNodeBuild(cache, client)

            common: dict[str, Any] = {
                "on_resync": cache.resync,
                "keep_objects": False,
                "resync_seconds": resync_seconds,
                "watch_timeout_seconds": watch_timeout_seconds,
                "page_size": page_size,
                "clock": clock,
            }
            reflectors = [
                Reflector(
                    client,
                    NODES,
                    on_event=cache.nodes.on_event,
                    replacement=nodes,
                    on_error=_logger(NODES),
                    backoff=Backoff(base=backoff_base, cap=backoff_cap),
                    metadata_only=metadata_only and not cache.feasible,
                    relist_page_size=relist_page(cache.feasible or not metadata_only),
                    step_objects=25,
                    relist_pause=relist_pause,
                    watch_list=watch_list,
                    **(common | {"page_size": _full_object_page(page_size)} if cache.feasible else common),
                )
            ]
            if cache.override is None:
                reflectors.append(
                    Reflector(
                        client,
                        KUBEVIRTS,
                        on_event=cache.kubevirts.on_event,
                        replacement=cache.kubevirts.replacement,
                        on_error=_logger(KUBEVIRTS),
                        backoff=Backoff(base=backoff_base, cap=backoff_cap),
                        **common,
                    )
                )
            if cache.nrt is not None:
                reflectors.append(
                    Reflector(
                        client,
                        NODE_RESOURCE_TOPOLOGIES,
                        on_event=cache.nrt.on_event,
                        replacement=cache.nrt.replacement,
                        on_error=_nrt_logger(cache.nrt),
                        backoff=Backoff(base=backoff_base, cap=nrt_retry_seconds),
                        relist_page_size=relist_page(True),
                        step_objects=25,
                        relist_pause=relist_pause,
                        **(common | {"page_size": _full_object_page(page_size)}),
                    )
                )
            await asyncio.gather(*(reflector.run() for reflector in reflectors))

    return run
