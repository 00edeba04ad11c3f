"""The sysfs value parsers: garbage is refused (CPU lists: tests/test_cpulist.py)."""

from __future__ import annotations

import pytest

from kvnuma.sysfsfile import parse_id
from kvnuma.topology.sysfs_values import parse_meminfo_total


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("3\n", 3, id="plain"),
        pytest.param("-1\n", None, id="unknown-is-none"),
        pytest.param("8191\x00\x00", 8191, id="nul-padded"),
        pytest.param("65535", 65535, id="amd-cluster"),
    ],
)
def test_topology_ids(text: str, expected: int | None) -> None:
    assert parse_id(text, source="f") == expected


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
