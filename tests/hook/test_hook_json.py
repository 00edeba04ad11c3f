"""The hook reads the VMI JSON without importing ``json`` on the usual path: same values and same
errors as ``json.loads``."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvnuma.hook.main import load_json, on_define_domain

_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


def _outcome(text: str) -> tuple[str, object]:
    try:
        return "value", load_json(text)
    except ValueError as error:
        return "error", str(error)


def _reference(text: str) -> tuple[str, object]:
    try:
        return "value", json.loads(text)
    except ValueError as error:
        return "error", str(error)


@settings(max_examples=200, deadline=None)
@given(value=_values, indent=st.sampled_from([None, 1]), padding=st.sampled_from(["", " \n\t\r"]))
def test_valid_documents_give_what_json_loads_gives(value: object, indent: int | None, padding: str) -> None:
    text = padding + json.dumps(value, indent=indent) + padding
    assert load_json(text) == json.loads(text)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet='{}[]",:0123456789.eE+-truefalsnNaIiy \n\\u\ufeffx', max_size=24))
def test_any_text_gives_what_json_loads_gives(text: str) -> None:
    assert repr(_outcome(text)) == repr(_reference(text))  # repr: NaN equals NaN


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("{", id="truncated"),
        pytest.param("{} {}", id="extra-data"),
        pytest.param("\ufeff{}", id="byte-order-mark"),
        pytest.param('{"a": NaN, "b": -Infinity, "c": 1e400}', id="constants"),
        pytest.param('{"a": "\\ud800"}', id="lone-surrogate"),
    ],
)
def test_edge_cases_match_json(text: str) -> None:
    assert repr(_outcome(text)) == repr(_reference(text))


def test_too_deep_vmi_json_is_bad_input_not_a_crash() -> None:
    outcome = on_define_domain("[" * 100_000, "<domain/>")
    assert (outcome.exit_code, outcome.stdout) == (2, "")
    assert outcome.stderr == ["kvnuma hook: error: --vmi: not valid JSON: nested too deeply"]


def test_bad_vmi_json_is_one_line_and_exit_2() -> None:
    outcome = on_define_domain("{nope", "<domain/>")
    assert outcome.exit_code == 2
    assert outcome.stdout == ""
    assert outcome.stderr == [
        "kvnuma hook: error: --vmi: not valid JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)"
    ]
