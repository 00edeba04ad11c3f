"""The agent's Prometheus metrics, in a registry of its own (so tests can make many agents)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["AgentMetrics"]


class AgentMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.last_publish = Gauge(
            "kvnuma_agent_last_successful_publish_timestamp_seconds",
            "Unix time of the last cycle that left the Node as desired.",
            registry=self.registry,
        )
        self.publish_errors = Counter(
            "kvnuma_agent_publish_errors",
            "Failed discovery, file or API attempts, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.healthy = Gauge(
            "kvnuma_agent_host_readable",
            "1 when the last discovery read the host, 0 when it failed (the Node keeps its last values).",
            registry=self.registry,
        )
        self.patches = Counter(
            "kvnuma_agent_node_patches", "Node patches sent (writes on change).", registry=self.registry
        )
        self.nrt_published = Gauge(
            "kvnuma_agent_nrt_published",
            "1 when the last cycle left this node's NodeResourceTopology as desired, 0 when it was not "
            "published (podresources unreadable, a contradiction, API trouble; the last object stays).",
            registry=self.registry,
        )
        self.nrt_last_publish = Gauge(
            "kvnuma_agent_nrt_last_successful_publish_timestamp_seconds",
            "Unix time of the last cycle that left the NodeResourceTopology as desired.",
            registry=self.registry,
        )
        self.nrt_writes = Counter(
            "kvnuma_agent_nrt_writes",
            "NodeResourceTopology writes (created, updated; nothing is sent when unchanged).",
            ["verb"],
            registry=self.registry,
        )
        self.nrt_errors = Counter(
            "kvnuma_agent_nrt_errors",
            "NodeResourceTopology steps that failed, by kind (podresources, build, or the API error kind).",
            ["kind"],
            registry=self.registry,
        )
        self.discovery_seconds = Histogram(
            "kvnuma_agent_discovery_duration_seconds",
            "Time to discover the host topology.",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
