"""What the webhook knows, kept in memory: each Node's published capacity and the auto-NUMA switch.

Sources (a folder, or list-and-watch on the API) feed two sinks through the interface a
``kvnuma.kube.Reflector`` drives:

    sink.replacement()              a new state built beside the current one: ``add(objects)``
                                    per list page, ``commit()`` swaps it in when the list is complete
    sink.on_replace(objects)        the same in one call (a folder, tests)
    sink.on_event(type, object)     ADDED / MODIFIED / DELETED (BOOKMARK and SYNC change nothing)

Per node only a few numbers are kept (a ``_Digest``: CPUs, memory, huge pages, copied out of the
parsed object), so a page of objects is garbage as soon as it is digested. The cluster minimum is
maintained per event with ``CapacityMinima`` (no scan of all nodes); the ``ClusterCapacity`` value the
decision reads is rebuilt only after a change, so a request costs O(1). While a re-list builds
the next index, admission reads the current one; a list that fails half-way never becomes visible.

With ``feasible=True`` (``--threshold feasible``) the index also keeps, per publishing node, the
labels, scheduling taints and cordon the feasible-node threshold reads (``FeasibleIndex``), and
``capacity_for(constraints)`` answers the smallest node among those a VMI can land on.

With ``nrt=True`` (``--nrt=on``) a third sink, ``nrt`` (``kvnuma.webhook.nrt_table.NrtTable``),
keeps the digests of the nodes' NodeResourceTopology objects; a node with a valid one is
counted with that digest instead of its annotations' (which the index keeps aside, in
``shadowed``, to give back when the object goes). Its labels and taints still come from the Node.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from kvnuma.admission.capacity import ClusterCapacity, NodeCapacity
from kvnuma.admission.feasible import Constraints, NodeFacts
from kvnuma.names import MAX_SINGLE_NUMA_HUGEPAGES_PREFIX, is_capacity_annotation
from kvnuma.webhook.feasible_index import FeasibleIndex
from kvnuma.webhook.min_counts import CapacityMinima, Digest
from kvnuma.webhook.nrt_table import NrtTable
from kvnuma.webhook.switch import Switch, auto_numa_enabled, combine, from_kubevirt

__all__ = ["ClusterCache", "Sink", "auto_numa_enabled"]

# (cpus, memory bytes, ((page size, bytes), ...), problems): all copied small values
_Digest = Digest
_EMPTY: _Digest = (None, None, (), ())


class Replacement(Protocol):
    def add(self, objects: list[dict[str, Any]]) -> None: ...
    def commit(self) -> None: ...


class Sink(Protocol):
    """What a source (a folder, a ``kvnuma.kube.Reflector``) feeds."""

    def replacement(self) -> Replacement: ...
    def on_replace(self, objects: Iterable[Mapping[str, Any]]) -> None: ...
    def on_event(self, event_type: str, obj: Mapping[str, Any]) -> None: ...


_Raw = tuple[tuple[str, str], ...]
_MEMO_SIZE = 4096
# every VEP 135 capacity name starts so; a cheap filter before is_capacity_annotation
_PREFIX = MAX_SINGLE_NUMA_HUGEPAGES_PREFIX.removesuffix("hugepages-")


def _raw(obj: Mapping[str, Any]) -> tuple[str, _Raw]:
    """The node's name and its capacity annotations (a few short strings)."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        return "", ()
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        return "", ()
    annotations = metadata.get("annotations")
    if not isinstance(annotations, Mapping):
        return name, ()
    found = [
        (key, str(value))
        for key, value in annotations.items()
        if type(key) is str and key.startswith(_PREFIX) and is_capacity_annotation(key)
    ]
    found.sort()
    return name, tuple(found)


class _Digester:
    """Annotations -> digest, memoised: nodes of a cluster mostly publish the same few values, and
    parsing quantities is most of the cost of a list. Digests with problems are not memoised
    (their messages name the node)."""

    def __init__(self) -> None:
        self._memo: dict[_Raw, _Digest] = {}

    def __call__(self, obj: Mapping[str, Any]) -> tuple[str, _Digest]:
        name, raw = _raw(obj)
        if not raw:
            return name, _EMPTY
        digest = self._memo.get(raw)
        if digest is not None:
            return name, digest
        node = NodeCapacity.from_annotations(dict(raw), source=f"node {name}")
        digest = (node.cpus, node.memory_bytes, tuple(sorted(node.hugepages.items())), node.problems)
        if not node.problems:
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            self._memo[raw] = digest
        return name, digest


