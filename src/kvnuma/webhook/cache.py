"""What the webhook knows, kept in memory: each Node's published capacity and the KubeVirt CR's flag.

Sources (a folder, or list-and-watch on the API) feed two sinks through one narrow interface,
the one a reflector drives:

    sink.on_replace(objects)        the full list (first list, re-list after 410)
    sink.on_event(type, object)     ADDED / MODIFIED / DELETED (BOOKMARK is ignored)

The cluster minimum is maintained per event with ``MinTracker`` (no scan of all nodes); the
``ClusterCapacity`` value the decision reads is rebuilt only after a change, so a request costs O(1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from kvnuma.admission.capacity import ClusterCapacity, NodeCapacity
from kvnuma.names import MAX_SINGLE_NUMA_CPUS, MAX_SINGLE_NUMA_MEMORY, is_capacity_annotation
from kvnuma.webhook.min_tracker import MinTracker

__all__ = ["ClusterCache", "Sink", "auto_numa_enabled"]

_Raw = tuple[tuple[str, str], ...]
_EXACT = frozenset((MAX_SINGLE_NUMA_CPUS, MAX_SINGLE_NUMA_MEMORY))


def _relevant(obj: Mapping[str, Any]) -> tuple[str, _Raw]:
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        return "", ()
    name = metadata.get("name")
    annotations = metadata.get("annotations")
    raw: _Raw = ()
    if isinstance(annotations, Mapping):
        raw = tuple(
            sorted(
                (key, str(value))
                for key, value in annotations.items()
                if isinstance(key, str) and is_capacity_annotation(key)
            )
        )
    return (name if isinstance(name, str) else ""), raw


def auto_numa_enabled(kubevirt: Mapping[str, Any]) -> bool:
    """``spec.configuration.developerConfiguration.autoNUMAEnablement`` (absent = false)."""
    node: Any = kubevirt
    for key in ("spec", "configuration", "developerConfiguration", "autoNUMAEnablement"):
        if not isinstance(node, Mapping):
            return False
        node = node.get(key)
    return node is True


class Sink(Protocol):
    """What a source (a folder, a ``kvnuma.kube.Reflector``) feeds."""

    def on_replace(self, objects: Iterable[Mapping[str, Any]]) -> None: ...
    def on_event(self, event_type: str, obj: Mapping[str, Any]) -> None: ...


class _NodeSink:
    def __init__(self, cache: ClusterCache) -> None:
        self._cache = cache

    def on_replace(self, objects: Iterable[Mapping[str, Any]]) -> None:
        self._cache.replace_nodes(objects)

    def on_event(self, event_type: str, obj: Mapping[str, Any]) -> None:
        if event_type in ("ADDED", "MODIFIED"):
            self._cache.upsert_node(obj)
        elif event_type == "DELETED":
            self._cache.delete_node(obj)


class _KubeVirtSink:
    def __init__(self, cache: ClusterCache) -> None:
        self._cache = cache

    def on_replace(self, objects: Iterable[Mapping[str, Any]]) -> None:
        self._cache.replace_kubevirts(objects)

    def on_event(self, event_type: str, obj: Mapping[str, Any]) -> None:
        if event_type in ("ADDED", "MODIFIED"):
            self._cache.upsert_kubevirt(obj)
        elif event_type == "DELETED":
            self._cache.delete_kubevirt(obj)


class ClusterCache:
    def __init__(self) -> None:
        self._raw: dict[str, _Raw] = {}
        self._publishing: set[str] = set()
        self._cpus: MinTracker[str] = MinTracker()
        self._memory: MinTracker[str] = MinTracker()
        self._hugepages: dict[int, MinTracker[str]] = {}
        self._kubevirts: dict[tuple[str, str], bool] = {}
        self._capacity: ClusterCapacity | None = ClusterCapacity()
        self.problems: dict[str, tuple[str, ...]] = {}
        self.nodes_listed = False
        self.kubevirt_listed = False
        self.nodes = _NodeSink(self)
        self.kubevirts = _KubeVirtSink(self)

    # --- what the decision reads ------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.nodes_listed and self.kubevirt_listed

    @property
    def enabled(self) -> bool:
        return any(self._kubevirts.values())

    @property
    def node_count(self) -> int:
        return len(self._raw)

    def capacity(self) -> ClusterCapacity:
        if self._capacity is None:
            self._capacity = ClusterCapacity(
                nodes=len(self._publishing),
                cpus=self._cpus.minimum(),
                memory_bytes=self._memory.minimum(),
                hugepages={
                    size: low
                    for size, tracker in self._hugepages.items()
                    if (low := tracker.minimum()) is not None
                },
            )
        return self._capacity

    # --- nodes ------------------------------------------------------------------------------
    def replace_nodes(self, objects: Iterable[Mapping[str, Any]]) -> None:
        self._raw.clear()
        self._publishing.clear()
        self._cpus.clear()
        self._memory.clear()
        self._hugepages.clear()
        self.problems.clear()
        self._capacity = None
        for obj in objects:
            self.upsert_node(obj)
        self.nodes_listed = True

    def upsert_node(self, obj: Mapping[str, Any]) -> None:
        name, raw = _relevant(obj)
        if not name:
            return
        if self._raw.get(name) == raw and name in self._raw:
            return
        self._raw[name] = raw
        self._apply(name, NodeCapacity.from_annotations(dict(raw), source=f"node {name}"))

    def delete_node(self, obj: Mapping[str, Any]) -> None:
        name, _raw = _relevant(obj)
        if self._raw.pop(name, None) is not None:
            self._apply(name, NodeCapacity())

    def _apply(self, name: str, node: NodeCapacity) -> None:
        self._capacity = None
        if node.problems:
            self.problems[name] = node.problems
        else:
            self.problems.pop(name, None)
        if node.publishes:
            self._publishing.add(name)
        else:
            self._publishing.discard(name)
        _set(self._cpus, name, node.cpus)
        _set(self._memory, name, node.memory_bytes)
        for size, tracker in self._hugepages.items():
            if size not in node.hugepages:
                tracker.discard(name)
        for size, amount in node.hugepages.items():
            self._hugepages.setdefault(size, MinTracker()).set(name, amount)

    # --- the KubeVirt CR --------------------------------------------------------------------
    def replace_kubevirts(self, objects: Iterable[Mapping[str, Any]]) -> None:
        self._kubevirts.clear()
        for obj in objects:
            self.upsert_kubevirt(obj)
        self.kubevirt_listed = True

    def upsert_kubevirt(self, obj: Mapping[str, Any]) -> None:
        self._kubevirts[_key(obj)] = auto_numa_enabled(obj)

    def delete_kubevirt(self, obj: Mapping[str, Any]) -> None:
        self._kubevirts.pop(_key(obj), None)


def _set(tracker: MinTracker[str], name: str, value: int | None) -> None:
    if value is None:
        tracker.discard(name)
    else:
        tracker.set(name, value)


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    return (str(metadata.get("namespace", "")), str(metadata.get("name", "")))
