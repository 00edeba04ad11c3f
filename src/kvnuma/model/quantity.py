"""Kubernetes resource quantities (``128Gi``, ``1.5G``, ``500m``, ``1e3``), exactly.

Values are kept as ``fractions.Fraction`` so nothing is lost to floating point; byte counts
are whole numbers and ``format_bytes`` writes the form that parses back to the same number
(largest binary suffix that divides exactly, else the plain integer), as Kubernetes does for
binary-SI quantities.
"""

from __future__ import annotations

import re
from fractions import Fraction

from kvnuma.errors import InputError

__all__ = ["format_bytes", "parse_bytes", "parse_quantity"]

_BINARY = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE](?P<exp>[+-]?\d{1,3}))?$"
)
_MAX_TEXT = 64
_BYTE_SUFFIXES = ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki")


def parse_quantity(value: str | int, *, source: str = "quantity") -> Fraction:
    """Parse a Kubernetes quantity into an exact Fraction; InputError on anything else."""
    if isinstance(value, bool):
        raise InputError(source, f"expected a quantity, got {value!r}")
    if isinstance(value, int):
        return Fraction(value)
    if not isinstance(value, str):
        raise InputError(source, f"expected a quantity string, got {type(value).__name__}")
    text = value.strip()
    if not text or len(text) > _MAX_TEXT:
        raise InputError(source, f"malformed quantity {value[:_MAX_TEXT]!r}")
    match = _QUANTITY.match(text)
    if match is None:
        raise InputError(source, f"malformed quantity {text!r}")
    number = Fraction(match.group("number"))
    if match.group("exp") is not None:
        return number * Fraction(10) ** int(match.group("exp"))
    suffix = match.group("suffix") or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    return number * _DECIMAL[suffix]


def parse_bytes(value: str | int, *, source: str = "quantity") -> int:
    """Parse a quantity that must be a whole, non-negative number of bytes."""
    amount = parse_quantity(value, source=source)
    if amount < 0:
        raise InputError(source, f"negative quantity {value!r}")
    if amount.denominator != 1:
        raise InputError(source, f"quantity {value!r} is not a whole number of bytes")
    return int(amount)


def format_bytes(amount: int) -> str:
    """Write a byte count as the shortest exact quantity (``137438953472`` -> ``128Gi``)."""
    if amount < 0:
        raise ValueError(f"negative byte count {amount}")
    if amount == 0:
        return "0"
    for suffix in _BYTE_SUFFIXES:
        unit = _BINARY[suffix]
        if amount % unit == 0:
            return f"{amount // unit}{suffix}"
    return str(amount)
