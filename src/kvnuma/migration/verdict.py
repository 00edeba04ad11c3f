"""Will a live migration keep this VM's NUMA layout? One verdict listing every reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kvnuma.migration.layout import Finding, check_layout
from kvnuma.migration.nodes import NodeLayout
from kvnuma.migration.outcome import Outcome, Policy, table_outcome
from kvnuma.migration.plan import GuestPlan, plan_guest
from kvnuma.migration.size_class import SizeClass, classify
from kvnuma.vmi import VmiSpec

__all__ = ["Verdict", "check_migration"]


@dataclass(frozen=True, slots=True)
class Verdict:
    vmi: str
    source: str
    target: str
    policy: Policy
    size_class: SizeClass
    cell_cpus: int
    outcome: Outcome
    plan: GuestPlan
    findings: tuple[Finding, ...]

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
            "podCpus": self.plan.pod_cpus,
            "targetCellCpus": self.cell_cpus,
            "table": {"row": self.outcome.row, "works": self.outcome.works, "why": self.outcome.why},
            "guestCells": [
                {"cell": c.index, "vcpus": c.vcpus, "memoryBytes": c.memory_bytes} for c in self.plan.cells
            ],
            "pageSizeBytes": self.plan.page_size_bytes,
            "assumptions": list(self.plan.assumptions),
            "checks": [f.as_dict() for f in self.findings],
            "reasons": list(self.reasons),
            "unchecked": list(self.unchecked),
        }


def check_migration(vmi: VmiSpec, source: NodeLayout, target: NodeLayout, policy: Policy) -> Verdict:
    """Classify the VM on the target, apply the outcome table and check the target's layout
    against the guest plan the VM has on the source."""
    plan = plan_guest(vmi, source)
    assert target.min_cell_cpus is not None
    size = classify(plan.pod_cpus, target.min_cell_cpus)
    outcome = table_outcome(size, policy, dedicated=vmi.dedicated_cpu_placement, passthrough=bool(plan.cells))
    return Verdict(
        vmi=vmi.name or "VMI",
        source=source.name,
        target=target.name,
        policy=policy,
        size_class=size,
        cell_cpus=target.min_cell_cpus,
        outcome=outcome,
        plan=plan,
        findings=tuple(check_layout(plan, target)),
    )
