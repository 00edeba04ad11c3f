"""A host's NUMA capacity as one ``topology.node.k8s.io/v1alpha2`` NodeResourceTopology object.

The object is the one NFD's topology-updater and the NUMA Resources Operator publish and
scheduler-plugins' ``NodeResourceTopologyMatch`` reads (CRD: k8stopologyawareschedwg/
noderesourcetopology-api, ``manifests/crd.yaml``). ``build_nrt`` makes it from a ``HostTopology``
and, when known, the kubelet's podresources view (``KubeletResources``):

- ``metadata.name`` is the node's name; ``ownerReferences`` name the v1 Node (its uid), so the
  object goes when the Node goes;
- one zone per host cell, in host order: ``name: node-<id>``, ``type: Node``, ``costs`` from the
  cell's distances (``name: node-<j>``, ``value: distance``);
- zone resources, quantities as decimal strings (as the Go producers write them):

  ``cpu``
      capacity: the cell's online CPUs. allocatable: those of them the kubelet may hand out
      exclusively (``GetAllocatableResources`` cpu_ids: the node less ``--reserved-cpus``; none
      without the static CPU Manager policy), or capacity without a kubelet view. available:
      allocatable less the CPUs running containers hold exclusively (``List``).
  ``memory``, ``hugepages-<size>`` (``hugepages-2Mi``, ``hugepages-1Gi``), in bytes
      capacity: the cell's MemTotal (huge pages included, as NFD counts it) and its pools.
      allocatable: the kubelet's allocatable block for that node (the Memory Manager reports one
      per node and type: the node less ``--reserved-memory``), or capacity without a kubelet
      view. available: allocatable less the blocks containers hold. A block held on several
      nodes (a container the Memory Manager spread over nodes 0 and 1) is charged to its nodes in
      ascending id order, each up to what it has left: that is how the static Memory Manager
      fills them, and it keeps such a group of nodes for allocations spread the same way, so
      the order of the containers does not change the result. When the kubelet reports no
      allocatable memory of a type at all (no static Memory Manager policy: it does not account
      memory per node), the type is left out of every zone instead of guessing.

- ``attributes`` ``topologyManagerPolicy`` / ``topologyManagerScope`` only when known.

``available`` is never guessed: without a kubelet view it is left out (a preview; the v1alpha2
schema requires it, so the API server refuses such an object and the agent never sends one).
Views that cannot both be true (the kubelet naming CPUs or nodes the host does not have, holding
more than it may allocate, allocating more than the host has) are an ``InputError``: a wrong
topology is worse than none. Plain data in, plain dict out; no IO.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kvnuma.errors import InputError
from kvnuma.model.cpuset import CpuSet
from kvnuma.model.kubelet import KubeletResources, MemoryBlock
from kvnuma.model.quantity import format_bytes, parse_bytes
from kvnuma.model.topology import Cell, HostTopology

__all__ = [
    "API_VERSION",
    "KIND",
    "POLICY_ATTRIBUTE",
    "SCOPE_ATTRIBUTE",
    "TOPOLOGY_MANAGER_POLICIES",
    "TOPOLOGY_MANAGER_SCOPES",
    "ZONE_TYPE",
    "TopologyManager",
    "build_nrt",
    "hugepages_resource",
    "zone_name",
]

API_VERSION = "topology.node.k8s.io/v1alpha2"
KIND = "NodeResourceTopology"
ZONE_TYPE = "Node"
POLICY_ATTRIBUTE = "topologyManagerPolicy"
SCOPE_ATTRIBUTE = "topologyManagerScope"
TOPOLOGY_MANAGER_POLICIES = ("none", "best-effort", "restricted", "single-numa-node")
"""The kubelet's ``topologyManagerPolicy`` values (KubeletConfiguration v1beta1)."""
TOPOLOGY_MANAGER_SCOPES = ("container", "pod")
"""The kubelet's ``topologyManagerScope`` values."""

_BASE_PAGE = 4096
_KUBELET = "podresources"


@dataclass(frozen=True, slots=True)
class TopologyManager:
    """The kubelet's Topology Manager settings, each None when not known."""

    policy: str | None = None
    scope: str | None = None

    def __post_init__(self) -> None:
        if self.policy is not None and self.policy not in TOPOLOGY_MANAGER_POLICIES:
            known = ", ".join(TOPOLOGY_MANAGER_POLICIES)
            raise InputError("topologyManagerPolicy", f"unknown policy {self.policy!r} (known: {known})")
        if self.scope is not None and self.scope not in TOPOLOGY_MANAGER_SCOPES:
            known = ", ".join(TOPOLOGY_MANAGER_SCOPES)
            raise InputError("topologyManagerScope", f"unknown scope {self.scope!r} (known: {known})")

    def attributes(self) -> list[dict[str, str]]:
        pairs = ((POLICY_ATTRIBUTE, self.policy), (SCOPE_ATTRIBUTE, self.scope))
        return [{"name": name, "value": value} for name, value in pairs if value is not None]


