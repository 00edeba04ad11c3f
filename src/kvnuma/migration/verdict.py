"""Will a live migration keep this VM's NUMA layout? One verdict listing every reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kvnuma.migration.guest import GuestLayout, guest_layout
from kvnuma.migration.layout import Finding, check_layout
from kvnuma.migration.nodes import NodeLayout
from kvnuma.migration.outcome import Policy, TableOutcome, table_outcome
from kvnuma.migration.size_class import SizeClass, Sizing, size_on
from kvnuma.vmi import VmiSpec

__all__ = ["Verdict", "check_migration"]


@dataclass(frozen=True, slots=True)
class Verdict:
    vmi: str
    source: str
    target: str
    policy: Policy
    sizing: Sizing
    outcome: TableOutcome
    guest: GuestLayout
    """The VM's guest NUMA layout on the source (the engine's cells)."""
    findings: tuple[Finding, ...]

    @property
    def size_class(self) -> SizeClass:
        return self.sizing.size

    @property
    def works(self) -> bool:
        return self.outcome.works and all(f.ok is not False for f in self.findings)

    @property
    def reasons(self) -> tuple[str, ...]:
        """Every reason it will not work (empty when it will)."""
        found = [] if self.outcome.works else [f"policy {self.policy.value}: {self.outcome.why}"]
        return (*found, *(f"{f.check}: {f.text}" for f in self.findings if f.ok is False))

    @property
    def unchecked(self) -> tuple[str, ...]:
        return tuple(f"{f.check}: {f.text}" for f in self.findings if f.ok is None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "vmi": self.vmi,
            "source": self.source,
            "target": self.target,
            "policy": self.policy.value,
            "works": self.works,
            "sizeClass": self.size_class.value,
            "podCpus": self.guest.pod_cpus,
            "targetCellCpus": self.sizing.cell_cpus,
            "sizeReference": self.sizing.reference,
            "sizeClassDecided": self.sizing.undecided is None,
            "table": {"row": self.outcome.row, "works": self.outcome.works, "why": self.outcome.why},
            "guestCells": [
                {"cell": c.id, "vcpus": len(c.vcpus), "memoryBytes": c.memory_bytes} for c in self.guest.cells
            ],
            "guestCellsUnknown": self.guest.unknown,
            "pageSizeBytes": self.guest.page_size_bytes,
            "assumptions": list(self.guest.assumptions),
            "checks": [f.as_dict() for f in self.findings],
            "reasons": list(self.reasons),
            "unchecked": list(self.unchecked),
        }


def check_migration(vmi: VmiSpec, source: NodeLayout, target: NodeLayout, policy: Policy) -> Verdict:
    """Classify the VM on the target, apply the outcome table and check the target's layout
    against the guest layout the VM has on the source. When the size class is not decidable (a
    Node object target) and the table answers differently for the classes it may be, the table
    row is reported as not checked."""
    plan = guest_layout(vmi, source)
    sizing = size_on(plan.pod_cpus, target)
    dedicated, passthrough = vmi.dedicated_cpu_placement, plan.passthrough
    outcome = table_outcome(sizing.size, policy, dedicated=dedicated, passthrough=passthrough)
    findings = check_layout(vmi, plan, target)
    if sizing.undecided is not None:
        other = table_outcome(SizeClass.LARGE, policy, dedicated=dedicated, passthrough=passthrough)
        if other.works != outcome.works:
            text = f"{sizing.undecided}; the table says {_says(outcome)} for small, {_says(other)} for large"
            findings.insert(0, Finding("size-class", None, text))
    return Verdict(
        vmi=vmi.name or "VMI",
        source=source.name,
        target=target.name,
        policy=policy,
        sizing=sizing,
        outcome=outcome,
        guest=plan,
        findings=tuple(findings),
    )


def _says(outcome: TableOutcome) -> str:
    return f"{'works' if outcome.works else 'fails'} ({outcome.row})"
