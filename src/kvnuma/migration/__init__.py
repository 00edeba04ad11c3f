"""The live-migration NUMA check: size class, the outcome table per Topology Manager policy, and
the target's layout against the VM's guest NUMA layout, which the engine (``kvnuma.placement``)
lays out on source and target. Pure: nodes and VMIs come in as values."""

from kvnuma.migration.guest import GuestLayout, guest_layout, pack_pod
from kvnuma.migration.layout import Finding, check_layout
from kvnuma.migration.nodes import NODE_OBJECT_LIMIT, CellLayout, NodeLayout
from kvnuma.migration.outcome import Policy, TableOutcome, table_outcome
from kvnuma.migration.size_class import SizeClass, Sizing, classify, pod_cpus, reference_cell, size_on
from kvnuma.migration.verdict import Verdict, check_migration

__all__ = [
    "NODE_OBJECT_LIMIT",
    "CellLayout",
    "Finding",
    "GuestLayout",
    "NodeLayout",
    "Policy",
    "SizeClass",
    "Sizing",
    "TableOutcome",
    "Verdict",
    "check_layout",
    "check_migration",
    "classify",
    "guest_layout",
    "pack_pod",
    "pod_cpus",
    "reference_cell",
    "size_on",
    "table_outcome",
]
