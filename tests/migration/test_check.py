from __future__ import annotations

import pytest

from kvnuma.errors import RuleError
from kvnuma.migration import NodeLayout, Policy, check_migration, guest_layout
from kvnuma.model import CpuSet
from kvnuma.placement import plan_guest

from .nodes import GiB, MiB, layout, passthrough_vmi, topology


def test_guest_layout_packs_into_fewest_cells_and_splits_memory() -> None:
    plan = guest_layout(passthrough_vmi(24, "24Gi"), layout([16, 16]))
    assert [(len(c.vcpus), c.memory_bytes) for c in plan.cells] == [(16, 12 * GiB), (8, 12 * GiB)]


def test_memory_split_is_the_engines_kubevirt_formula() -> None:
    plan = guest_layout(passthrough_vmi(24, "64Mi"), layout([8, 8, 8]))
    assert [c.memory_bytes for c in plan.cells] == [22 * MiB, 22 * MiB, 20 * MiB]
    with pytest.raises(RuleError):
        guest_layout(passthrough_vmi(24, "3Mi"), layout([8, 8, 8]))


def test_same_layout_works() -> None:
    verdict = check_migration(
        passthrough_vmi(24, "24Gi"), layout([16, 16]), layout([16, 16]), Policy.BEST_EFFORT
    )
    assert verdict.works, verdict.reasons
    assert verdict.reasons == ()


def test_layout_mismatch_is_caught() -> None:
    """The guest keeps 2 cells (16 + 8 vCPUs); a target with one 32-CPU cell packs the pod into one."""
    verdict = check_migration(passthrough_vmi(24, "24Gi"), layout([16, 16]), layout([32]), Policy.BEST_EFFORT)
    assert not verdict.works
    failed = {f.check for f in verdict.findings if f.ok is False}
    assert failed == {"enough-cells", "same-cell-count"}
    assert verdict.outcome.works  # the table alone would have said yes


def test_every_reason_is_listed() -> None:
    vmi = passthrough_vmi(24, "24Gi")
    verdict = check_migration(vmi, layout([16, 16]), layout([12, 12, 12], pages_2m=1024), Policy.RESTRICTED)
    assert not verdict.works
    assert verdict.reasons[0].startswith("policy restricted")
    failed = [f.check for f in verdict.findings if f.ok is False]
    assert failed == ["cpus-per-cell", "hugepages-per-cell", "hugepages-per-cell"]
    assert len(verdict.reasons) == 1 + len(failed)


def test_free_pages_are_what_counts() -> None:
    vmi = passthrough_vmi(4, "8Gi")
    target = layout([16, 16], pages_2m=8192, free=100)
    verdict = check_migration(vmi, layout([16, 16]), target, Policy.SINGLE_NUMA_NODE)
    (pages,) = [f for f in verdict.findings if f.check == "hugepages-per-cell"]
    assert (pages.ok, pages.needed, pages.available) == (False, 4096, 100)


def node(cpus: int, hugepages_2m: str | None = "16Gi") -> NodeLayout:
    annotations = {
        "kubevirt.io/max-single-numa-cpus": str(cpus),
        "kubevirt.io/max-single-numa-memory": "64Gi",
    }
    if hugepages_2m is not None:
        annotations["kubevirt.io/max-single-numa-hugepages-2Mi"] = hugepages_2m
    obj = {"kind": "Node", "metadata": {"name": "n", "annotations": annotations}}
    return NodeLayout.from_node_object(obj, source="n.yaml")


def test_node_object_decides_what_it_can_and_says_what_it_cannot() -> None:
    large = check_migration(passthrough_vmi(9, "8Gi"), node(16), node(16), Policy.NONE)
    assert not large.works  # 2 x 9 >= 16: large on any cell that holds it, decided
    assert large.unchecked == ()
    small = check_migration(passthrough_vmi(4, "8Gi"), node(16), node(16), Policy.NONE)
    assert small.works
    assert [text.split(":")[0] for text in small.unchecked] == ["size-class"]  # a cell of 4-8 CPUs?
    xl = check_migration(passthrough_vmi(24, "24Gi"), layout([16, 16]), node(16, None), Policy.BEST_EFFORT)
    assert xl.works  # nothing failed, but the per-cell facts are unknown
    assert {text.split(":")[0] for text in xl.unchecked} == {
        "enough-cells",
        "same-cell-count",
        "cpus-per-cell",
        "hugepages-per-cell",
    }


def test_node_object_source_with_a_pod_over_its_largest_cell_has_unknown_guest_cells() -> None:
    verdict = check_migration(passthrough_vmi(24, "24Gi"), node(16), layout([32]), Policy.BEST_EFFORT)
    assert verdict.guest.cells == ()
    assert "largest cell (16 CPUs)" in (verdict.guest.unknown or "")
    # 24 vCPUs in cells of at most 16 are at least 2 guest cells; one 32-CPU cell packs them into 1
    assert [(f.check, f.ok) for f in verdict.findings] == [("guest-cells", None), ("same-cell-count", False)]
    assert not verdict.works


def test_non_passthrough_vm_has_no_cells_to_keep() -> None:
    vmi = passthrough_vmi(12, numa=False)
    verdict = check_migration(vmi, layout([16, 16]), layout([16, 16]), Policy.NONE)
    assert verdict.works
    assert verdict.guest.cells == ()


def test_the_guest_cells_are_the_engines() -> None:
    """One planner: the migration check's guest cells are what the engine plans on the packed pod."""
    vmi = passthrough_vmi(24, "24Gi")
    engine = plan_guest(vmi, CpuSet.parse("0-23"), topology([16, 16]), check_hugepages=False)
    assert guest_layout(vmi, layout([16, 16])).cells == engine.cells
    assert [cell.host_cell for cell in engine.cells] == [0, 1]
