"""Realtime mask parsing: KubeVirt's ParseCPUMask semantics, plus rejection of missing vCPUs."""

from __future__ import annotations

import pytest

from kvnuma.placement import parse_realtime_mask
from kvnuma.placement.errors import RealtimeMaskError


@pytest.mark.parametrize(
    ("mask", "vcpus", "expected"),
    [
        pytest.param("", 4, (0, 1, 2, 3), id="empty-is-all"),
        pytest.param("0-3,^1", 4, (0, 2, 3), id="range-minus-one"),
        pytest.param("^0,0", 2, (), id="negation-first-still-wins"),
        pytest.param("0,^0,1", 2, (1,), id="negation-in-the-middle"),
        pytest.param("0", 4, (0,), id="single"),
        pytest.param(" 2 , 3 ", 4, (2, 3), id="blanks-trimmed"),
        pytest.param("2-3", 4, (2, 3), id="range"),
        pytest.param("1-1", 2, (1,), id="one-id-range"),
        pytest.param("^1", 2, (), id="only-negations-is-none"),
        pytest.param("0,0,0-1", 2, (0, 1), id="duplicates"),
    ],
)
def test_masks(mask: str, vcpus: int, expected: tuple[int, ...]) -> None:
    assert parse_realtime_mask(mask, vcpus) == expected


@pytest.mark.parametrize(
    ("mask", "vcpus", "fragment"),
    [
        pytest.param("3-1", 4, "ends before it starts", id="reversed-range"),
        pytest.param("a", 4, "invalid mask value 'a'", id="letters"),
        pytest.param("0,,1", 4, "invalid mask value ''", id="empty-item"),
        pytest.param("^0-1", 4, "invalid mask value '^0-1'", id="negated-range"),
        pytest.param("-1", 4, "invalid mask value '-1'", id="negative"),
        pytest.param(" ", 4, "invalid mask value ' '", id="blank-only"),
        pytest.param("0-7", 4, "names vCPU(s) 4,5,6,7", id="range-past-the-end"),
        pytest.param("^9", 4, "names vCPU(s) 9", id="negation-past-the-end"),
        pytest.param("99999999", 4, "out of range", id="huge-id"),
    ],
)
def test_bad_masks_are_rejected_with_the_mask_named(mask: str, vcpus: int, fragment: str) -> None:
    with pytest.raises(RealtimeMaskError) as caught:
        parse_realtime_mask(mask, vcpus)
    assert caught.value.source == "spec.domain.cpu.realtime.mask"
    assert fragment in caught.value.problem
    assert repr(mask) in caught.value.problem