def zone_name(cell_id: int) -> str:
    return f"node-{cell_id}"


def hugepages_resource(page_size_bytes: int) -> str:
    """Kubernetes' name for huge pages of one size: ``hugepages-2Mi``, ``hugepages-1Gi``."""
    return f"hugepages-{format_bytes(page_size_bytes)}"


@dataclass(slots=True)
class _Amounts:
    capacity: int
    allocatable: int
    available: int | None


def build_nrt(
    topology: HostTopology,
    *,
    node_name: str,
    node_uid: str | None,
    kubelet: KubeletResources | None = None,
    manager: TopologyManager | None = None,
) -> dict[str, Any]:
    """The NodeResourceTopology object of this host (see the module text for every field).

    Without ``kubelet`` no resource has ``available``, and ``node_uid=None`` leaves out the owner
    reference: both make a preview, not a publishable object. Raises InputError for an empty name
    or uid, a host without cells, or views that contradict.
    """
    if not node_name:
        raise InputError("node name", "empty")
    if node_uid is not None and not node_uid:
        raise InputError(f"node {node_name}", "no uid (the owner reference needs the Node's uid)")
    if not topology.cells:
        raise InputError("host topology", "no NUMA cells")
    ids = topology.cell_ids
    if len(set(ids)) != len(ids):
        raise InputError("host topology", f"cell ids repeat: {list(ids)}")
    for cell in topology.cells:
        unknown = sorted({other for other, _ in cell.distances} - set(ids))
        if unknown:
            raise InputError(
                f"host topology: cell {cell.id}", f"distances name cells it does not have: {unknown}"
            )

    amounts: dict[int, dict[str, _Amounts]] = {cell.id: {} for cell in topology.cells}
    for cell_id, cpu in _cpus(topology, kubelet).items():
        amounts[cell_id]["cpu"] = cpu
    for cell_id, memory in _memory(topology, kubelet).items():
        amounts[cell_id].update(memory)

    metadata: dict[str, Any] = {"name": node_name}
    if node_uid is not None:
        metadata["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid}
        ]
    body: dict[str, Any] = {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata}
    attributes = (manager or TopologyManager()).attributes()
    if attributes:
        body["attributes"] = attributes
    body["zones"] = [_zone(cell, amounts[cell.id]) for cell in topology.cells]
    return body


def _zone(cell: Cell, resources: Mapping[str, _Amounts]) -> dict[str, Any]:
    zone: dict[str, Any] = {"name": zone_name(cell.id), "type": ZONE_TYPE}
    if cell.distances:
        zone["costs"] = [{"name": zone_name(other), "value": distance} for other, distance in cell.distances]
    listed = []
    for name in sorted(resources, key=_resource_order):
        item = resources[name]
        entry = {"name": name, "capacity": str(item.capacity), "allocatable": str(item.allocatable)}
        if item.available is not None:
            entry["available"] = str(item.available)
        listed.append(entry)
    zone["resources"] = listed
    return zone


def _resource_order(name: str) -> tuple[int, int, str]:
    if name == "cpu":
        return (0, 0, name)
    if name == "memory":
        return (1, 0, name)
    return (2, _page_size(name), name)


def _page_size(name: str) -> int:
    return parse_bytes(name.removeprefix("hugepages-"), source=name)


# --- cpu ------------------------------------------------------------------------------------


def _cpus(topology: HostTopology, kubelet: KubeletResources | None) -> dict[int, _Amounts]:
    online = {cell.id: cell.online_cpu_ids for cell in topology.cells}
    if kubelet is None:
        return {cid: _Amounts(len(cpus), len(cpus), None) for cid, cpus in online.items()}
    host = CpuSet.of(cpu for cpus in online.values() for cpu in cpus)
    stray = kubelet.allocatable_cpus - host
    if stray:
        raise InputError(
            _KUBELET,
            f"allocatable CPUs {stray.format()} are not online CPUs of this host ({host.format() or 'none'})",
        )
    held = kubelet.assigned_cpus - kubelet.allocatable_cpus
    if held:
        raise InputError(
            _KUBELET,
            f"CPUs {held.format()} are listed as held by containers but are not allocatable "
            "(a kubelet that lists shared-pool CPUs?)",
        )
    result = {}
    for cid, cpus in online.items():
        allocatable = cpus & kubelet.allocatable_cpus
        taken = allocatable & kubelet.assigned_cpus
        result[cid] = _Amounts(len(cpus), len(allocatable), len(allocatable) - len(taken))
    return result


