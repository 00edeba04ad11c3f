"""The live-migration outcome table per Topology Manager policy and VM size class.

The OpenShift table (tested outcomes):

    any          single-numa-node   fails when the pod asks more CPUs than one NUMA node has
    any          none               fails: incorrect memnode allocation, libvirt rejects the XML
    small        all four           works
    large        single-numa-node, best-effort, restricted   works
    extra large  none, best-effort  works
    extra large  restricted         does not work (expected)

It contradicts itself for ``none``: "any + none fails" against "small + none works" and
"extra large + none works". The rule kvnuma applies, and why:

KubeVirt's migration keeps the guest's ``<cpu><numa>`` cells and hugepage nodesets from the
source and only rewrites vcpupin and ``<numatune>`` memnodes from the target's pod cpuset
(``CPUDedicatedHook``). libvirt rejects the XML when the target pod's CPUs span a different
number of host cells than the guest has cells. Without a Topology Manager (``none``) nothing
aligns the pod's CPUs to cells, so the span is whatever the CPU manager picks:

* small: fewer CPUs than half a cell; the CPU manager packs them into one cell, the guest has
  one cell: works (the specific row);
* extra large: spans more than one cell on both sides; works when the target gives the same
  number of cells (the specific row), which the layout check verifies;
* large: more than half a cell, one guest cell; on a busy target no single cell has that many
  free CPUs, so the pod is split over two cells and the guest's one cell cannot be mapped:
  the general "any + none fails" row applies. kvnuma answers *will not work*.

So specific rows win over the "any" rows, and "any" covers the classes no specific row names.
The memnode failure needs guest NUMA cells: a VM without guestMappingPassthrough has none to
keep, and Topology Manager only aligns pods with exclusive CPUs (dedicatedCpuPlacement), so the
admission failures apply to dedicated VMs only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kvnuma.migration.size_class import SizeClass

__all__ = ["Policy", "TableOutcome", "table_outcome"]


class Policy(StrEnum):
    NONE = "none"
    BEST_EFFORT = "best-effort"
    RESTRICTED = "restricted"
    SINGLE_NUMA_NODE = "single-numa-node"


@dataclass(frozen=True, slots=True)
class TableOutcome:
    works: bool
    row: str
    """The table row applied, as the table words it."""
    why: str


def table_outcome(size: SizeClass, policy: Policy, *, dedicated: bool, passthrough: bool) -> TableOutcome:
    if not dedicated:
        return TableOutcome(
            True, "not in the table", "no exclusive CPUs: the Topology Manager does not align the pod"
        )
    if size is SizeClass.EXTRA_LARGE and policy is Policy.SINGLE_NUMA_NODE:
        return TableOutcome(
            False,
            "any / single-numa-node",
            "the pod asks more CPUs than one NUMA node has: the target kubelet rejects it "
            "(TopologyAffinityError)",
        )
    if size is SizeClass.EXTRA_LARGE and policy is Policy.RESTRICTED:
        return TableOutcome(
            False,
            "extra large / restricted",
            "no single-node alignment exists for the pod: the target kubelet rejects it",
        )
    if policy is Policy.NONE:
        if not passthrough:
            return TableOutcome(True, "not in the table", "no guest NUMA cells to keep across the migration")
        if size is SizeClass.LARGE:
            return TableOutcome(
                False,
                "any / none",
                "without Topology Manager alignment the target pod may span more host cells than the "
                "guest's one cell; KubeVirt keeps the guest cells and libvirt rejects the memnodes",
            )
        row = "small / none" if size is SizeClass.SMALL else "extra large / none"
        return TableOutcome(True, row, "the target pod spans as many host cells as the guest has cells")
    labels = {SizeClass.SMALL: "small", SizeClass.LARGE: "large", SizeClass.EXTRA_LARGE: "extra large"}
    return TableOutcome(
        True, f"{labels[size]} / {policy.value}", "the Topology Manager aligns the target pod"
    )
