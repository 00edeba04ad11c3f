"""A small async Kubernetes client (aiohttp) and a list-and-watch reflector.

Why not lightkube: its watch cannot ask for bookmarks, and on ``410 Gone`` it silently restarts
the watch from "now", which loses deletions; a cache needs to re-list instead. aiohttp is
already a kvnuma dependency (the webhook serves on it), so this layer adds no dependency.
"""

from kvnuma.kube.client import KubeClient, ObjectList, WatchEvent
from kvnuma.kube.config import ClusterConfig, load_config
from kvnuma.kube.errors import ApiError, KubeError, TransportError
from kvnuma.kube.reflector import Reflector
from kvnuma.kube.resources import KUBEVIRTS, NODE_RESOURCE_TOPOLOGIES, NODES, Resource

__all__ = [
    "KUBEVIRTS",
    "NODES",
    "NODE_RESOURCE_TOPOLOGIES",
    "ApiError",
    "ClusterConfig",
    "KubeClient",
    "KubeError",
    "ObjectList",
    "Reflector",
    "Resource",
    "TransportError",
    "WatchEvent",
    "load_config",
]
