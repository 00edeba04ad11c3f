"""``place_pci_devices``: the PCI NUMA placement step on a libvirt domain, for the engine and
the hook alike. Pure: every host fact comes in as an argument (see ``kvnuma.pci.sysfs`` for
reading them from a sysfs root).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from kvnuma.pci.apply import apply_plan
from kvnuma.pci.cpuless import add_cpuless_cells
from kvnuma.pci.domain_facts import CellBinding, bind_host_nodes, guest_cells, hostdevs, pci_controllers
from kvnuma.pci.plan import DeviceRequest, Skipped, plan_placement
from kvnuma.pci.policy import Verdict, apply_policy
from kvnuma.xmldoc import XmlDoc, parse_document, to_text

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET
    from collections.abc import Mapping

    from kvnuma.pci.plan import PciPlan
__all__ = ["CpulessCells", "PlacementResult", "place_in_doc", "place_pci_devices"]


@dataclass(frozen=True)
class CpulessCells:
    """Switches on CPU-less guest cells for devices on CPU-less host nodes (``kvnuma.pci.cpuless``):
    the host's distance matrix, and whether QEMU has ``acpi-generic-initiator`` (9.0+)."""

    distances: Mapping[int, Mapping[int, int]]
    generic_initiator: bool = False


@dataclass(frozen=True)
class PlacementResult:
    """The placed domain and what happened.

    ``plan`` is None when placement did not apply to this domain; ``note`` then says why
    (no guest NUMA cells, no PCI hostdevs, expanders already placed by someone else).
    """

    doc: XmlDoc
    plan: PciPlan | None
    note: str = ""
    verdicts: tuple[Verdict, ...] = ()
    """The PCI NUMA affinity policy's decision per device (``kvnuma.pci.policy``)."""
    cpuless: tuple[str, ...] = ()
    """One line per CPU-less guest cell added (or why one could not be)."""

    @property
    def xml(self) -> str:
        """The domain as text: the input's prolog, prefixes, comments and empty-element forms kept."""
        return to_text(self.doc)

    @property
    def skipped(self) -> tuple[Skipped, ...]:
        return self.plan.skipped if self.plan else ()

    def summary(self) -> list[str]:
        """One line per expander and per skipped device (or the note), for logs and stderr."""
        if self.plan is None:
            return [self.note]
        lines = list(self.cpuless)
        for expander in self.plan.expanders:
            devices = ", ".join(str(port.device) for port in expander.ports)
            group = f" host {expander.group}" if expander.group else ""
            lines.append(
                f"guest cell {expander.cell}: pcie-expander-bus index {expander.index} busNr "
                f"{expander.bus_nr}{group}: {devices}"
            )
        lines.extend(f"left in place: {skipped.reason}" for skipped in self.plan.skipped)
        lines.extend(f"{'warning: ' if v.warning else ''}{v.line}" for v in self.verdicts if v.line)
        return lines