class _NodeIndex:
    """Digests by node name and the minima over them."""

    def __init__(
        self, digest: _Digester, feasible: FeasibleIndex | None = None, nrt: NrtTable | None = None
    ) -> None:
        self._digest = digest
        self.feasible = feasible
        self.nrt = nrt
        self.digests: dict[str, _Digest] = {}
        self.publishing = 0
        self.minima = CapacityMinima()
        self.problems: dict[str, tuple[str, ...]] = {}
        # with NRT: the annotations' digests of the nodes whose NRT digest is in ``digests``, and
        # (feasible) the facts of nodes that publish nothing, for when their NRT object comes
        self.shadowed: dict[str, _Digest] = {}
        self.parked: dict[str, NodeFacts] = {}

    def upsert(self, obj: Mapping[str, Any]) -> bool:
        name, digest = self._digest(obj)
        if not name:
            return False
        if self.nrt is not None:
            override = self.nrt.digests.get(name)
            if override is not None:
                self.shadowed[name] = digest
                digest = override
        return self._put(name, digest, obj)

    def set_nrt(self, name: str, digest: _Digest | None) -> bool:
        """The node's NRT digest is now ``digest`` (None: its annotations again)."""
        if name not in self.digests:
            return False  # no such Node (yet): its upsert will read the NRT table
        if digest is None:
            if name not in self.shadowed:
                return False
            return self._put(name, self.shadowed.pop(name), None)
        self.shadowed.setdefault(name, self.digests[name])
        return self._put(name, digest, None)

    def _put(self, name: str, digest: _Digest, obj: Mapping[str, Any] | None) -> bool:
        """``obj``: the Node (None: the node's facts are those held)."""
        old = self.digests.get(name)
        feasible = self.feasible
        if feasible is None:
            if old == digest:
                return False
        else:
            publishes = _publishes(digest)
            if obj is None:
                facts = feasible.facts(name) or self.parked.get(name)
            elif publishes or self.nrt is not None:
                facts = feasible.facts_of(obj, name)
            else:
                facts = None
            if self.nrt is not None:
                if publishes or facts is None:
                    self.parked.pop(name, None)
                else:
                    self.parked[name] = facts
            indexed = facts if publishes else None
            if old == digest and feasible.facts(name) == indexed:
                return False
            feasible.put(name, indexed, digest)
        self.digests[name] = digest
        if old is not None:
            self._count(name, old, -1)
        self._count(name, digest, 1)
        return True

    def delete(self, obj: Mapping[str, Any]) -> bool:
        name, _raw_now = _raw(obj)
        old = self.digests.pop(name, None)
        if old is None:
            return False
        self.shadowed.pop(name, None)
        self.parked.pop(name, None)
        if self.feasible is not None:
            self.feasible.remove(name)
        self._count(name, old, -1)
        return True

    def _count(self, name: str, digest: _Digest, sign: int) -> None:
        if digest is _EMPTY:
            return
        problems = digest[3]
        if problems:
            if sign > 0:
                self.problems[name] = problems
            else:
                self.problems.pop(name, None)
        self.publishing += sign * _publishes(digest)
        if sign > 0:
            self.minima.add(digest)
        else:
            self.minima.remove(digest)

    def capacity(self, source: str = "") -> ClusterCapacity:
        minima = self.minima
        return ClusterCapacity(
            source=source,
            nodes=self.publishing,
            cpus=minima.cpus.minimum(),
            memory_bytes=minima.memory.minimum(),
            hugepages={
                size: low
                for size, counts in minima.hugepages.items()
                if (low := counts.minimum()) is not None
            },
        )


def _publishes(digest: _Digest) -> int:
    return int(digest[0] is not None or digest[1] is not None or bool(digest[2]))


class _NodeBuild:
    def __init__(self, cache: ClusterCache) -> None:
        self._cache = cache
        self._index = cache._new_index()
        cache._building = self._index

    def add(self, objects: list[dict[str, Any]]) -> None:
        upsert = self._index.upsert
        for obj in objects:
            upsert(obj)

    def commit(self) -> None:
        if self._cache._building is self._index:
            self._cache._building = None
        self._cache._swap_nodes(self._index)


class _NodeSink:
    def __init__(self, cache: ClusterCache) -> None:
        self._cache = cache

    def replacement(self) -> _NodeBuild:
        return _NodeBuild(self._cache)

    def on_replace(self, objects: Iterable[Mapping[str, Any]]) -> None:
        build = _NodeBuild(self._cache)
        build.add(list(objects))  # type: ignore[arg-type]
        build.commit()

    def on_event(self, event_type: str, obj: Mapping[str, Any]) -> None:
        index = self._cache._index
        if event_type in ("ADDED", "MODIFIED"):
            changed = index.upsert(obj)
        elif event_type == "DELETED":
            changed = index.delete(obj)
        else:
            return
        if changed:
            self._cache._capacity = None


class _KubeVirtBuild:
    def __init__(self, cache: ClusterCache) -> None:
        self._cache = cache
        self._switches: dict[tuple[str, str], Switch] = {}

    def add(self, objects: list[dict[str, Any]]) -> None:
        for obj in objects:
            self._switches[_key(obj)] = from_kubevirt(obj)

    def commit(self) -> None:
        self._cache._kubevirts = self._switches
        self._cache.kubevirt_listed = True
        self._cache._switch_changed()


