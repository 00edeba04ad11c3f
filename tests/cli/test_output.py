"""Sizes and counts read the same way in every table."""

from __future__ import annotations

import pytest

from kvnuma.cli.output import count, dumps_json, human_bytes

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        pytest.param(0, "0 B", id="zero"),
        pytest.param(1023, "1023 B", id="bytes"),
        pytest.param(2 * MiB, "2 MiB", id="page"),
        pytest.param(1026 * MiB, "1026 MiB", id="exact-below-10000"),
        pytest.param(128 * GiB, "128 GiB", id="exact"),
        pytest.param(7038712 * KiB, "6.71 GiB", id="meminfo"),
        pytest.param(10000 * MiB, "9.77 GiB", id="exact-but-long"),
    ],
)
def test_human_bytes(amount: int, text: str) -> None:
    assert human_bytes(amount) == text


@pytest.mark.parametrize(
    ("number", "text"),
    [
        pytest.param(0, "0 cells", id="zero"),
        pytest.param(1, "1 cell", id="one"),
        pytest.param(2, "2 cells", id="two"),
    ],
)
def test_count(number: int, text: str) -> None:
    assert count(number, "cell") == text


def test_dumps_json_is_sorted_indented_and_ends_with_a_newline() -> None:
    assert dumps_json({"b": [1], "a": "é"}) == '{\n  "a": "é",\n  "b": [\n    1\n  ]\n}\n'
