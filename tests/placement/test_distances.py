"""Guest cell distances (KubeVirt PR #18829): host distances to the involved cells, renumbered
to guest ids, in the host's order with the host's values; nothing when none are left."""

from __future__ import annotations

import pytest

from kvnuma.model import CpuSet, HostTopology
from kvnuma.placement import plan_guest
from kvnuma.placement.engine import guest_distances
from placement.engine_inputs import HOST_4, MI, renumber_ids, vmi, with_distances


@pytest.mark.parametrize(
    ("host", "involved", "cell", "expected"),
    [
        pytest.param(HOST_4, [0, 1, 2, 3], 2, ((0, 22), (1, 22), (2, 10), (3, 16)), id="all-cells-as-host"),
        pytest.param(HOST_4, [1, 3], 1, ((0, 10), (1, 22)), id="cells-1-3-renumbered-to-0-1"),
        pytest.param(HOST_4, [1, 3], 3, ((0, 22), (1, 10)), id="second-guest-cell"),
        pytest.param(HOST_4, [2], 2, ((0, 10),), id="one-cell-local-only"),
        pytest.param(
            with_distances(HOST_4, {0: ((3, 22), (0, 10), (1, 16))}),
            [0, 1, 3],
            0,
            ((2, 22), (0, 10), (1, 16)),
            id="host-order-kept",
        ),
        pytest.param(with_distances(HOST_4, {}), [0, 1], 0, (), id="host-reports-none"),
        pytest.param(with_distances(HOST_4, {0: ((2, 22), (3, 22))}), [0, 1], 0, (), id="none-involved"),
        pytest.param(with_distances(HOST_4, {0: ((1, 16),)}), [0, 1], 0, ((1, 16),), id="partial-row"),
        pytest.param(
            renumber_ids(HOST_4, [0, 1, 16, 17]), [1, 17], 17, ((0, 22), (1, 10)), id="sparse-host-ids"
        ),
    ],
)
def test_guest_distances(
    host: HostTopology, involved: list[int], cell: int, expected: tuple[tuple[int, int], ...]
) -> None:
    assert guest_distances(host, involved, cell) == expected


def test_plan_carries_distances_for_the_cells_it_uses() -> None:
    # cpuset on host cells 1 and 3 only (CPUs 2-3 and 6-7): two guest cells
    plan = plan_guest(vmi(cores=4, memory="128Mi"), CpuSet.parse("2,3,6,7"), HOST_4, check_hugepages=False)
    assert [(c.host_cell, c.distances) for c in plan.cells] == [
        (1, ((0, 10), (1, 22))),
        (3, ((0, 22), (1, 10))),
    ]
    assert plan.to_dict()["cells"][0]["distances"] == [{"id": 0, "value": 10}, {"id": 1, "value": 22}]
    assert sum(c.memory_bytes for c in plan.cells) == 128 * MI


def test_no_distances_without_guest_numa() -> None:
    plan = plan_guest(
        vmi(cores=2, passthrough=False, page=None), CpuSet.parse("0-1"), HOST_4, check_hugepages=False
    )
    assert plan.cells == ()
