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
_DECIMAL_EXPONENT = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_WHOLE_UNITS: dict[str, int] = {**_BINARY, **{k: int(10**e) for k, e in _DECIMAL_EXPONENT.items() if e >= 0}}
_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE](?P<exp>[+-]?[0-9]{1,3}))?$"
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
    return number * Fraction(10) ** _DECIMAL_EXPONENT[suffix]


def parse_bytes(value: str | int, *, source: str = "quantity") -> int:
    """Parse a quantity that must be a whole, non-negative number of bytes."""
    if type(value) is str:
        whole = _whole_bytes(value.strip())
        if whole is not None:
            return whole
    amount = parse_quantity(value, source=source)
    if amount < 0:
        raise InputError(source, f"negative quantity {value!r}")
    if amount.denominator != 1:
        raise InputError(source, f"quantity {value!r} is not a whole number of bytes")
    return int(amount)


def _whole_bytes(text: str) -> int | None:
    """The common case without Fractions (the admission path parses several per request): ASCII
    digits and a whole-number suffix, ``128Gi`` or ``4096``. None sends the text the long way."""
    end = len(text)
    while end and not text[end - 1].isdigit():
        end -= 1
    digits, suffix = text[:end], text[end:]
    if len(text) <= _MAX_TEXT and digits.isascii() and digits.isdigit() and suffix in _WHOLE_UNITS:
        return int(digits) * _WHOLE_UNITS[suffix]
    return None


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
