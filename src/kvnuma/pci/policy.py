"""The PCI NUMA affinity policy (Nova's ``hw:pci_numa_affinity_policy``) on kvnuma's placement.

The pod's host nodes are already chosen (the kubelet pinned them) when the domain is defined, so
a policy cannot move the VM; it decides, per device, by where the device sits relative to the
host nodes that back the domain's guest cells:

==================  ==============  ======================  ======================  ==========
device on           ``legacy``      ``preferred``           ``socket``              ``required``
==================  ==============  ======================  ======================  ==========
a pod node          placed          placed                  placed                  placed
same socket         left in place   nearest cell, warning   same-socket cell        refused
other socket        left in place   nearest cell, warning   refused                 refused
no NUMA node (-1)   left in place   left in place, warning  refused                 refused
not on the host     left in place   left in place, warning  refused                 refused
==================  ==============  ======================  ======================  ==========

"Nearest cell": the guest cell of a pod node on the device's socket (the lowest such cell), else
the lowest guest cell. ``legacy`` is kvnuma's behaviour without the annotation. A refusal is a
``PolicyRefused`` (a ``RuleError('pci-numa-affinity-policy')``) naming every refused device: the
hook then fails the definition. Standard library only (the hook bundles it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kvnuma.errors import InputError, RuleError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from kvnuma.pci.plan import DeviceRequest

__all__ = [
    "POLICIES",
    "POLICY_RULE",
    "PolicyDecision",
    "PolicyRefused",
    "Verdict",
    "apply_policy",
    "parse_policy",
]

POLICIES = ("legacy", "preferred", "socket", "required")
POLICY_RULE = "pci-numa-affinity-policy"
_OR_SOCKETS = {"socket": " or their sockets"}

LOCAL, SAME_SOCKET, OTHER_SOCKET, NO_AFFINITY, ABSENT = (
    "pod node",
    "same socket",
    "other socket",
    "no NUMA node",
    "not on the host",
)


@dataclass(frozen=True)
class Verdict:
    """What the policy decided for one device: ``locality`` (a row of the table), ``outcome``
    (``placed``, ``left in place``, ``refused``), ``cell`` (the guest cell it goes to) and, for a
    device not on a pod node, one ``line`` saying so (a warning under ``preferred``)."""

    device: str
    host_node: int | None
    locality: str
    outcome: str
    cell: int | None = None
    line: str = ""
    warning: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "device": self.device,
            "hostNode": self.host_node,
            "locality": self.locality,
            "outcome": self.outcome,
            "cell": self.cell,
        }


@dataclass(frozen=True)
class PolicyDecision:
    """``cell_of_node``: the binding placement uses (pod nodes, plus the remote nodes the policy
    accepts, each on its chosen cell); ``verdicts``: one per device, by address."""

    policy: str
    cell_of_node: Mapping[int, int]
    verdicts: tuple[Verdict, ...]


class PolicyRefused(RuleError):
    """``RuleError('pci-numa-affinity-policy')`` with the verdict of every device (the refused
    ones with outcome ``refused``), so that an explanation can show all of them."""

    def __init__(self, verdicts: tuple[Verdict, ...], *, needed: str, available: str, detail: str) -> None:
        super().__init__(POLICY_RULE, needed=needed, available=available, detail=detail)
        self.verdicts = verdicts


def parse_policy(text: str, *, source: str) -> str:
    """The annotation's value (blank: ``legacy``); InputError for any other value."""
    value = text.strip().lower()
    if not value:
        return "legacy"
    if value not in POLICIES:
        raise InputError(source, f"{text.strip()[:40]!r} is not one of {', '.join(POLICIES)}")
    return value


def _locality(
    node: int | None, pod_nodes: frozenset[int], pod_sockets: frozenset[int], socket_of: Mapping[int, int]
) -> str:
    if node is None:
        return ABSENT
    if node < 0:
        return NO_AFFINITY
    if node in pod_nodes:
        return LOCAL
    return SAME_SOCKET if socket_of.get(node) in pod_sockets else OTHER_SOCKET


def _nearest_cell(
    node: int, cell_of_node: Mapping[int, int], socket_of: Mapping[int, int], *, same_socket_only: bool
) -> int | None:
    socket = socket_of.get(node)
    same = sorted(
        cell
        for pod_node, cell in cell_of_node.items()
        if socket is not None and socket_of.get(pod_node) == socket
    )
    if same:
        return same[0]
    if same_socket_only or not cell_of_node:
        return None
    return min(cell_of_node.values())


def apply_policy(
    policy: str,
    devices: Sequence[DeviceRequest],
    cell_of_node: Mapping[int, int],
    pod_nodes: frozenset[int],
    socket_of: Mapping[int, int],
) -> PolicyDecision:
    """Decide each device (see the module table). ``pod_nodes``: the host nodes backing the
    domain's guest cells (bound or not); ``socket_of``: host node -> socket, where known."""
    pod_sockets = frozenset(socket_of[n] for n in pod_nodes if n in socket_of)
    binding = dict(cell_of_node)
    verdicts = []
    refused = []
    where = f" ({POLICY_RULE}={policy})"
    for device in sorted(devices, key=lambda d: d.address):
        node = device.host_node
        locality = _locality(node, pod_nodes, pod_sockets, socket_of)
        address = str(device.address)
        if node is not None and locality == LOCAL:
            verdicts.append(Verdict(address, node, locality, "placed", cell_of_node.get(node)))
            continue
        on = (
            f"on host node {node}"
            if locality in (SAME_SOCKET, OTHER_SOCKET)
            else "without a host NUMA node (-1)"
            if locality == NO_AFFINITY
            else "not present on this host"
        )
        nodes = ",".join(str(n) for n in sorted(pod_nodes)) or "none"
        fact = f"{address} is {on}"
        if locality in (SAME_SOCKET, OTHER_SOCKET):
            fact += f", not on the pod's host nodes {nodes}"
        cell = None
        if node is not None and locality in (SAME_SOCKET, OTHER_SOCKET):
            if locality == SAME_SOCKET:
                fact += f" (same socket {socket_of[node]})"
            if policy in ("preferred", "socket"):
                cell = _nearest_cell(node, cell_of_node, socket_of, same_socket_only=policy == "socket")
        if node is not None and cell is not None:
            binding.setdefault(node, cell)
            verdicts.append(
                Verdict(
                    address,
                    node,
                    locality,
                    "placed",
                    cell,
                    f"{fact}: placed on guest cell {cell}{where}",
                    policy == "preferred",
                )
            )
        elif policy in ("socket", "required"):
            refused.append(fact)
            verdicts.append(Verdict(address, node, locality, "refused", None, f"{fact}: refused{where}"))
        else:
            warning = policy == "preferred"
            verdicts.append(
                Verdict(
                    address,
                    node,
                    locality,
                    "left in place",
                    None,
                    f"{fact}: left in place{where}" if warning else "",
                    warning,
                )
            )
    if refused:
        raise PolicyRefused(
            tuple(verdicts),
            needed=f"every PCI device on the pod's host nodes{_OR_SOCKETS.get(policy, '')} ({policy})",
            available=f"{len(refused)} of {len(devices)} elsewhere",
            detail="; ".join(refused),
        )
    return PolicyDecision(policy, binding, tuple(verdicts))
