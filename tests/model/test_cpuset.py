from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvnuma.errors import InputError
from kvnuma.model import CpuSet


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", set(), id="empty"),
        pytest.param("0", {0}, id="single"),
        pytest.param("0-3", {0, 1, 2, 3}, id="range"),
        pytest.param("0-1,8,10-11\n", {0, 1, 8, 10, 11}, id="mixed-newline"),
        pytest.param("2,0,1", {0, 1, 2}, id="unsorted"),
        pytest.param(" 1 , 3 - 4 ", {1, 3, 4}, id="blanks"),
        pytest.param("0-3\x00\x00\x00", {0, 1, 2, 3}, id="nul-padded"),
        pytest.param("1,,2", {1, 2}, id="empty-item"),
    ],
)
def test_parse_linux_lists(text: str, expected: set[int]) -> None:
    assert CpuSet.parse(text).ids == frozenset(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("0-5,^2", {0, 1, 3, 4, 5}, id="exclude-one"),
        pytest.param("^2,0-5", {0, 1, 3, 4, 5}, id="exclusion-wins-anywhere"),
        pytest.param("0-7,^2-5", {0, 1, 6, 7}, id="exclude-range"),
        pytest.param("^1", set(), id="only-exclusion"),
    ],
)
def test_parse_exclusions(text: str, expected: set[int]) -> None:
    assert CpuSet.parse(text, exclusions=True).ids == frozenset(expected)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a", id="letter"),
        pytest.param("3-1", id="reversed-range"),
        pytest.param("1-", id="dangling-dash"),
        pytest.param("-1", id="negative"),
        pytest.param("^1", id="exclusion-not-allowed"),
        pytest.param("0-99999999999", id="huge"),
        pytest.param("1.5", id="decimal"),
    ],
)
def test_malformed_lists_name_the_source(text: str) -> None:
    with pytest.raises(InputError) as caught:
        CpuSet.parse(text, source="node0/cpulist")
    assert caught.value.source == "node0/cpulist"
    assert "\n" not in caught.value.one_line()


@pytest.mark.parametrize(
    ("ids", "ranged", "plain"),
    [
        pytest.param([], "", "", id="empty"),
        pytest.param([0, 1, 2, 3, 8, 10, 11], "0-3,8,10-11", "0,1,2,3,8,10,11", id="runs"),
        pytest.param([5], "5", "5", id="single"),
    ],
)
def test_format(ids: list[int], ranged: str, plain: str) -> None:
    assert CpuSet.of(ids).format() == ranged
    assert CpuSet.of(ids).format(ranges=False) == plain


@given(st.frozensets(st.integers(min_value=0, max_value=5000), max_size=300))
def test_format_then_parse_round_trips(ids: frozenset[int]) -> None:
    cpus = CpuSet(ids)
    assert CpuSet.parse(cpus.format()) == cpus
    assert CpuSet.parse(cpus.format(ranges=False)) == cpus


@given(st.text(alphabet="0123456789,-^ x.", max_size=30))
def test_parse_either_succeeds_or_raises_input_error(text: str) -> None:
    try:
        parsed = CpuSet.parse(text, exclusions=True)
    except InputError as error:
        assert error.source == "cpu list"
    else:
        assert all(i >= 0 for i in parsed.ids)
        assert CpuSet.parse(parsed.format()) == parsed
