"""The engine's PCI NUMA step (GPU device NUMA): after the guest NUMA plan is rendered, put each
PCI hostdev of the domain behind a ``pcie-expander-bus`` on the guest cell of its host node.

Gated by the KubeVirt feature gate ``GPUDeviceNUMA``; a domain without guest NUMA cells or
without PCI hostdevs is returned unchanged (the proposal's non-goal), and then the host is not
even asked for PCI facts. Host facts come in through ``read_facts`` (the CLI reads a sysfs
root), so this module does no IO itself.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from kvnuma.pci import PlacementResult, place_in_doc
from kvnuma.pci.domain_facts import guest_cells, hostdevs
from kvnuma.pci.host_facts import HostPciFacts
from kvnuma.pci.place import CpulessCells
from kvnuma.xmldoc import parse_document

__all__ = ["GPU_DEVICE_NUMA_GATE", "PciStep", "gate_enabled", "place_domain_devices"]

GPU_DEVICE_NUMA_GATE = "GPUDeviceNUMA"

FactsReader = Callable[[Sequence[str]], HostPciFacts]


def gate_enabled(feature_gates: Collection[str]) -> bool:
    return GPU_DEVICE_NUMA_GATE in feature_gates


@dataclass(frozen=True)
class PciStep:
    """The domain after the step, and what the step did (``result`` None: the gate is off)."""

    xml: str
    result: PlacementResult | None
    policy: str = "legacy"
    """The PCI NUMA affinity policy the step ran with (``kvnuma.pci.policy``)."""

    @property
    def verdicts(self) -> list[str]:
        """One line per device: where it is relative to the pod's host nodes and what the PCI
        NUMA affinity policy made of it."""
        if self.result is None:
            return []
        return [
            f"{v.device}: {v.locality}"
            + (f" (host node {v.host_node})" if v.host_node is not None and v.host_node >= 0 else "")
            + f": {v.outcome}"
            + (f" on guest cell {v.cell}" if v.cell is not None else "")
            for v in self.result.verdicts
        ]

    @property
    def left_in_place(self) -> list[str]:
        """One line per device left where it was, with the reason."""
        return [skipped.reason for skipped in self.result.skipped] if self.result else []

    def as_dict(self) -> dict[str, Any]:
        result = self.result
        if result is None:
            return {"enabled": False, "applied": False, "note": "feature gate GPUDeviceNUMA is off"}
        return {
            "enabled": True,
            "applied": result.plan is not None,
            "note": result.note,
            "summary": result.summary() if result.plan is not None else [],
            "leftInPlace": [
                {"device": str(s.device), "rule": s.rule, "reason": s.reason} for s in result.skipped
            ],
            "policy": self.policy,
            "devices": [verdict.as_dict() for verdict in result.verdicts],
        }


def place_domain_devices(
    xml: str,
    read_facts: FactsReader,
    *,
    strict: bool = False,
    source: str = "rendered domain",
    policy: str = "legacy",
    cpuless: bool = False,
    generic_initiator: bool = False,
) -> PciStep:
    """``xml`` with its PCI hostdevs placed on their guest cells (RuleError in strict mode when a
    device cannot be placed, or when ``policy`` refuses one). ``cpuless``: devices on CPU-less host
    nodes get CPU-less guest cells (``kvnuma.pci.cpuless``; ``generic_initiator``: the target's
    QEMU has ``acpi-generic-initiator``). The XML declaration and everything
    kvnuma does not own are kept."""
    doc = parse_document(xml, source=source, root="domain")  # the reader and writer the hook uses
    devices = hostdevs(doc.root)
    needs_facts = bool(guest_cells(doc.root)) and bool(devices)
    facts = read_facts(sorted({str(d.source) for d in devices})) if needs_facts else HostPciFacts()
    result = place_in_doc(
        doc,
        facts.numa_node,
        strict=strict,
        groups=facts.root_complex,
        host_cpu_nodes=facts.cpu_nodes,
        policy=policy,
        node_sockets=facts.node_sockets,
        problems=facts.problems,
        cpuless=CpulessCells(facts.node_distances, generic_initiator) if cpuless else None,
    )
    if result.plan is None:
        return PciStep(xml, result, policy)
    return PciStep(_with_declaration(xml, result.xml), result, policy)


def _with_declaration(original: str, placed: str) -> str:
    """``placed`` with ``original``'s XML declaration if the writer left it out."""
    head = original.lstrip()
    if not head.startswith("<?xml") or placed.lstrip().startswith("<?xml"):
        return placed
    return head[: head.index("?>") + 2] + "\n" + placed
