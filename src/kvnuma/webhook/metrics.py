"""Prometheus metrics of one webhook server (its own registry, so several can run in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["WebhookMetrics"]

_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0)


class WebhookMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.decisions = Counter(
            "kvnuma_webhook_decisions",
            "Admission decisions by outcome (mutated, fits, disabled, skipped-unsafe, ...).",
            ["outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kvnuma_webhook_request_seconds",
            "Time from reading the request body to the response, in seconds.",
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.cache_nodes = Gauge(
            "kvnuma_webhook_cache_nodes", "Nodes in the webhook's cache.", registry=self.registry
        )
        self.publishing_nodes = Gauge(
            "kvnuma_webhook_publishing_nodes",
            "Nodes publishing kubevirt.io/max-single-numa-* capacity.",
            registry=self.registry,
        )
        self.enabled = Gauge(
            "kvnuma_webhook_auto_numa_enabled",
            "1 when auto-NUMA is on; the source label names what decided (flag, annotation, field, default).",
            ["source"],
            registry=self.registry,
        )
        self.node_lists = Gauge(
            "kvnuma_webhook_node_lists",
            "Complete lists of Nodes swapped into the cache (the first one and each re-list).",
            registry=self.registry,
        )
        self.bytes_received = Gauge(
            "kvnuma_webhook_api_bytes_received",
            "Bytes of API responses read (lists and watch streams) since start.",
            registry=self.registry,
        )
        self.nrt_nodes = Gauge(
            "kvnuma_webhook_nrt_nodes",
            "Nodes whose capacity comes from their NodeResourceTopology object (--nrt=on).",
            registry=self.registry,
        )
        self.nrt_ignored = Counter(
            "kvnuma_webhook_nrt_ignored",
            "NodeResourceTopology objects ignored (their Node's annotations used), by reason; counted "
            "each time an object becomes ignored or its problem changes.",
            ["reason"],
            registry=self.registry,
        )
        self._source = ""
        self.cert_reloads = Counter(
            "kvnuma_webhook_cert_reloads", "Certificate reloads without restart.", registry=self.registry
        )

    def set_switch(self, enabled: bool, source: str) -> None:
        """One series: the deciding source, 1 or 0 (the other sources' series are removed)."""
        if source != self._source and self._source:
            self.enabled.remove(self._source)
        self._source = source
        self.enabled.labels(source).set(1 if enabled else 0)
