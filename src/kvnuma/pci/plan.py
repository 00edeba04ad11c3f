"""The pure PCI NUMA placement: which device goes behind which expander, with which indexes
and bus numbers. Plain values in, plain values out; no XML.

Rules (KubeVirt VEP 115 compatible, plus host grouping):

* a device goes to the guest cell bound to its host NUMA node; one ``pcie-expander-bus`` per
  (guest cell, host group) and one ``pcie-root-port`` per device on it (at most 32 ports per
  expander: a larger group gets a second expander). Without host groups there is one expander
  per guest cell, as in KubeVirt; with them, devices sharing a host root complex (and so any
  switch under it: a GPU and its RDMA NIC) stay together, apart from devices of other root
  complexes;
* order: expanders by (cell, group, first device address), devices by address;
* controller indexes continue after the other controllers' highest index (reusing kvnuma's own
  previous indexes first, so that a second run over its own output changes nothing);
* bus numbers are allocated downwards from 255: each expander takes one for itself and one per
  port. Controller indexes count upwards from 0 in the same 0..255 space (they approximate the
  buses the rest of the topology uses), so the lowest expander bus number must stay above the
  highest index + 1; otherwise ``RuleError('pci-bus-numbers')``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kvnuma.errors import RuleError
from kvnuma.pci.address import PciAddress

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["DeviceRequest", "Expander", "PciPlan", "Port", "Skipped", "plan_placement"]

PORTS_PER_EXPANDER = 32
HIGHEST_BUS = 255


@dataclass(frozen=True)
class DeviceRequest:
    """One PCI hostdev as placement sees it.

    ``host_node``: None = no such device on this host, -1 = no NUMA affinity.
    ``group``: the host PCIe root complex it hangs off (None = unknown).
    ``foreign_address``: it has a guest address kvnuma did not set (kept, as KubeVirt does).
    """

    address: PciAddress
    host_node: int | None
    group: str | None = None
    foreign_address: bool = False


@dataclass(frozen=True)
class Port:
    alias: str
    index: int
    slot: int
    device: PciAddress


@dataclass(frozen=True)
class Expander:
    alias: str
    index: int
    bus_nr: int
    cell: int
    group: str | None
    ports: tuple[Port, ...]


@dataclass(frozen=True)
class Skipped:
    device: PciAddress
    rule: str
    reason: str


@dataclass(frozen=True)
class PciPlan:
    expanders: tuple[Expander, ...]
    skipped: tuple[Skipped, ...]

    @property
    def controller_count(self) -> int:
        return sum(1 + len(expander.ports) for expander in self.expanders)


def _skip_reason(
    device: DeviceRequest, cell_of_node: Mapping[int, int], unbound: Mapping[int, str]
) -> Skipped | None:
    if device.host_node is None:
        return Skipped(device.address, "pci-device-present", f"{device.address} is not present on this host")
    if device.host_node < 0:
        return Skipped(device.address, "pci-numa-affinity", f"{device.address} has no host NUMA node (-1)")
    if device.host_node not in cell_of_node:
        why = unbound.get(device.host_node, f"no guest cell is bound to host node {device.host_node}")
        where = f"{device.address} is on host node {device.host_node}"
        return Skipped(device.address, "pci-guest-cell", f"{where}: {why}")
    if device.foreign_address:
        why = f"{device.address} already has a guest PCI address"
        return Skipped(device.address, "pci-guest-address", why)
    return None


def _allocate(count: int, foreign: frozenset[int], previous: Sequence[int]) -> list[int]:
    indexes = sorted(i for i in set(previous) if i not in foreign and i > 0)[:count]
    taken = set(foreign) | set(indexes)
    following = max(taken | {0}) + 1
    while len(indexes) < count:
        indexes.append(following)
        following += 1
    return sorted(indexes)


def plan_placement(
    devices: Sequence[DeviceRequest],
    cell_of_node: Mapping[int, int],
    *,
    foreign_indexes: frozenset[int],
    previous_indexes: Sequence[int] = (),
    unbound_nodes: Mapping[int, str] | None = None,
    strict: bool = False,
) -> PciPlan:
    """Place ``devices``; skipped devices carry their rule and reason (strict: the first one is
    raised as a RuleError). Running out of bus numbers is always a RuleError."""
    unbound = unbound_nodes or {}
    skipped: list[Skipped] = []
    groups: dict[tuple[int, str], list[DeviceRequest]] = {}
    for device in sorted(devices, key=lambda d: d.address):
        reason = _skip_reason(device, cell_of_node, unbound)
        if reason is not None:
            skipped.append(reason)
            continue
        assert device.host_node is not None
        groups.setdefault((cell_of_node[device.host_node], device.group or ""), []).append(device)
    if strict and skipped:
        first = skipped[0]
        raise RuleError(
            first.rule,
            needed="every PCI hostdev placed on its guest NUMA cell",
            available=f"{len(skipped)} of {len(devices)} not placeable",
            detail=first.reason,
        )
    chunks: list[tuple[int, str, list[DeviceRequest]]] = []
    for (cell, group), members in sorted(groups.items(), key=lambda item: (item[0][0], item[1][0].address)):
        for start in range(0, len(members), PORTS_PER_EXPANDER):
            chunks.append((cell, group, members[start : start + PORTS_PER_EXPANDER]))
    needed = sum(1 + len(members) for _cell, _group, members in chunks)
    indexes = _allocate(needed, foreign_indexes, previous_indexes)
    if indexes and HIGHEST_BUS + 1 - needed <= max(indexes) + 1:
        highest_foreign = max(foreign_indexes | {0})
        raise RuleError(
            "pci-bus-numbers",
            needed=f"{needed} bus numbers",
            available=f"{max(0, (HIGHEST_BUS - 1 - highest_foreign) // 2)}",
            detail=f"expanders count down from bus {HIGHEST_BUS}, controller indexes count up "
            f"from {highest_foreign}",
        )
    expanders = []
    used = 0
    per_cell: dict[int, int] = {}
    for cell, group, members in chunks:
        ordinal = per_cell.get(cell, 0)
        per_cell[cell] = ordinal + 1
        expander_index = indexes[used]
        ports = tuple(
            Port(f"ua-kvnuma-rp-{device.address.alias_part}", indexes[used + 1 + slot], slot, device.address)
            for slot, device in enumerate(members)
        )
        used += 1 + len(members)
        expanders.append(
            Expander(
                alias=f"ua-kvnuma-pxb-{cell}-{ordinal}",
                index=expander_index,
                bus_nr=HIGHEST_BUS + 1 - used,
                cell=cell,
                group=group or None,
                ports=ports,
            )
        )
    return PciPlan(tuple(expanders), tuple(skipped))
