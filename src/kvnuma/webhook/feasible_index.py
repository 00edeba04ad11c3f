"""The feasible-node threshold's index over the nodes that publish capacity (``--threshold feasible``).

Kept beside the cache's digests, per change (no scan of all nodes):

    nodes        name -> (NodeFacts, digest): labels as sorted interned pairs, scheduling taints,
                 cordoned (``kvnuma.admission.feasible``)
    labels       label key -> value -> names: the nodes a nodeSelector pair or an In / Exists /
                 Gt / Lt requirement can match, without a scan
    restricted   names of the nodes with a NoSchedule/NoExecute taint or cordoned
    open         the minima over the other nodes (``MinCounts``, as the cluster minimum)

``capacity(constraints)`` answers:
  - no nodeSelector, no required affinity, no tolerations (the common case): the open minima, O(1)
  - tolerations only: the open minima and the restricted nodes it tolerates, O(restricted)
  - a nodeSelector / required affinity: the smallest candidate set from the label index (a
    nodeSelector pair, or per term its most selective positive requirement, terms ORed), each
    candidate checked in full, O(candidates); a term with only NotIn / DoesNotExist scans all
  and memoises the answer by the (hashable) constraints until the next change of a node: the VMIs
  of one VM pool share their constraints. Only nodes that publish capacity are indexed (the others
  cannot change a minimum).
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Mapping
from typing import Any

from kvnuma.admission.capacity import ClusterCapacity
from kvnuma.admission.feasible import Constraints, NodeFacts, Taint, Term, scope_text
from kvnuma.webhook.min_counts import MinCounts

__all__ = ["Digest", "FeasibleIndex"]

Digest = tuple[int | None, int | None, tuple[tuple[int, int], ...], tuple[str, ...]]
"""(cpus, memory bytes, ((page size, bytes), ...), problems): what the cache keeps of a node's capacity."""

_Pair = tuple[str, str]


class _Minima:
    __slots__ = ("cpus", "hugepages", "memory", "nodes")

    def __init__(self) -> None:
        self.nodes = 0
        self.cpus = MinCounts()
        self.memory = MinCounts()
        self.hugepages: dict[int, MinCounts] = {}

    def add(self, digest: Digest) -> None:
        cpus, memory, hugepages, _problems = digest
        self.nodes += 1
        if cpus is not None:
            self.cpus.add(cpus)
        if memory is not None:
            self.memory.add(memory)
        for size, amount in hugepages:
            counts = self.hugepages.get(size)
            if counts is None:
                counts = self.hugepages[size] = MinCounts()
            counts.add(amount)

    def remove(self, digest: Digest) -> None:
        cpus, memory, hugepages, _problems = digest
        self.nodes -= 1
        if cpus is not None:
            self.cpus.remove(cpus)
        if memory is not None:
            self.memory.remove(memory)
        for size, amount in hugepages:
            counts = self.hugepages[size]
            counts.remove(amount)
            if not len(counts):
                del self.hugepages[size]


class _Smallest:
    """The running minimum over digests."""

    __slots__ = ("cpus", "hugepages", "memory", "nodes")

    def __init__(self, start: _Minima | None = None) -> None:
        self.nodes = 0
        self.cpus: int | None = None
        self.memory: int | None = None
        self.hugepages: dict[int, int] = {}
        if start is not None:
            self.nodes = start.nodes
            self.cpus = start.cpus.minimum()
            self.memory = start.memory.minimum()
            for size, counts in start.hugepages.items():
                low = counts.minimum()
                if low is not None:
                    self.hugepages[size] = low

    def add(self, digest: Digest) -> None:
        cpus, memory, hugepages, _problems = digest
        self.nodes += 1
        if cpus is not None and (self.cpus is None or cpus < self.cpus):
            self.cpus = cpus
        if memory is not None and (self.memory is None or memory < self.memory):
            self.memory = memory
        for size, amount in hugepages:
            low = self.hugepages.get(size)
            if low is None or amount < low:
                self.hugepages[size] = amount

    def capacity(self, scope: str) -> ClusterCapacity:
        return ClusterCapacity(
            nodes=self.nodes, cpus=self.cpus, memory_bytes=self.memory, hugepages=self.hugepages, scope=scope
        )


