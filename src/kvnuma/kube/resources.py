"""Where a kind of object lives in the API: its path prefix, plural, and scope."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

__all__ = ["KUBEVIRTS", "NODES", "NODE_RESOURCE_TOPOLOGIES", "Resource"]


@dataclass(frozen=True, slots=True)
class Resource:
    group_version: str  # "v1" for the core group, else "group/version"
    plural: str
    kind: str
    namespaced: bool

    @property
    def prefix(self) -> str:
        return "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"

    def path(self, name: str | None = None, namespace: str | None = None) -> str:
        if self.namespaced and namespace:
            base = f"{self.prefix}/namespaces/{quote(namespace, safe='')}/{self.plural}"
        elif self.namespaced or not namespace:
            base = f"{self.prefix}/{self.plural}"
        else:
            raise ValueError(f"{self.plural} are cluster-scoped; got namespace {namespace!r}")
        return f"{base}/{quote(name, safe='')}" if name is not None else base


NODES = Resource("v1", "nodes", "Node", namespaced=False)
KUBEVIRTS = Resource("kubevirt.io/v1", "kubevirts", "KubeVirt", namespaced=True)
NODE_RESOURCE_TOPOLOGIES = Resource(
    "topology.node.k8s.io/v1alpha2", "noderesourcetopologies", "NodeResourceTopology", namespaced=False
)
"""The NodeResourceTopology CRD (k8stopologyawareschedwg/noderesourcetopology-api): cluster-scoped,
one object per node named after it; ``kvnuma agent --publish-nrt`` writes it."""
