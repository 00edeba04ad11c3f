from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvnuma.errors import InputError
from kvnuma.model import format_bytes, parse_bytes, parse_quantity


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("128Gi", 128 * 2**30, id="Gi"),
        pytest.param("1536Mi", 1536 * 2**20, id="Mi"),
        pytest.param("1.5Gi", 3 * 2**29, id="fractional-binary"),
        pytest.param("1G", 10**9, id="decimal-G"),
        pytest.param("500m", Fraction(1, 2), id="milli"),
        pytest.param("1e3", 1000, id="exponent"),
        pytest.param("2E2", 200, id="upper-exponent"),
        pytest.param("64", 64, id="plain"),
        pytest.param(".5k", 500, id="leading-dot"),
    ],
)
def test_parse_quantity(text: str, expected: Fraction | int) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("Gi", id="no-number"),
        pytest.param("12XB", id="unknown-suffix"),
        pytest.param("1" * 100, id="too-long"),
        pytest.param("1e999999", id="absurd-exponent"),
        pytest.param("1 Gi", id="inner-space"),
    ],
)
def test_malformed_quantities(text: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_quantity(text, source="spec.domain.memory.guest")
    assert caught.value.source == "spec.domain.memory.guest"


def test_bytes_must_be_whole_and_positive() -> None:
    with pytest.raises(InputError, match="whole number"):
        parse_bytes("0.5")
    with pytest.raises(InputError, match="negative"):
        parse_bytes("-1Gi")


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        pytest.param(0, "0", id="zero"),
        pytest.param(128 * 2**30, "128Gi", id="Gi"),
        pytest.param(1536 * 2**20, "1536Mi", id="Mi"),
        pytest.param(4679456 * 1024, "4679456Ki", id="Ki"),
        pytest.param(1000, "1000", id="not-binary"),
    ],
)
def test_format_bytes(amount: int, text: str) -> None:
    assert format_bytes(amount) == text


@given(st.integers(min_value=0, max_value=2**62))
def test_format_bytes_round_trips(amount: int) -> None:
    assert parse_bytes(format_bytes(amount)) == amount


@given(
    st.integers(min_value=0, max_value=10**12),
    st.sampled_from(["", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]),
)
def test_whole_number_fast_path_agrees_with_exact_parse(number: int, suffix: str) -> None:
    text = f"{number}{suffix}"
    assert parse_bytes(text) == parse_quantity(text)
    assert parse_bytes(f" {text} ") == parse_quantity(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("١٢Gi", id="non-ascii-digits"),
        pytest.param("12 Gi", id="inner-space"),
        pytest.param("Gi", id="no-digits"),
        pytest.param("12XB", id="unknown-suffix"),
    ],
)
def test_whole_number_fast_path_leaves_bad_text_to_the_exact_parser(text: str) -> None:
    with pytest.raises(InputError):
        parse_bytes(text)
