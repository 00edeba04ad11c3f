from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvnuma.migration import SizeClass, classify, pod_cpus, reference_cell

from .nodes import passthrough_vmi


@pytest.mark.parametrize(
    ("cpus", "cell", "expected"),
    [
        pytest.param(7, 16, SizeClass.SMALL, id="below-half"),
        pytest.param(8, 16, SizeClass.LARGE, id="exactly-half-is-large"),
        pytest.param(9, 16, SizeClass.LARGE, id="above-half"),
        pytest.param(16, 16, SizeClass.LARGE, id="exactly-one-node-is-large"),
        pytest.param(17, 16, SizeClass.EXTRA_LARGE, id="above-one-node"),
        pytest.param(3, 7, SizeClass.SMALL, id="odd-cell-below-half"),
        pytest.param(4, 7, SizeClass.LARGE, id="odd-cell-above-half"),
        pytest.param(1, 1, SizeClass.LARGE, id="one-cpu-cell"),
    ],
)
def test_size_class_borders(cpus: int, cell: int, expected: SizeClass) -> None:
    assert classify(cpus, cell) is expected


@given(cell=st.integers(1, 512), cpus=st.integers(1, 2048))
def test_classes_are_ordered_by_size(cell: int, cpus: int) -> None:
    order = [SizeClass.SMALL, SizeClass.LARGE, SizeClass.EXTRA_LARGE]
    assert order.index(classify(cpus, cell)) <= order.index(classify(cpus + 1, cell))


@pytest.mark.parametrize(
    ("vcpus", "isolate", "dedicated", "expected"),
    [
        pytest.param(8, False, True, 8, id="vcpus"),
        pytest.param(8, True, True, 9, id="plus-emulator"),
        pytest.param(8, True, False, 8, id="not-dedicated"),
    ],
)
def test_pod_cpus(vcpus: int, isolate: bool, dedicated: bool, expected: int) -> None:
    assert pod_cpus(passthrough_vmi(vcpus, isolate=isolate, dedicated=dedicated)) == expected


@pytest.mark.parametrize(
    ("cpus", "cells", "expected"),
    [
        pytest.param(6, (16, 8), 8, id="fits-both-smallest-holding"),
        pytest.param(12, (16, 8), 16, id="fits-only-the-largest"),
        pytest.param(20, (16, 8), 16, id="fits-none-largest"),
        pytest.param(6, (4, 16, 8), 8, id="a-cell-too-small-is-not-a-reference"),
        pytest.param(8, (8, 8), 8, id="symmetric"),
    ],
)
def test_reference_cell(cpus: int, cells: tuple[int, ...], expected: int) -> None:
    assert reference_cell(cpus, cells) == expected


@given(cells=st.lists(st.integers(1, 64), min_size=1, max_size=8), cpus=st.integers(1, 256))
def test_extra_large_exactly_when_no_cell_holds_the_pod(cells: list[int], cpus: int) -> None:
    size = classify(cpus, reference_cell(cpus, tuple(cells)))
    assert (size is SizeClass.EXTRA_LARGE) == (cpus > max(cells))
