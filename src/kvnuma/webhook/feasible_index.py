"""The feasible-node threshold's index over the nodes that publish capacity (``--threshold feasible``).

Every indexed node has a small integer id; sets of nodes are ``_Members``: a short list of ids
while small (a hostname label names one node), a bitmap (``bytearray``) once it holds more than
32 (a label most nodes carry costs nodes/8 bytes, not a hash table entry per node). Kept per
change, never by a scan of all nodes:

    facts, digests   per id: NodeFacts (labels as sorted interned pairs, scheduling taints,
                     cordoned; ``kvnuma.admission.feasible``) and the capacity digest
    labels           label key -> value -> nodes
    values           (cpus | memory | page size, value) -> nodes that publish that value
    restricted       nodes with a NoSchedule/NoExecute taint or cordoned
    open             the minima over the other nodes (``MinCounts``, as the cluster minimum)

``capacity(constraints)`` answers:
  - no nodeSelector, no required affinity, no tolerations (the common case): the open minima, O(1)
  - tolerations only: the open minima and the restricted nodes it tolerates, O(restricted)
  - a nodeSelector / required affinity: the matching nodes exactly, by bitwise AND / OR / NOT of
    the label bitmaps (In ORs the values named, Exists all of the key's values, NotIn and
    DoesNotExist complement, Gt/Lt OR the values that compare, metadata.name is one id; terms
    ORed); the restricted ones among them are checked against the tolerations one by one; then
    the minima over what is left, node by node when few, else value by value (the smallest value
    whose bitmap meets them). A request costs O(matching nodes) at most, and a few bitmap
    operations of nodes/8 bytes when many match.
  and memoises the answer by the (hashable) constraints until the next change of a node: the VMIs
  of one VM pool share their constraints. Only nodes that publish capacity are indexed (the others
  cannot change a minimum). A freed id is reused by the next node added.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import Any

from kvnuma.admission.capacity import ClusterCapacity
from kvnuma.admission.feasible import Constraints, NodeFacts, Taint, Term, scope_text
from kvnuma.webhook.min_counts import CapacityMinima, Digest

__all__ = ["Digest", "FeasibleIndex"]


_Pair = tuple[str, str]
_CPUS, _MEMORY = 0, 1  # dimensions; a huge page size (>= 4 KiB) is its own
_SMALL = 32  # members kept as a set up to this many, then as a bitmap
_MAX_PAIRS = 1 << 18  # distinct label pairs shared before the pool starts again


class _Smallest:
    """The running minimum over digests."""

    __slots__ = ("cpus", "hugepages", "memory", "nodes")

    def __init__(self, start: CapacityMinima | None = None) -> None:
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

    def merge(self, other: _Smallest) -> None:
        self.nodes += other.nodes
        if other.cpus is not None and (self.cpus is None or other.cpus < self.cpus):
            self.cpus = other.cpus
        if other.memory is not None and (self.memory is None or other.memory < self.memory):
            self.memory = other.memory
        for size, amount in other.hugepages.items():
            low = self.hugepages.get(size)
            if low is None or amount < low:
                self.hugepages[size] = amount

    def capacity(self, scope: str) -> ClusterCapacity:
        return ClusterCapacity(
            nodes=self.nodes, cpus=self.cpus, memory_bytes=self.memory, hugepages=self.hugepages, scope=scope
        )


def _bits(mask: int) -> Iterator[int]:
    """The positions of the set bits of ``mask``."""
    text = bin(mask)
    top = len(text) - 1
    at = text.find("1", 2)
    while at != -1:
        yield top - at
        at = text.find("1", at + 1)


class _Members:
    """A set of node ids: a short list while it is small (most label values of a large cluster
    name one node: its hostname; a one-item list is 64 bytes, a set 216), a bitmap when it grows
    (a label most nodes carry)."""

    __slots__ = ("bits", "count", "ids")

    def __init__(self) -> None:
        self.ids: list[int] | None = []
        self.bits: bytearray | None = None
        self.count = 0

    def add(self, i: int) -> None:
        """``i`` must not be held."""
        self.count += 1
        if self.ids is not None:
            self.ids.append(i)
            if len(self.ids) <= _SMALL:
                return
            ids, self.ids = self.ids, None
            self.bits = bytearray((max(ids) >> 3) + 1)
            for held in ids:
                self.bits[held >> 3] |= 1 << (held & 7)
            return
        bits = self.bits
        assert bits is not None
        if len(bits) <= i >> 3:
            bits.extend(bytes((i >> 3) + 1 - len(bits)))
        bits[i >> 3] |= 1 << (i & 7)

    def discard(self, i: int) -> None:
        """``i`` must be held."""
        self.count -= 1
        if self.ids is not None:
            self.ids.remove(i)
        elif self.bits is not None:
            self.bits[i >> 3] &= ~(1 << (i & 7)) & 0xFF

    def mask(self) -> int:
        if self.bits is not None:
            return int.from_bytes(self.bits, "little")
        mask = 0
        for i in self.ids or ():
            mask |= 1 << i
        return mask


class FeasibleIndex:
    def __init__(self, *, memo_size: int = 256) -> None:
        self._ids: dict[str, int] = {}
        self._free: list[int] = []
        self._facts: list[NodeFacts | None] = []
        self._digests: list[Digest | None] = []
        self._all = _Members()
        self._labels: dict[str, dict[str, _Members]] = {}
        self._restricted = _Members()
        self._values: dict[tuple[int, int], _Members] = {}  # (dimension, value) -> nodes
        self._sorted: dict[int, list[tuple[int, _Members]]] | None = None
        self.open = CapacityMinima()
        self._memo: dict[Constraints, ClusterCapacity] = {}
        self._memo_size = memo_size
        self._pairs: dict[_Pair, _Pair] = {}
        self._taints: dict[Taint, Taint] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def facts(self, name: str) -> NodeFacts | None:
        i = self._ids.get(name)
        return None if i is None else self._facts[i]

    def facts_of(self, obj: Mapping[str, Any], name: str) -> NodeFacts:
        """The node's facts with its label pairs and taints shared with the other nodes'."""
        facts = NodeFacts.from_node(obj)
        pairs = self._pairs
        labels = []
        for key, value in facts.labels:
            pair = pairs.get((key, value))
            if pair is None:
                if len(pairs) >= _MAX_PAIRS:
                    pairs.clear()
                pair = pairs[(key, value)] = (sys.intern(key), sys.intern(value))
            labels.append(pair)
        taints = tuple(self._taints.setdefault(taint, taint) for taint in facts.taints)
        return NodeFacts(name, tuple(labels), taints, facts.unschedulable)

    # --- changes ----------------------------------------------------------------------------
    def put(self, name: str, facts: NodeFacts | None, digest: Digest) -> None:
        """The node now has ``facts`` (None: it publishes nothing and is not indexed)."""
        self.remove(name)
        if facts is None:
            return
        if self._free:
            i = self._free.pop()
            self._facts[i], self._digests[i] = facts, digest
        else:
            i = len(self._facts)
            self._facts.append(facts)
            self._digests.append(digest)
        self._ids[name] = i
        self._all.add(i)
        for key, value in facts.labels:
            values = self._labels.get(key)
            if values is None:
                values = self._labels[key] = {}
            members = values.get(value)
            if members is None:
                members = values[value] = _Members()
            members.add(i)
        for dimension in _dimensions(digest):
            members = self._values.get(dimension)
            if members is None:
                members = self._values[dimension] = _Members()
            members.add(i)
        if facts.restricted:
            self._restricted.add(i)
        else:
            self.open.add(digest)

    def remove(self, name: str) -> None:
        self._memo.clear()
        self._sorted = None
        i = self._ids.pop(name, None)
        if i is None:
            return
        facts, digest = self._facts[i], self._digests[i]
        assert facts is not None
        assert digest is not None
        self._facts[i] = self._digests[i] = None
        self._free.append(i)
        self._all.discard(i)
        for key, value in facts.labels:
            values = self._labels[key]
            _drop(values, value, i)
            if not values:
                del self._labels[key]
        for dimension in _dimensions(digest):
            members = self._values[dimension]
            members.discard(i)
            if not members.count:
                del self._values[dimension]
        if facts.restricted:
            self._restricted.discard(i)
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
        total = len(self._ids)
        excluded = 0
        if not constraints.selects:  # every node but the restricted ones it does not tolerate
            smallest = _Smallest(self.open)
            if constraints.tolerations:
                tolerated, excluded = self._tolerated(self._restricted.mask(), constraints)
                smallest.merge(self._smallest(tolerated, total))
            else:
                excluded = self._restricted.count
            return smallest.capacity(scope_text(constraints, smallest.nodes, total, excluded))
        matched = self._selected(constraints)
        restricted = matched & self._restricted.mask()
        admitted = matched & ~restricted
        if constraints.tolerations:
            tolerated, excluded = self._tolerated(restricted, constraints)
            admitted |= tolerated
        else:
            excluded = restricted.bit_count()
        return self._smallest(admitted, total).capacity(
            scope_text(constraints, admitted.bit_count(), total, excluded)
        )

    def _tolerated(self, restricted: int, constraints: Constraints) -> tuple[int, int]:
        """The nodes of ``restricted`` whose taints (and cordon) ``constraints`` tolerate, and how
        many it does not; nodes share their taints, so each distinct set is decided once."""
        facts = self._facts
        verdicts: dict[tuple[tuple[Taint, ...], bool], bool] = {}
        tolerated = bytearray((restricted.bit_length() >> 3) + 1)
        excluded = 0
        for i in _bits(restricted):
            node = facts[i]
            assert node is not None
            shape = (node.taints, node.unschedulable)
            verdict = verdicts.get(shape)
            if verdict is None:
                verdict = verdicts[shape] = constraints.tolerates(node)
            if verdict:
                tolerated[i >> 3] |= 1 << (i & 7)
            else:
                excluded += 1
        return int.from_bytes(tolerated, "little"), excluded

    def _smallest(self, admitted: int, total: int) -> _Smallest:
        """The minima over ``admitted``: node by node when they are few, else value by value
        (each distinct published value has its own bitmap: the first, in ascending order, that
        meets ``admitted`` is the minimum), whichever visits less."""
        smallest = _Smallest()
        count = admitted.bit_count()
        if count <= _per_node_limit(len(self._values), total):
            digests = self._digests
            for i in _bits(admitted):
                smallest.add(digests[i])  # type: ignore[arg-type]
            return smallest
        if self._sorted is None:
            ordered: dict[int, list[tuple[int, _Members]]] = {}
            for (dimension, value), members in self._values.items():
                ordered.setdefault(dimension, []).append((value, members))
            for entries in ordered.values():
                entries.sort(key=lambda entry: entry[0])
            self._sorted = ordered
        smallest.nodes = count
        for dimension, entries in self._sorted.items():
            for value, members in entries:
                if members.mask() & admitted:
                    if dimension == _CPUS:
                        smallest.cpus = value
                    elif dimension == _MEMORY:
                        smallest.memory = value
                    else:
                        smallest.hugepages[dimension] = value
                    break
        return smallest

    def _selected(self, constraints: Constraints) -> int:
        """The nodes the nodeSelector and the required affinity match, exactly, as a bitmask."""
        everyone = self._all.mask()
        matched = everyone
        for key, value in constraints.node_selector:
            matched &= self._pair(key, value)
            if not matched:
                return 0
        if constraints.terms is not None:
            union = 0
            for term in constraints.terms:
                union |= self._term(term, everyone, matched)
            matched &= union
        return matched

    def _pair(self, key: str, value: str) -> int:
        members = self._labels.get(key, {}).get(value)
        return members.mask() if members is not None else 0

    def _term(self, term: Term, everyone: int, within: int) -> int:
        if term.error:
            return 0
        matched = within
        for requirement in term.expressions:
            if not matched:
                return 0
            operator, key = requirement.operator, requirement.key
            if operator in ("In", "NotIn"):
                found = 0
                for value in requirement.values:
                    found |= self._pair(key, value)
                matched &= found if operator == "In" else everyone & ~found
            elif operator in ("Exists", "DoesNotExist"):
                found = 0
                for members in self._labels.get(key, {}).values():
                    found |= members.mask()
                matched &= found if operator == "Exists" else everyone & ~found
            else:  # Gt, Lt: the values of that key that compare so
                found = 0
                for value, members in self._labels.get(key, {}).items():
                    if requirement.matches(value):
                        found |= members.mask()
                matched &= found
        for requirement in term.fields:
            if requirement.key != "metadata.name":  # a field nodes do not have reads ""
                matched = matched if requirement.matches("") else 0
                continue
            i = self._ids.get(requirement.values[0])
            found = 0 if i is None else 1 << i
            matched &= found if requirement.operator == "In" else everyone & ~found
        return matched


def _per_node_limit(values: int, total: int) -> int:
    """Up to how many nodes the minima are taken node by node: a value's bitmap costs about
    ``total / 8000`` node visits."""
    return values + values * total // 8000


def _dimensions(digest: Digest) -> list[tuple[int, int]]:
    """(dimension, value) per published number: cpus, memory, one per huge page size."""
    cpus, memory, hugepages, _problems = digest
    found = [(size, amount) for size, amount in hugepages]
    if cpus is not None:
        found.append((_CPUS, cpus))
    if memory is not None:
        found.append((_MEMORY, memory))
    return found


def _drop(table: dict[str, _Members], key: str, i: int) -> None:
    members = table[key]
    members.discard(i)
    if not members.count:
        del table[key]
