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
            "1 when the KubeVirt CR enables autoNUMAEnablement.",
            registry=self.registry,
        )
        self.cert_reloads = Counter(
            "kvnuma_webhook_cert_reloads", "Certificate reloads without restart.", registry=self.registry
        )
