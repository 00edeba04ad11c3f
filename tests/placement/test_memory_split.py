"""Memory split tables (KubeVirt's numaMapping formula, and the proportional mode)."""

from __future__ import annotations

import pytest

from kvnuma.placement import split_memory
from kvnuma.placement.errors import MemorySplitError

MI = 1 << 20
GI = 1 << 30


@pytest.mark.parametrize(
    ("memory", "page", "vcpus", "mode", "expected_mi"),
    [
        pytest.param(64 * MI, 2 * MI, [1, 1, 1], "kubevirt", [22, 22, 20], id="kubevirt-64Mi-3-cells"),
        pytest.param(1026 * MI, 2 * MI, [4, 2], "kubevirt", [514, 512], id="kubevirt-derived-1026Mi"),
        pytest.param(128 * MI, 2 * MI, [2, 2], "kubevirt", [64, 64], id="kubevirt-even"),
        pytest.param(4 * MI, 2 * MI, [1, 1], "kubevirt", [2, 2], id="kubevirt-one-page-each"),
        pytest.param(3 * GI, GI, [7, 1], "kubevirt", [2048, 1024], id="kubevirt-ignores-vcpus"),
        pytest.param(1026 * MI, 2 * MI, [4, 2], "proportional", [684, 342], id="proportional-4-2"),
        pytest.param(64 * MI, 2 * MI, [1, 1, 1], "proportional", [22, 22, 20], id="proportional-equal-vcpus"),
        pytest.param(8 * MI, 2 * MI, [100, 1], "proportional", [6, 2], id="proportional-keeps-one-page"),
        pytest.param(3 * GI, GI, [7, 1], "proportional", [2048, 1024], id="proportional-1Gi-pages"),
    ],
)
def test_split(memory: int, page: int, vcpus: list[int], mode: str, expected_mi: list[int]) -> None:
    sizes = split_memory(memory, page, vcpus, mode)  # type: ignore[arg-type]
    assert [size // MI for size in sizes] == expected_mi
    assert sum(sizes) == memory
    assert all(size % page == 0 and size >= page for size in sizes)


@pytest.mark.parametrize(
    ("memory", "page", "cells", "rule"),
    [
        pytest.param(65 * MI, 2 * MI, 1, "memory-multiple-of-page-size", id="not-a-multiple"),
        pytest.param(GI + 2 * MI, GI, 1, "memory-multiple-of-page-size", id="not-a-multiple-1Gi"),
        pytest.param(2 * MI, 2 * MI, 2, "memory-one-page-per-cell", id="less-than-a-page-per-cell"),
        pytest.param(GI, GI, 3, "memory-one-page-per-cell", id="1Gi-over-3-cells"),
    ],
)
@pytest.mark.parametrize("mode", ["kubevirt", "proportional"])
def test_split_refusals_name_rule_and_numbers(
    memory: int, page: int, cells: int, rule: str, mode: str
) -> None:
    with pytest.raises(MemorySplitError) as caught:
        split_memory(memory, page, [1] * cells, mode)  # type: ignore[arg-type]
    assert caught.value.rule == rule
    assert caught.value.needed
    assert caught.value.available
