"""The hook reads the VMI JSON with ``json``; bad JSON is one line of bad input, never a crash."""

from __future__ import annotations

from kvnuma.hook.main import on_define_domain


def test_too_deep_vmi_json_is_bad_input_not_a_crash() -> None:
    outcome = on_define_domain("[" * 100_000, "<domain/>")
    assert (outcome.exit_code, outcome.stdout) == (0, "<domain/>")
    assert outcome.stderr == [
        "kvnuma hook: error: --vmi: not valid JSON: nested too deeply; domain left unchanged"
    ]


def test_bad_vmi_json_is_one_line_and_the_domain_unchanged() -> None:
    outcome = on_define_domain("{nope", "<domain/>")
    assert outcome.exit_code == 0
    assert outcome.stdout == "<domain/>"
    assert outcome.stderr == [
        "kvnuma hook: error: --vmi: not valid JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1); domain left unchanged"
    ]
    strict = on_define_domain("{nope", "<domain/>", strict=True)
    assert (strict.exit_code, strict.stdout) == (1, "")
