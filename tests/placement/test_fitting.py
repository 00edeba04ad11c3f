"""Core fitting tables: which host CPU each vCPU gets (KubeVirt's FitCores, §1.2-1.3)."""

from __future__ import annotations

import pytest

from kvnuma.model import CpuSet, HostTopology
from kvnuma.placement import plan_guest
from kvnuma.placement.errors import CoresAcrossCellsError
from placement.engine_inputs import host_from_groups, smt_host, vmi


def pins(host: HostTopology, cpuset: str, **spec: object) -> list[int]:
    plan = plan_guest(vmi(**spec), CpuSet.parse(cpuset), host, check_hugepages=False)  # type: ignore[arg-type]
    return [pin.host_cpu for pin in plan.vcpu_pins]


@pytest.mark.parametrize(
    ("host", "cpuset", "spec", "expected"),
    [
        pytest.param(
            smt_host(2, 4), "0-15", {"cores": 2, "threads": 2}, [0, 8, 1, 9], id="smt-pairs-siblings"
        ),
        pytest.param(
            smt_host(2, 4),
            "2-4,10-12",
            {"cores": 3, "threads": 2},
            [2, 10, 3, 11, 4, 12],
            id="drain-cell0-first",
        ),
        pytest.param(smt_host(2, 4, smt=False), "0-7", {"cores": 3}, [0, 1, 2], id="non-smt"),
        pytest.param(
            smt_host(2, 4, smt=False),
            "1,2,5,6",
            {"cores": 2, "threads": 2},
            [1, 2, 5, 6],
            id="non-smt-pairs-per-cell",
        ),
        pytest.param(
            smt_host(2, 4), "3,4,5,11,12,13", {"cores": 3}, [3, 11, 4], id="uneven-cpuset-one-thread"
        ),
        pytest.param(
            smt_host(2, 4),
            "0,1,9,4,12",
            {"cores": 2, "threads": 2},
            [1, 9, 4, 12],
            id="full-cores-before-fragments",
        ),
        pytest.param(
            smt_host(2, 4),
            "0,8,3,4,12",
            {"cores": 2, "threads": 2},
            [0, 8, 4, 12],
            id="fragment-left-for-emulator",
        ),
        pytest.param(
            host_from_groups([[[0, 1], [2, 3]]]),
            "1,2,3",
            {"cores": 1, "threads": 2},
            [2, 3],
            id="range-siblings-9.1",
        ),
        pytest.param(
            host_from_groups([[[6], [7]], [[0], [1]]]),
            "0,1,6",
            {"cores": 3},
            [6, 0, 1],
            id="host-order-not-cpuset",
        ),
    ],
)
def test_fitting_follows_host_order_and_siblings(
    host: HostTopology, cpuset: str, spec: dict[str, object], expected: list[int]
) -> None:
    assert pins(host, cpuset, **spec) == expected


def test_fragmented_threads_pair_within_one_cell() -> None:
    # every core is broken: cell 0 keeps {0, 1}, cell 1 keeps {6, 3} (listed by core order)
    assert pins(smt_host(2, 2), "0,1,6,3", cores=2, threads=2) == [0, 1, 6, 3]


def test_strict_pool_refuses_a_core_across_cells() -> None:
    with pytest.raises(CoresAcrossCellsError) as caught:
        pins(smt_host(2, 2), "0,6", cores=1, threads=2)
    assert caught.value.rule == "cores-within-host-cells"
    assert "0 placeable" in str(caught.value)


def test_relaxed_pool_without_passthrough_may_cross_cells() -> None:
    assert pins(smt_host(2, 2), "0,6", cores=1, threads=2, passthrough=False, page=None) == [0, 6]
