"""Where each kind lives: the paths the client builds from a Resource."""

from __future__ import annotations

import pytest

from kvnuma.kube.resources import KUBEVIRTS, NODE_RESOURCE_TOPOLOGIES, NODES, Resource


@pytest.mark.parametrize(
    ("resource", "name", "namespace", "expected"),
    [
        pytest.param(NODES, "n1", None, "/api/v1/nodes/n1", id="core-cluster-scoped"),
        pytest.param(
            KUBEVIRTS,
            "kv",
            "kubevirt",
            "/apis/kubevirt.io/v1/namespaces/kubevirt/kubevirts/kv",
            id="namespaced",
        ),
        pytest.param(
            NODE_RESOURCE_TOPOLOGIES,
            "worker-0",
            None,
            "/apis/topology.node.k8s.io/v1alpha2/noderesourcetopologies/worker-0",
            id="nrt-object",
        ),
        pytest.param(
            NODE_RESOURCE_TOPOLOGIES,
            None,
            None,
            "/apis/topology.node.k8s.io/v1alpha2/noderesourcetopologies",
            id="nrt-collection",
        ),
    ],
)
def test_resource_paths(resource: Resource, name: str | None, namespace: str | None, expected: str) -> None:
    assert resource.path(name, namespace) == expected


def test_a_namespace_for_a_cluster_scoped_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="cluster-scoped"):
        NODE_RESOURCE_TOPOLOGIES.path("n1", "default")