# --- memory and huge pages ------------------------------------------------------------------


def _host_memory(cell: Cell) -> dict[str, int]:
    capacity = {"memory": cell.memory_bytes}
    for pool in cell.hugepages:
        if pool.page_size_bytes > _BASE_PAGE:
            capacity[hugepages_resource(pool.page_size_bytes)] = pool.total_bytes
    return capacity


def _kubelet_name(block: MemoryBlock) -> str:
    """The block's type in Kubernetes' spelling (``hugepages-2Mi``); InputError if it is neither
    memory nor huge pages of a power-of-two size above the base page."""
    if block.resource == "memory":
        return "memory"
    if block.resource.startswith("hugepages-"):
        try:
            size = _page_size(block.resource)
        except InputError:
            size = 0
        if size > _BASE_PAGE and size & (size - 1) == 0:  # page sizes are powers of two
            return hugepages_resource(size)
    raise InputError(_KUBELET, f"unknown memory type {block.resource[:64]!r}")


def _memory(topology: HostTopology, kubelet: KubeletResources | None) -> dict[int, dict[str, _Amounts]]:
    capacity = {cell.id: _host_memory(cell) for cell in topology.cells}
    if kubelet is None:
        return {
            cid: {name: _Amounts(size, size, None) for name, size in caps.items()}
            for cid, caps in capacity.items()
        }

    allocatable: dict[str, dict[int, int]] = {}
    for block in kubelet.allocatable_memory:
        name = _kubelet_name(block)
        _known_nodes(block, capacity, "allocatable")
        if len(block.nodes) != 1:
            raise InputError(
                _KUBELET,
                f"allocatable {name} block of {block.size} bytes names nodes {list(block.nodes)}; "
                "the kubelet reports allocatable memory one node at a time",
            )
        per_node = allocatable.setdefault(name, {})
        per_node[block.nodes[0]] = per_node.get(block.nodes[0], 0) + block.size

    left: dict[str, dict[int, int]] = {}
    for name, per_node in allocatable.items():
        left[name] = {cid: per_node.get(cid, 0) for cid in capacity}
        for cid, amount in left[name].items():
            have = capacity[cid].get(name, 0)
            if amount > have:
                raise InputError(
                    _KUBELET,
                    f"allocatable {name} on node {cid} is {amount} bytes, more than the host's {have}",
                )

    # Single-node holdings first, then spread ones, each over its nodes in ascending order.
    for block in sorted(kubelet.assigned_memory, key=lambda b: (len(b.nodes), b.nodes, b.resource)):
        name = _kubelet_name(block)
        if name not in left:
            raise InputError(_KUBELET, f"containers hold {name} but the kubelet reports none allocatable")
        if not block.nodes:
            raise InputError(_KUBELET, f"a held {name} block of {block.size} bytes names no NUMA node")
        _known_nodes(block, capacity, "held")
        owed = block.size
        for node in sorted(set(block.nodes)):
            charge = min(owed, left[name][node])
            left[name][node] -= charge
            owed -= charge
        if owed:
            nodes = ",".join(str(n) for n in sorted(set(block.nodes)))
            raise InputError(
                _KUBELET,
                f"containers hold more {name} on nodes {nodes} than is allocatable there ({owed} bytes over)",
            )

    result: dict[int, dict[str, _Amounts]] = {}
    for cid, caps in capacity.items():
        zone = {}
        for name in sorted(set(caps) | set(allocatable)):
            if name not in allocatable:
                continue  # the kubelet does not account this type per node: leave it out
            zone[name] = _Amounts(caps.get(name, 0), allocatable[name].get(cid, 0), left[name][cid])
        result[cid] = zone
    return result


def _known_nodes(block: MemoryBlock, capacity: Mapping[int, object], what: str) -> None:
    unknown: Sequence[int] = sorted(set(block.nodes) - set(capacity))
    if unknown:
        raise InputError(
            _KUBELET, f"{what} {block.resource} block names nodes this host does not have: {unknown}"
        )
