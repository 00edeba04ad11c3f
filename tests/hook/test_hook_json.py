"""The hook reads the VMI JSON with ``json``; bad JSON is one line of bad input, never a crash."""

from __future__ import annotations

from kvnuma.hook.main import on_define_domain


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
