"""Shared pieces of the agent tests: a node with foreign keys, a fake host, an agent on the test server."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

from kubeapi.server import KubeApiServer
from kvnuma.agent.core import Agent, AgentSettings
from kvnuma.agent.discovery import make_discovery
from kvnuma.agent.logs import JsonLog
from kvnuma.kube.backoff import Backoff
from kvnuma.kube.client import KubeClient
from kvnuma.kube.config import ClusterConfig
from kvnuma.model.topology import HostTopology
from kvnuma.topology.capabilities import write_capabilities
from support.hostbuilder import render_sysfs, synthetic_host

NODE_NAME = "worker-1"
FOREIGN_ANNOTATIONS = {"example.com/owner": "team-a", "kubevirt.io/heartbeat": "2026-01-01T00:00:00Z"}
FOREIGN_LABELS = {"kubernetes.io/hostname": NODE_NAME, "example.com/zone": "z1"}
GiB, MiB = 1 << 30, 1 << 20


def seed_node(api: KubeApiServer) -> None:
    api.put_object(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": NODE_NAME,
                "annotations": dict(FOREIGN_ANNOTATIONS),
                "labels": dict(FOREIGN_LABELS),
            },
            "spec": {"podCIDR": "10.244.1.0/24"},
        }
    )


def host(hugepages: dict[int, int] | None = None, cells: int = 2, cores: int = 4) -> HostTopology:
    return synthetic_host(
        cells=cells, cores_per_cell=cores, threads=2, memory_per_cell=64 * GiB, hugepages=hugepages
    )


def write_tree(topology: HostTopology, root: Path) -> Path:
    render_sysfs(topology, root)
    return root


def proc_root(path: Path, rt_runtime: str) -> Path:
    target = path / "sys" / "kernel" / "sched_rt_runtime_us"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(rt_runtime + "\n")
    return path


def make_agent(
    api_url: str,
    tmp_path: Path,
    *,
    sysfs: Path | None = None,
    discover: Any = None,
    rt_runtime: str = "950000",
    timeout: float = 2.0,
    max_attempts: int = 8,
    publish_nrt: bool = False,
    read_kubelet: Any = None,
    topology_manager: Any = None,
) -> tuple[Agent, io.StringIO]:
    logs = io.StringIO()
    settings = AgentSettings(
        node_name=NODE_NAME,
        proc_root=proc_root(tmp_path / "proc", rt_runtime),
        capabilities_out=tmp_path / "out" / "capabilities.xml",
        interval=3600,
        max_attempts=max_attempts,
        publish_nrt=publish_nrt,
    )
    agent = Agent(
        settings,
        discover or make_discovery(sysfs or tmp_path / "sys"),
        KubeClient(ClusterConfig(api_url), timeout=timeout),
        render_capabilities=write_capabilities,
        log=JsonLog(logs, node=NODE_NAME),
        backoff=Backoff(base=0.01, cap=0.05, rng=random.Random(7)),
        read_kubelet=read_kubelet,
        topology_manager=topology_manager,
    )
    return agent, logs


def ours(node: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    meta = node["metadata"]
    annotations = {k: v for k, v in meta.get("annotations", {}).items() if k not in FOREIGN_ANNOTATIONS}
    labels = {k: v for k, v in meta.get("labels", {}).items() if k not in FOREIGN_LABELS}
    return annotations, labels


def foreign_intact(node: dict[str, Any]) -> bool:
    meta = node["metadata"]
    return bool(
        FOREIGN_ANNOTATIONS.items() <= meta.get("annotations", {}).items()
        and FOREIGN_LABELS.items() <= meta.get("labels", {}).items()
        and node["spec"] == {"podCIDR": "10.244.1.0/24"}
    )