class FeasibleIndex:
    def __init__(self, *, memo_size: int = 256) -> None:
        self.nodes: dict[str, tuple[NodeFacts, Digest]] = {}
        self.labels: dict[str, dict[str, set[str]]] = {}
        self.restricted: set[str] = set()
        self.open = _Minima()
        self._memo: dict[Constraints, ClusterCapacity] = {}
        self._memo_size = memo_size
        self._pairs: dict[_Pair, _Pair] = {}
        self._taints: dict[Taint, Taint] = {}

    def facts_of(self, obj: Mapping[str, Any], name: str) -> NodeFacts:
        """The node's facts with its label pairs and taints shared with the other nodes'."""
        facts = NodeFacts.from_node(obj)
        pairs = self._pairs
        labels = []
        for key, value in facts.labels:
            pair = pairs.get((key, value))
            if pair is None:
                pair = pairs[(key, value)] = (sys.intern(key), sys.intern(value))
            labels.append(pair)
        taints = tuple(self._taints.setdefault(taint, taint) for taint in facts.taints)
        return NodeFacts(sys.intern(name), tuple(labels), taints, facts.unschedulable)

    # --- changes ----------------------------------------------------------------------------
    def put(self, name: str, facts: NodeFacts | None, digest: Digest) -> None:
        """The node now has ``facts`` (None: it publishes nothing and is not indexed)."""
        self.remove(name)
        if facts is None:
            return
        self.nodes[facts.name] = (facts, digest)
        for key, value in facts.labels:
            values = self.labels.get(key)
            if values is None:
                values = self.labels[key] = {}
            names = values.get(value)
            if names is None:
                names = values[value] = set()
            names.add(facts.name)
        if facts.restricted:
            self.restricted.add(facts.name)
        else:
            self.open.add(digest)

    def remove(self, name: str) -> None:
        entry = self.nodes.pop(name, None)
        self._memo.clear()
        if entry is None:
            return
        facts, digest = entry
        for key, value in facts.labels:
            values = self.labels[key]
            names = values[value]
            names.discard(name)
            if not names:
                del values[value]
                if not values:
                    del self.labels[key]
        if facts.restricted:
            self.restricted.discard(name)
        else:
            self.open.remove(digest)

    # --- what the decision reads ------------------------------------------------------------
    def capacity(self, constraints: Constraints) -> ClusterCapacity:
        found = self._memo.get(constraints)
        if found is not None:
            return found
        found = self._capacity(constraints)
        if self._memo_size > 0:
            if len(self._memo) >= self._memo_size:
                self._memo.clear()
            self._memo[constraints] = found
        return found

    def _capacity(self, constraints: Constraints) -> ClusterCapacity:
        total = len(self.nodes)
        excluded = 0
        if not constraints.selects:
            smallest = _Smallest(self.open)
            if constraints.tolerations:
                nodes = self.nodes
                for name in self.restricted:
                    facts, digest = nodes[name]
                    if constraints.tolerates(facts):
                        smallest.add(digest)
                    else:
                        excluded += 1
            else:
                excluded = len(self.restricted)
            return smallest.capacity(scope_text(constraints, smallest.nodes, total, excluded))
        smallest = _Smallest()
        candidates, exact = self._candidates(constraints)
        nodes = self.nodes
        for name in nodes if candidates is None else candidates:
            facts, digest = nodes[name]
            if not exact and not constraints.matches(facts):
                continue
            if facts.restricted and not constraints.tolerates(facts):
                excluded += 1
                continue
            smallest.add(digest)
        return smallest.capacity(scope_text(constraints, smallest.nodes, total, excluded))

    def _candidates(self, constraints: Constraints) -> tuple[Collection[str] | None, bool]:
        """Names that may match (None: every node), and whether they match exactly (no check needed)."""
        best: set[str] | None = None
        for key, value in constraints.node_selector:
            found = self.labels.get(key, {}).get(value)
            if not found:
                return (), True
            if best is None or len(found) < len(best):
                best = found
        if best is not None:
            exact = len(constraints.node_selector) == 1 and constraints.terms is None
            return best, exact
        union: set[str] = set()
        for term in constraints.terms or ():
            if term.error:
                continue
            found_term = self._term_candidates(term)
            if found_term is None:
                return None, False
            union.update(found_term)
        return union, False

    def _term_candidates(self, term: Term) -> Collection[str] | None:
        """The smallest set one positive requirement of ``term`` allows (None: none is positive)."""
        best: Collection[str] | None = None
        for requirement in term.fields:
            if requirement.key == "metadata.name" and requirement.operator == "In":
                name = requirement.values[0]
                return (name,) if name in self.nodes else ()
        for requirement in term.expressions:
            if requirement.operator not in ("In", "Exists", "Gt", "Lt"):
                continue
            values = self.labels.get(requirement.key, {})
            if requirement.operator == "In":
                sets = [values[value] for value in requirement.values if value in values]
            else:
                sets = [names for value, names in values.items() if requirement.matches(value)]
            size = sum(len(names) for names in sets)
            if best is None or size < len(best):
                best = sets[0] if len(sets) == 1 else set().union(*sets)
            if not best:
                return ()
        return best
