"""The live-migration NUMA check: size class, the outcome table per Topology Manager policy, and
the target's layout against the VM's guest NUMA plan. Pure: nodes and VMIs come in as values."""

from kvnuma.migration.layout import Finding, check_layout
from kvnuma.migration.nodes import NODE_OBJECT_LIMIT, CellLayout, NodeLayout
from kvnuma.migration.outcome import Outcome, Policy, table_outcome
from kvnuma.migration.plan import GuestCell, GuestPlan, pack, plan_guest
from kvnuma.migration.size_class import SizeClass, Sizing, classify, pod_cpus, reference_cell, size_on
from kvnuma.migration.verdict import Verdict, check_migration

__all__ = [
    "NODE_OBJECT_LIMIT",
    "CellLayout",
    "Finding",
    "GuestCell",
    "GuestPlan",
    "NodeLayout",
    "Outcome",
    "Policy",
    "SizeClass",
    "Sizing",
    "Verdict",
    "check_layout",
    "check_migration",
    "classify",
    "pack",
    "plan_guest",
    "pod_cpus",
    "reference_cell",
    "size_on",
    "table_outcome",
]