def place_in_doc(
    doc: XmlDoc,
    host_nodes: Mapping[str, int],
    *,
    strict: bool = False,
    groups: Mapping[str, str] | None = None,
    host_cpu_nodes: Mapping[int, int] | None = None,
    policy: str = "legacy",
    node_sockets: Mapping[int, int] | None = None,
    problems: Mapping[str, str] | None = None,
    cpuless: CpulessCells | None = None,
) -> PlacementResult:
    """Place ``doc``'s PCI hostdevs in place (see ``place_pci_devices``)."""
    root = doc.root
    cells = guest_cells(root)
    if not cells:
        return PlacementResult(doc, None, "nothing to do: the domain has no guest NUMA cells")
    controllers = pci_controllers(root)
    foreign_expanders = [c for c in controllers if c.model == "pcie-expander-bus" and not c.owned]
    if any(c.element.find("target/node") is not None for c in foreign_expanders):
        return PlacementResult(
            doc, None, "nothing to do: the domain already has NUMA expander buses (PCINUMAAwareTopology?)"
        )
    devices = hostdevs(root)
    if not devices:
        return PlacementResult(doc, None, "nothing to do: the domain has no PCI hostdevs")
    owned_indexes = [c.index for c in controllers if c.owned]
    binding = bind_host_nodes(root, cells, host_cpu_nodes or {})
    requests = [
        DeviceRequest(
            address=device.source,
            host_node=host_nodes.get(str(device.source)),
            group=(groups or {}).get(str(device.source)),
            foreign_address=device.guest_bus is not None and device.guest_bus not in owned_indexes,
        )
        for device in devices
    ]
    added: tuple[str, ...] = ()
    if cpuless is not None:  # before the policy: a device on its own CPU-less cell is local to it
        outcome = add_cpuless_cells(
            root,
            requests,
            devices,
            binding.cell_of_node,
            nodes_with_cpus=frozenset((host_cpu_nodes or {}).values()),
            distances=cpuless.distances,
            generic_initiator=cpuless.generic_initiator,
        )
        binding = CellBinding({**binding.cell_of_node, **outcome.cell_of_node}, binding.unbound)
        added = outcome.lines
    pod_nodes = frozenset(binding.cell_of_node) | frozenset(binding.unbound)
    decision = apply_policy(policy, requests, binding.cell_of_node, pod_nodes, node_sockets or {})
    problems = problems or {}
    plan = plan_placement(
        [r for r in requests if str(r.address) not in problems],
        decision.cell_of_node,
        foreign_indexes=frozenset(c.index for c in controllers if not c.owned),
        previous_indexes=owned_indexes,
        unbound_nodes=binding.unbound,
        strict=strict,
    )
    unread = tuple(
        Skipped(r.address, "pci-host-facts", problems[str(r.address)])
        for r in requests
        if str(r.address) in problems
    )
    if unread:
        plan = replace(plan, skipped=tuple(sorted(plan.skipped + unread, key=lambda s: s.device)))
    apply_plan(root, plan, controllers, devices)
    return PlacementResult(doc, plan, verdicts=_settled(decision.verdicts, plan), cpuless=added)


def _settled(verdicts: tuple[Verdict, ...], plan: PciPlan) -> tuple[Verdict, ...]:
    """The verdicts with the outcome placement reached: a device the policy accepts may still
    be left in place (an ambiguous cell, a guest address kvnuma did not set)."""
    cell_of = {str(port.device): e.cell for e in plan.expanders for port in e.ports}
    return tuple(
        replace(v, outcome="left in place", cell=None)
        if v.outcome == "placed" and v.device not in cell_of
        else replace(v, cell=cell_of[v.device])
        if v.outcome == "placed"
        else v
        for v in verdicts
    )


def place_pci_devices(
    domain: ET.Element | str,
    host_nodes: Mapping[str, int],
    *,
    strict: bool = False,
    groups: Mapping[str, str] | None = None,
    host_cpu_nodes: Mapping[int, int] | None = None,
    policy: str = "legacy",
    node_sockets: Mapping[int, int] | None = None,
    problems: Mapping[str, str] | None = None,
    cpuless: CpulessCells | None = None,
) -> PlacementResult:
    """Put each PCI hostdev of ``domain`` behind a ``pcie-expander-bus`` on the guest cell bound
    to its host NUMA node.

    ``host_nodes``: host address (``0000:3b:00.0``) -> its ``numa_node`` (-1 = no affinity; an
    address missing here is not on the host). ``groups``: host address -> its host root complex
    (devices of one group share an expander). ``host_cpu_nodes``: host CPU -> host node, used
    for guest cells that ``<numatune>`` does not bind. ``strict``: a device that cannot be placed
    is a RuleError instead of being left in place. ``policy``: the PCI NUMA affinity policy
    (``kvnuma.pci.policy``; ``required``/``socket`` refuse with a RuleError), with
    ``node_sockets`` (host node -> socket). ``problems``: device -> why its host facts could not be
    read (left in place with that reason). ``cpuless``: give devices on CPU-less host nodes a
    CPU-less guest cell (``kvnuma.pci.cpuless``; None: they stay in place). Mediated devices
    (``<hostdev type='mdev' model='vfio-pci'>``) are keyed by uuid and placed by their parent's
    facts. The input (text or an ElementTree element) is not modified.
    """
    if isinstance(domain, str):
        doc = parse_document(domain, source="domain XML", root="domain")
    else:
        doc = XmlDoc(copy.deepcopy(domain))
    return place_in_doc(
        doc,
        host_nodes,
        strict=strict,
        groups=groups,
        host_cpu_nodes=host_cpu_nodes,
        policy=policy,
        node_sockets=node_sockets,
        problems=problems,
        cpuless=cpuless,
    )