class _KubeVirtSink:
    def __init__(self, cache: ClusterCache) -> None:
        self._cache = cache

    def replacement(self) -> _KubeVirtBuild:
        return _KubeVirtBuild(self._cache)

    def on_replace(self, objects: Iterable[Mapping[str, Any]]) -> None:
        build = _KubeVirtBuild(self._cache)
        build.add(list(objects))  # type: ignore[arg-type]
        build.commit()

    def on_event(self, event_type: str, obj: Mapping[str, Any]) -> None:
        if event_type in ("ADDED", "MODIFIED"):
            self._cache._kubevirts[_key(obj)] = from_kubevirt(obj)
        elif event_type == "DELETED":
            self._cache._kubevirts.pop(_key(obj), None)
        else:
            return
        self._cache._switch_changed()


class ClusterCache:
    """``override``: a fixed switch (``--auto-numa=on|off``); then the KubeVirt CRs are not needed.
    ``on_switch`` is called with the new switch whenever it (or the source deciding it) changes.
    ``feasible``: keep what the feasible-node threshold needs (``capacity_for``); ``memo_size``:
    answers it memoises per constraints (0: none, for benchmarks). ``nrt``: also read the nodes'
    NodeResourceTopology objects (the ``nrt`` sink), preferred over the annotations."""

    def __init__(
        self,
        override: Switch | None = None,
        on_switch: Callable[[Switch], None] | None = None,
        *,
        feasible: bool = False,
        memo_size: int = 256,
        nrt: bool = False,
    ) -> None:
        self.feasible = feasible
        self._memo_size = memo_size
        self._digester = _Digester()
        self.nrt = NrtTable(self._nrt_changed) if nrt else None
        self._building: _NodeIndex | None = None
        self._source: tuple[str, str, int, int] = ("", "", -1, -1)
        self._index = self._new_index()
        self._kubevirts: dict[tuple[str, str], Switch] = {}
        self._capacity: ClusterCapacity | None = None
        self.override = override
        self.on_switch = on_switch
        self._switch = override if override is not None else Switch()
        self.nodes_listed = False
        self.kubevirt_listed = override is not None
        self.node_lists = 0
        self.nodes = _NodeSink(self)
        self.kubevirts = _KubeVirtSink(self)

    # --- what the decision reads ------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.nodes_listed and self.kubevirt_listed and (self.nrt is None or self.nrt.settled)

    @property
    def switch(self) -> Switch:
        return self._switch

    @property
    def enabled(self) -> bool:
        return self._switch.enabled

    @property
    def node_count(self) -> int:
        return len(self._index.digests)

    @property
    def problems(self) -> dict[str, tuple[str, ...]]:
        return self._index.problems

    @property
    def nrt_nodes(self) -> int:
        """Nodes whose capacity comes from their NodeResourceTopology object."""
        return len(self._index.shadowed)

    def source(self) -> str:
        """Where the capacity comes from, with --nrt=on ("" with it off): 'capacity from
        NodeResourceTopology on 3 nodes, annotations on 1'."""
        if self.nrt is None:
            return ""
        index = self._index
        key = (self.nrt.unavailable, len(index.shadowed), index.publishing)
        if key != self._source[1:]:
            unavailable, from_nrt, publishing = key
            if unavailable:
                nodes = f"{publishing} {'node' if publishing == 1 else 'nodes'}"
                text = f"capacity from annotations on {nodes}, NodeResourceTopology unavailable"
            else:
                nodes = f"{from_nrt} {'node' if from_nrt == 1 else 'nodes'}"
                text = (
                    f"capacity from NodeResourceTopology on {nodes}, annotations on {publishing - from_nrt}"
                )
            self._source = (text, *key)
        return self._source[0]

    def capacity(self) -> ClusterCapacity:
        capacity = self._capacity
        if capacity is None or (self.nrt is not None and capacity.source != self.source()):
            capacity = self._capacity = self._index.capacity(self.source())
        return capacity

    def capacity_for(self, constraints: Constraints) -> ClusterCapacity:
        """The smallest node among those ``constraints`` admit (needs ``feasible=True``)."""
        feasible = self._index.feasible
        if feasible is None:
            raise RuntimeError("capacity_for needs ClusterCache(feasible=True)")
        found = feasible.capacity(constraints)
        if self.nrt is not None:
            source = self.source()
            if found.source != source:
                found = replace(found, source=source)
        return found

    def _new_index(self) -> _NodeIndex:
        feasible = FeasibleIndex(memo_size=self._memo_size) if self.feasible else None
        return _NodeIndex(self._digester, feasible, self.nrt)

    def _nrt_changed(self, name: str, digest: _Digest | None) -> None:
        if self._index.set_nrt(name, digest):
            self._capacity = None
        if self._building is not None:
            self._building.set_nrt(name, digest)

    # --- changes ----------------------------------------------------------------------------
    def _swap_nodes(self, index: _NodeIndex) -> None:
        self._index = index
        self._capacity = None
        self.nodes_listed = True
        self.node_lists += 1

    def resync(self) -> None:
        """A resync replays what the cache holds: the minima and the switch are derived again."""
        self._capacity = None
        self._switch_changed()

    def _switch_changed(self) -> None:
        if self.override is not None:
            return
        new = combine(self._kubevirts[key] for key in sorted(self._kubevirts))
        if new != self._switch:
            self._switch = new
            if self.on_switch is not None:
                self.on_switch(new)


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    return (str(metadata.get("namespace", "")), str(metadata.get("name", "")))
