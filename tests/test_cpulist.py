"""The one CPU-list parser: forms, the one limit, bounded cost, and every reader using it."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvnuma.cpulist import MAX_CPU_ID, MAX_TEXT, format_cpulist, parse_cpulist
from kvnuma.errors import InputError


@given(
    ids=st.frozensets(st.integers(min_value=0, max_value=MAX_CPU_ID), max_size=60),
    ranges=st.booleans(),
    padding=st.sampled_from(["", "\n", "\n\x00\x00", " \n"]),
)
def test_format_then_parse_round_trips(ids: frozenset[int], ranges: bool, padding: str) -> None:
    assert parse_cpulist(format_cpulist(ids, ranges=ranges) + padding, source="f") == ids


@given(st.text(alphabet="0123456789-,^ x\n\x00", max_size=30), st.booleans())
def test_any_text_is_a_set_within_the_limit_or_one_line_error(text: str, exclusions: bool) -> None:
    try:
        ids = parse_cpulist(text, source="f", exclusions=exclusions)
    except InputError as error:
        assert error.source == "f"
        assert "\n" not in error.one_line()
    else:
        assert all(0 <= i <= MAX_CPU_ID for i in ids)


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"0-{MAX_CPU_ID + 1}", id="range-past-the-limit"),
        pytest.param("0-5000000", id="domain-cpus-5M"),
        pytest.param("0-999999", id="sysfs-cpulist-1M"),
        pytest.param("0-4000000", id="capabilities-siblings-4M"),
        pytest.param("9" * 5000, id="long-number"),
        pytest.param("0," * (MAX_TEXT // 2 + 1), id="text-past-the-limit"),
    ],
)
def test_past_the_limit_is_an_error_in_bounded_time_and_memory(text: str) -> None:
    tracemalloc.start()
    with pytest.raises(InputError) as caught:
        parse_cpulist(text, source="domain XML: <vcpupin> cpuset")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert caught.value.source == "domain XML: <vcpupin> cpuset"
    assert "limit" in caught.value.problem
    assert peak < 8 << 20, peak


def test_the_limit_itself_is_accepted() -> None:
    assert parse_cpulist(f"0-{MAX_CPU_ID}", source="f") == frozenset(range(MAX_CPU_ID + 1))


@pytest.mark.parametrize(
    ("text", "exclusions", "expected"),
    [
        pytest.param("0-5,^2", True, {0, 1, 3, 4, 5}, id="exclude-one"),
        pytest.param("^2,0-5", True, {0, 1, 3, 4, 5}, id="exclusion-wins-anywhere"),
        pytest.param("0-7,^2-5", True, {0, 1, 6, 7}, id="exclude-range"),
        pytest.param(" 1 , 3 - 4 ", False, {1, 3, 4}, id="blanks"),
        pytest.param("1,,2", False, {1, 2}, id="empty-item"),
        pytest.param("\x00\x00", False, set(), id="only-padding"),
    ],
)
def test_forms(text: str, exclusions: bool, expected: set[int]) -> None:
    assert parse_cpulist(text, source="f", exclusions=exclusions) == frozenset(expected)


def test_every_reader_uses_the_one_parser() -> None:
    """The realtime mask, CpuSet, PCI domain facts and sysfs readers all hit the same limit."""
    from kvnuma.model import CpuSet
    from kvnuma.placement import parse_realtime_mask
    from kvnuma.placement.errors import RealtimeMaskError

    too_big = f"0-{MAX_CPU_ID + 1}"
    with pytest.raises(InputError, match="limit"):
        CpuSet.parse(too_big, source="--cpuset")
    with pytest.raises(RealtimeMaskError, match="limit"):
        parse_realtime_mask(too_big, 4)
