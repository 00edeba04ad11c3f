"""The sysfs value parsers: the fast CPU-list path agrees with CpuSet.parse, garbage is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvnuma.errors import InputError
from kvnuma.model import CpuSet
from kvnuma.topology.sysfs_values import parse_cpulist, parse_meminfo_total, parse_topology_id

_ids = st.frozensets(st.integers(min_value=0, max_value=5000), max_size=40)


@given(ids=_ids, ranges=st.booleans(), padding=st.sampled_from(["", "\n", "\n\x00\x00", " \n"]))
def test_fast_cpulist_round_trips(ids: frozenset[int], ranges: bool, padding: str) -> None:
    text = CpuSet(ids).format(ranges=ranges) + padding
    assert parse_cpulist(text, "f") == ids


@given(text=st.text(alphabet="0123456789-,^ x\n", max_size=20))
def test_fast_cpulist_agrees_with_the_careful_parser(text: str) -> None:
    try:
        expected: frozenset[int] | None = CpuSet.parse(text).ids
    except InputError:
        expected = None
    try:
        got: frozenset[int] | None = parse_cpulist(text, "f")
    except InputError:
        got = None
    assert got == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("3\n", 3, id="plain"),
        pytest.param("-1\n", 0, id="unknown-is-0"),
        pytest.param("8191\x00\x00", 8191, id="nul-padded"),
        pytest.param("65535", 65535, id="amd-cluster"),
    ],
)
def test_topology_ids(text: str, expected: int) -> None:
    assert parse_topology_id(text, "f") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("MemTotal:       16384 kB\nMemFree: 1 kB\n", 16384 * 1024, id="proc"),
        pytest.param("Node 3 MemTotal:  4 kB\n", 4096, id="node"),
        pytest.param("Node 0 MemFree: 1 kB\nNode 0 MemTotal: 0 kB\x00", 0, id="empty-node-padded"),
    ],
)
def test_meminfo_total(text: str, expected: int) -> None:
    assert parse_meminfo_total(text, "meminfo") == expected
