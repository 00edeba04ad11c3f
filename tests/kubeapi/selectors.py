"""Label and field selectors on list, watch and delete-collection.

Following the "Labels and Selectors" and "Field Selectors" pages and apimachinery's ``labels.Parse``:

* label selectors: comma-separated requirements ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``,
  ``k notin (a,b)``, ``k`` (exists), ``!k`` (does not exist), ``k>N``/``k<N``; ``!=`` and ``notin``
  match objects without the label. A selector that does not parse answers 400 BadRequest.
* field selectors: ``metadata.name`` and ``metadata.namespace`` (and ``spec.unschedulable`` for
  Nodes) with ``=``, ``==``, ``!=``; any other field answers 400 ``field label not supported``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubeapi.status import ApiFailure

__all__ = ["Selector", "parse_fields", "parse_labels"]

Test = Callable[[dict[str, Any]], bool]

_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s*\(\s*([^)]*)\)\s*$")
_BINARY = re.compile(rf"^\s*({_KEY})\s*(==|!=|=|>|<)\s*({_VALUE})\s*$")
_EXISTS = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")


def _split(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _bad_label(selector: str, problem: str) -> ApiFailure:
    return ApiFailure(
        400, f"unable to parse requirement: {problem} (labelSelector {selector!r})", reason="BadRequest"
    )


def _requirement(text: str, selector: str) -> Callable[[Mapping[str, str]], bool]:
    if match := _SET.match(text):
        key, op, raw = match.groups()
        values = {v.strip() for v in raw.split(",")}
        if not all(re.fullmatch(_VALUE, v) for v in values):
            raise _bad_label(selector, f"invalid value in {text!r}")
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if match := _BINARY.match(text):
        key, op, value = match.groups()
        if op in ("=", "=="):
            return lambda labels: labels.get(key) == value
        if op == "!=":
            return lambda labels: labels.get(key) != value
        if not re.fullmatch(r"-?\d+", value):
            raise _bad_label(selector, f"for 'Gt', 'Lt' operators, the value must be an integer: {text!r}")
        number = int(value)

        def compare(labels: Mapping[str, str]) -> bool:
            have = labels.get(key)
            if have is None or not re.fullmatch(r"-?\d+", have):
                return False
            return int(have) > number if op == ">" else int(have) < number

        return compare
    if match := _EXISTS.match(text):
        negate, key = match.groups()
        if negate:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise _bad_label(selector, f"found {text!r}, expected a requirement")


def parse_labels(selector: str) -> Test:
    if not selector.strip():
        return lambda obj: True
    tests = [_requirement(part, selector) for part in _split(selector)]

    def matches(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(test(labels) for test in tests)

    return matches


def _field_value(obj: dict[str, Any], field: str) -> str:
    if field == "spec.unschedulable":
        return "true" if obj.get("spec", {}).get("unschedulable") else "false"
    return str(obj.get("metadata", {}).get(field.split(".", 1)[1], ""))


def _field_test(field: str, value: str, *, negate: bool) -> Test:
    def test(obj: dict[str, Any]) -> bool:
        return (_field_value(obj, field) == value) != negate

    return test


def parse_fields(selector: str, supported: frozenset[str]) -> Test:
    if not selector.strip():
        return lambda obj: True
    tests: list[Test] = []
    for part in selector.split(","):
        match = re.fullmatch(r"\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*([^,]*?)\s*", part)
        if not match:
            raise ApiFailure(
                400, f"invalid selector: {selector!r}; can't understand {part!r}", reason="BadRequest"
            )
        field, op, value = match.groups()
        if field not in supported:
            raise ApiFailure(400, f"field label not supported: {field}", reason="BadRequest")
        tests.append(_field_test(field, value, negate=op == "!="))
    return lambda obj: all(test(obj) for test in tests)


@dataclass(frozen=True)
class Selector:
    labels: Test
    fields: Test
    active: bool = False

    @classmethod
    def from_query(cls, res: Any, query: Mapping[str, str]) -> Selector:
        supported = {"metadata.name", "metadata.namespace"}
        if res.plural == "nodes" and not res.group:
            supported.add("spec.unschedulable")
        return cls(
            parse_labels(query.get("labelSelector", "")),
            parse_fields(query.get("fieldSelector", ""), frozenset(supported)),
            bool(query.get("labelSelector", "").strip() or query.get("fieldSelector", "").strip()),
        )

    def matches(self, obj: dict[str, Any]) -> bool:
        return self.labels(obj) and self.fields(obj)
