"""One NodeResourceTopology object -> the capacity digest the webhook keeps for its node.

A NodeResourceTopology (``topology.node.k8s.io/v1alpha2``, cluster-scoped, named after its Node;
NFD's topology-updater, the NUMA Resources Operator and ``kvnuma agent --publish-nrt`` write it)
lists ``zones``; the zones of ``type: Node`` are the NUMA cells (scheduler-plugins'
``NodeResourceTopologyMatch`` reads only those, too). Each zone lists ``resources`` with a
``capacity``, an ``allocatable`` and an ``available`` quantity. The digest is the same one the
VEP 135 annotations give (``kvnuma.webhook.min_counts.Digest``):

    cpus      the largest ``cpu`` capacity of a Node zone
    memory    the largest ``memory`` capacity of a Node zone
    hugepages per ``hugepages-<size>``: the largest capacity of a Node zone

each taken on its own, as the agent computes ``kubevirt.io/max-single-numa-*`` (the cell with
the most CPUs need not be the one with the most memory).

Why ``capacity``: the annotations publish the largest cell's online CPUs and its memory, which is
what a zone's ``capacity`` holds (the cell's CPUs and memory as the host has them).
``allocatable`` is that less the kubelet's reservations (reserved CPUs, the memory manager's
reserved memory) and ``available`` is allocatable less what running pods hold: a scheduler's
number, which changes with every pod (the scheduler plugin filters on it). VEP 135 asks whether a
VM could fit one NUMA node of a node at all, so a node reads the same from either source and the
threshold does not move as pods come and go.

An object is ignored (``Ignored``: the node's annotations are used instead) when it is of another
version or kind, has no ``zones`` list or a zone/resource that is not an object, has no zone of
type Node or no CPU/memory/huge page capacity in them, or a capacity that is not a quantity, not
whole, negative or absurd. Sizes are bounded: at most ``MAX_ZONES`` zones, ``MAX_RESOURCES``
resources a zone, ``MAX_CPUS`` CPUs and ``MAX_BYTES`` bytes a zone, page sizes a power of two
from 4 KiB to 16 GiB.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

from kvnuma.errors import InputError
from kvnuma.model.quantity import parse_bytes, parse_quantity
from kvnuma.webhook.min_counts import Digest

__all__ = [
    "API_VERSION",
    "KIND",
    "MAX_BYTES",
    "MAX_CPUS",
    "MAX_RESOURCES",
    "MAX_ZONES",
    "Ignored",
    "Reason",
    "digest_nrt",
    "nrt_name",
]

API_VERSION = "topology.node.k8s.io/v1alpha2"
KIND = "NodeResourceTopology"
ZONE_TYPE = "Node"
MAX_ZONES = 1024  # Linux's MAX_NUMNODES at its largest (CONFIG_NODES_SHIFT=10)
MAX_RESOURCES = 256
MAX_CPUS = 1 << 20  # the annotations' bound (kvnuma.admission.capacity)
MAX_BYTES = 1 << 62
_MIN_PAGE, _MAX_PAGE = 4 << 10, 16 << 30
_HUGEPAGES = "hugepages-"
_FIELD = "capacity"
_MEMO_SIZE = 4096


class Reason(StrEnum):
    """Why an object was ignored: the ``reason`` label of ``kvnuma_webhook_nrt_ignored_total``."""

    VERSION = "version"  # apiVersion or kind other than topology.node.k8s.io/v1alpha2 NodeResourceTopology
    SHAPE = "shape"  # no zones list, a zone or resource that is not an object, a field of the wrong type
    NO_NODE_ZONES = "no-node-zones"  # no zone of type Node
    NO_CAPACITY = "no-capacity"  # Node zones without cpu, memory or hugepages-* capacity
    QUANTITY = "quantity"  # a capacity that is not a quantity (or not whole)
    NEGATIVE = "negative"
    OUT_OF_RANGE = "out-of-range"  # absurd sizes
    TOO_LARGE = "too-large"  # more zones or resources than bounded


@dataclass(frozen=True, slots=True)
class Ignored:
    name: str
    reason: Reason
    problem: str  # one line naming the object and the field

    def one_line(self) -> str:
        return self.problem


class _Bad(Exception):
    def __init__(self, reason: Reason, problem: str) -> None:
        super().__init__(problem)
        self.reason = reason
        self.problem = problem


def nrt_name(obj: Mapping[str, Any]) -> str:
    """``metadata.name`` (the Node's name), "" when missing."""
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return name if isinstance(name, str) else ""


_Raw = tuple[tuple[str, object], ...]


class NrtDigester:
    """``digest_nrt`` memoised by the raw capacities read: the nodes of a cluster come in a few
    shapes, and parsing quantities is most of the cost. Ignored objects are not memoised (their
    problem names the object)."""

    def __init__(self) -> None:
        self._memo: dict[_Raw, Digest] = {}

    def __call__(self, obj: Mapping[str, Any]) -> tuple[str, Digest | Ignored]:
        name = nrt_name(obj)
        try:
            raw = _raw(obj, name)
        except _Bad as bad:
            return name, Ignored(name, bad.reason, bad.problem)
        found = self._memo.get(raw)
        if found is not None:
            return name, found
        try:
            digest = _digest(raw, name)
        except _Bad as bad:
            return name, Ignored(name, bad.reason, bad.problem)
        if len(self._memo) >= _MEMO_SIZE:
            self._memo.clear()
        self._memo[raw] = digest
        return name, digest


def digest_nrt(obj: Mapping[str, Any]) -> tuple[str, Digest | Ignored]:
    """(node name, its digest) or (node name, why the object is ignored); never raises."""
    return NrtDigester()(obj)


def _raw(obj: Mapping[str, Any], name: str) -> _Raw:
    """The (resource name, capacity) pairs of the Node zones' CPU, memory and huge page resources,
    after the shape checks."""
    what = f"NodeResourceTopology {name or '(unnamed)'}"
    if not name:
        raise _Bad(Reason.SHAPE, f"{what}: metadata.name: expected the Node's name")
    version, kind = obj.get("apiVersion"), obj.get("kind")
    # list items may leave out apiVersion and kind; present, they must be these
    if (version is not None and version != API_VERSION) or (kind is not None and kind != KIND):
        raise _Bad(Reason.VERSION, f"{what}: {version} {kind}: expected {API_VERSION} {KIND}")
    zones = obj.get("zones")
    if not isinstance(zones, list):
        got = "missing" if zones is None else f"a {type(zones).__name__}"
        raise _Bad(Reason.SHAPE, f"{what}: zones: expected a list, {got}")
    if len(zones) > MAX_ZONES:
        raise _Bad(Reason.TOO_LARGE, f"{what}: zones: {len(zones)} zones, at most {MAX_ZONES}")
    found: list[tuple[str, object]] = []
    node_zones = 0
    for i, zone in enumerate(zones):
        where = f"{what}: zones[{i}]"
        if not _is_mapping(zone):
            raise _Bad(Reason.SHAPE, f"{where}: expected an object")
        zone_type = zone.get("type")
        if not isinstance(zone_type, str) or not isinstance(zone.get("name"), str):
            raise _Bad(Reason.SHAPE, f"{where}: name and type must be strings")
        if zone_type != ZONE_TYPE:
            continue
        node_zones += 1
        resources = zone.get("resources", [])
        if not isinstance(resources, list):
            raise _Bad(Reason.SHAPE, f"{where}.resources: expected a list")
        if len(resources) > MAX_RESOURCES:
            raise _Bad(
                Reason.TOO_LARGE, f"{where}.resources: {len(resources)} resources, at most {MAX_RESOURCES}"
            )
        seen: set[str] = set()
        for j, resource in enumerate(resources):
            if not _is_mapping(resource) or type(resource.get("name")) is not str:
                raise _Bad(Reason.SHAPE, f"{where}.resources[{j}]: expected an object with a name")
            resource_name = resource["name"]
            if resource_name not in ("cpu", "memory") and not resource_name.startswith(_HUGEPAGES):
                continue  # devices and the like: not a NUMA node's size
            if resource_name in seen:
                raise _Bad(Reason.SHAPE, f"{where}.resources[{j}]: {resource_name} listed twice")
            seen.add(resource_name)
            value = resource.get(_FIELD)
            if value is None:
                raise _Bad(Reason.SHAPE, f"{where}.resources[{j}] ({resource_name}): {_FIELD} is missing")
            if type(value) is not str and type(value) is not int:
                raise _Bad(
                    Reason.QUANTITY,
                    f"{where}.resources[{j}] ({resource_name}): {_FIELD}: expected a quantity, "
                    f"got {type(value).__name__}",
                )
            found.append((resource_name, value))
    if not node_zones:
        raise _Bad(Reason.NO_NODE_ZONES, f"{what}: no zone of type {ZONE_TYPE}")
    if not found:
        raise _Bad(Reason.NO_CAPACITY, f"{what}: no cpu, memory or hugepages-* in its {ZONE_TYPE} zones")
    return tuple(found)


def _digest(raw: _Raw, name: str) -> Digest:
    what = f"NodeResourceTopology {name}"
    cpus = memory = 0
    hugepages: dict[int, int] = {}
    for resource_name, value in raw:
        where = f"{what}: {resource_name} {_FIELD}"
        amount = _amount(value, where)
        if resource_name == "cpu":
            if amount > MAX_CPUS:
                raise _Bad(Reason.OUT_OF_RANGE, f"{where} {_show(value)}: more than {MAX_CPUS} CPUs")
            cpus = max(cpus, amount)
            continue
        if resource_name == "memory":
            memory = max(memory, amount)
            continue
        size_text = resource_name[len(_HUGEPAGES) :]
        size = _amount(size_text, f"{what}: {resource_name}: page size")
        if not _MIN_PAGE <= size <= _MAX_PAGE or size & (size - 1):
            raise _Bad(
                Reason.OUT_OF_RANGE,
                f"{what}: {resource_name}: page size {size_text!r} is not a power of two from 4Ki to 16Gi",
            )
        hugepages[size] = max(hugepages.get(size, 0), amount)
    # a largest cell of 0 CPUs or 0 bytes publishes nothing (as the annotations); an empty pool
    # is a pool of 0 (as the annotations)
    return (cpus or None, memory or None, tuple(sorted(hugepages.items())), ())


def _is_mapping(value: object) -> bool:
    return type(value) is dict or isinstance(value, Mapping)  # parsed JSON: the first test


def _amount(value: object, where: str) -> int:
    if type(value) is int and 0 <= value <= MAX_BYTES:
        return value
    if type(value) is str:
        try:  # the common case, "64Gi" or "14", without Fractions
            whole = parse_bytes(value, source=where)
        except InputError:
            pass  # the long way, to say what is wrong
        else:
            if whole <= MAX_BYTES:
                return whole
    try:
        parsed = parse_quantity(value, source=where)  # type: ignore[arg-type]
    except InputError as error:
        raise _Bad(Reason.QUANTITY, error.one_line()) from None
    if parsed < 0:
        raise _Bad(Reason.NEGATIVE, f"{where} {_show(value)}: negative")
    if parsed > Fraction(MAX_BYTES):
        raise _Bad(Reason.OUT_OF_RANGE, f"{where} {_show(value)}: absurd (over 4Ei)")
    if parsed.denominator != 1:
        raise _Bad(Reason.QUANTITY, f"{where} {_show(value)}: not a whole number")
    return int(parsed)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
