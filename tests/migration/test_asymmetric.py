"""An asymmetric target (cell 0: 16 CPUs, 8192 x 2Mi pages; cell 1: 8 CPUs, 4096 pages), given
once with every cell known (as capabilities or sysfs give it) and once as the Node object the
agent publishes for it (only the largest cell, VEP 135)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvnuma.migration import NODE_OBJECT_LIMIT, NodeLayout, Policy, SizeClass, Verdict, check_migration

from .nodes import layout, node_object, passthrough_vmi, topology

ASYMMETRIC = topology([16, 8], pages_2m=[8192, 4096])
CELLS = NodeLayout.from_topology("asym", ASYMMETRIC)
NODE = node_object(ASYMMETRIC, "asym")
T, F, N = True, False, None


def findings(verdict: Verdict) -> list[tuple[str, bool | None]]:
    return [(f.check, f.ok) for f in verdict.findings]


def test_the_node_object_is_the_largest_cell() -> None:
    assert (NODE.cells, NODE.max_cell_cpus) == (None, 16)
    assert NODE.max_cell_hugepages == {2 << 20: 16 << 30}
    assert CELLS.max_cell_cpus == 16


@pytest.mark.parametrize(
    ("vcpus", "memory", "source", "target", "expected"),
    [
        # one guest cell of 20 vCPUs: more than the largest cell, decided False from either form
        pytest.param(
            20, "8Gi", [24], CELLS,
            [("enough-cells", T), ("same-cell-count", F), ("cpus-per-cell", F), ("hugepages-per-cell", T)],
            id="cells-20-vcpus-over-largest",
        ),
        pytest.param(  # the pages: the pod spans cells the Node does not describe
            20, "8Gi", [24], NODE,
            [("enough-cells", T), ("same-cell-count", F), ("cpus-per-cell", F), ("hugepages-per-cell", N)],
            id="node-20-vcpus-over-largest-is-decided",
        ),
        # one guest cell of 12 vCPUs: fits the largest cell (not the smallest): one cell suffices
        pytest.param(
            12, "8Gi", [24], CELLS,
            [("enough-cells", T), ("same-cell-count", T), ("cpus-per-cell", T), ("hugepages-per-cell", T)],
            id="cells-12-vcpus-fit-the-largest",
        ),
        pytest.param(
            12, "8Gi", [24], NODE,
            [("enough-cells", T), ("same-cell-count", T), ("cpus-per-cell", T), ("hugepages-per-cell", T)],
            id="node-12-vcpus-fit-the-largest",
        ),
        # one guest cell with 20Gi of pages: more than the largest pool (16Gi)
        pytest.param(
            12, "20Gi", [24], NODE,
            [("enough-cells", T), ("same-cell-count", T), ("cpus-per-cell", T), ("hugepages-per-cell", F)],
            id="node-pages-over-largest-pool",
        ),
        # two guest cells of 12: cell 1 (8 CPUs, 8Gi) is too small; the Node cannot tell which cell
        pytest.param(
            24, "24Gi", [12, 12, 12], CELLS,
            [
                ("enough-cells", T), ("same-cell-count", T),
                ("cpus-per-cell", T), ("hugepages-per-cell", T),
                ("cpus-per-cell", F), ("hugepages-per-cell", F),
            ],
            id="cells-two-guest-cells-second-too-small",
        ),
        pytest.param(
            24, "24Gi", [12, 12, 12], NODE,
            [
                ("enough-cells", N), ("same-cell-count", N),
                ("cpus-per-cell", N), ("cpus-per-cell", N),
                ("hugepages-per-cell", N), ("hugepages-per-cell", N),
            ],
            id="node-two-guest-cells-within-largest-not-decidable",
        ),
        # two guest cells of 20 + 4: the first is over the largest cell, decided; the second is not
        pytest.param(
            24, "24Gi", [20, 20], NODE,
            [
                ("enough-cells", N), ("same-cell-count", N),
                ("cpus-per-cell", F), ("cpus-per-cell", N),
                ("hugepages-per-cell", N), ("hugepages-per-cell", N),
            ],
            id="node-first-guest-cell-over-largest",
        ),
    ],
)  # fmt: skip
def test_verdicts_on_an_asymmetric_target(
    vcpus: int, memory: str, source: list[int], target: NodeLayout, expected: list[tuple[str, bool | None]]
) -> None:
    verdict = check_migration(passthrough_vmi(vcpus, memory), layout(source), target, Policy.BEST_EFFORT)
    assert findings(verdict) == expected
    assert verdict.works == (F not in [ok for _, ok in expected])
    for finding in verdict.findings:
        assert (NODE_OBJECT_LIMIT in finding.text) == (finding.ok is None)


@pytest.mark.parametrize(
    ("vcpus", "target", "sizing", "works", "unchecked"),
    [
        # 6 CPUs: over half of cell 1 (8), which holds it: large; policy none fails
        pytest.param(6, CELLS, (SizeClass.LARGE, 8), False, [], id="cells-6-large-on-the-small-cell"),
        # the Node only says 16: small against it, large on an 8-CPU cell: not decidable
        pytest.param(6, NODE, (SizeClass.SMALL, 16), True, ["size-class"], id="node-6-not-decidable"),
        # 12 CPUs: only cell 0 holds it, 2 x 12 >= 16: large from either form
        pytest.param(12, CELLS, (SizeClass.LARGE, 16), False, [], id="cells-12-large"),
        pytest.param(12, NODE, (SizeClass.LARGE, 16), False, [], id="node-12-large-decided"),
        # 3 CPUs: under half of every cell
        pytest.param(3, CELLS, (SizeClass.SMALL, 8), True, [], id="cells-3-small"),
        # 20 CPUs: over the largest cell; the table works, the one guest cell cannot be kept
        pytest.param(20, NODE, (SizeClass.EXTRA_LARGE, 16), False, ["hugepages-per-cell"], id="node-20-xl"),
    ],
)
def test_size_class_on_an_asymmetric_target(
    vcpus: int, target: NodeLayout, sizing: tuple[SizeClass, int], works: bool, unchecked: list[str]
) -> None:
    verdict = check_migration(passthrough_vmi(vcpus, "4Gi"), layout([24]), target, Policy.NONE)
    assert (verdict.size_class, verdict.sizing.cell_cpus) == sizing
    assert verdict.works is works
    assert [text.split(":")[0] for text in verdict.unchecked] == unchecked


def by_guest_cell(verdict: Verdict) -> dict[tuple[str, int], bool | None]:
    """Findings keyed by check and occurrence (the n-th cpus-per-cell is guest cell n)."""
    seen: dict[str, int] = {}
    keyed = {}
    for finding in verdict.findings:
        index = seen.get(finding.check, 0)
        seen[finding.check] = index + 1
        keyed[(finding.check, index)] = finding.ok
    return keyed


@given(
    cells=st.lists(st.integers(1, 24), min_size=1, max_size=4),
    vcpus=st.integers(1, 40),
    isolate=st.booleans(),
    policy=st.sampled_from(list(Policy)),
)
def test_a_node_object_never_contradicts_the_full_topology(
    cells: Sequence[int], vcpus: int, isolate: bool, policy: Policy
) -> None:
    """What the Node object decides, the full topology decides the same way (pools sized with
    the cells, so the largest pool sits in the largest cell, as the pages check assumes)."""
    host = topology(cells, pages_2m=[512 * size for size in cells])
    full = NodeLayout.from_topology("t", host)
    vmi = passthrough_vmi(vcpus, f"{2 * vcpus}Gi", isolate=isolate)
    source = layout([24, 24, 24])
    exact = check_migration(vmi, source, full, policy)
    partial = check_migration(vmi, source, node_object(host, "t"), policy)
    if partial.sizing.undecided is None:
        assert partial.size_class is exact.size_class
    assert exact.size_class in (partial.size_class, SizeClass.LARGE)
    known = by_guest_cell(exact)
    for key, ok in by_guest_cell(partial).items():
        if ok is not None and key in known:
            assert known[key] is ok, (key, partial.findings, exact.findings)
    if partial.works is False:
        assert exact.works is False
