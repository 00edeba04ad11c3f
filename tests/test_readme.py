"""The README's examples are the real output of the current code.

Every fenced block that starts with ``$ kvnuma`` is run, command by command (``$ `` lines, with
``\\`` continuations; other ``$`` commands such as ``echo $?`` run in the same shell), in the
repository root with this checkout's ``kvnuma`` first on PATH, stdout and stderr together. The
output must equal the lines under the command, where a line ``...`` stands for any number of
lines. Only what truly varies is normalised:

* ``<!-- docs-test: this-host -->`` before a block: the output depends on this machine (its
  memory, CPUs, devices), so it is compared by shape: numbers, box-drawing characters and
  runs of spaces are folded;
* ``<!-- docs-test: demo-host -->``: ``/tmp/demo`` is a synthetic host (``demo_host``) that the
  test writes into a temporary folder.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.hostbuilder import render_sysfs, synthetic_host

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GiB, MiB = 1 << 30, 1 << 20
_MARK = "__kvnuma_docs_test_end__"
_FENCE = re.compile(r"(?:<!-- docs-test: (?P<mode>[\w-]+) -->\n)?```[a-z]*\n(?P<body>.*?)```", re.S)


@dataclass(frozen=True)
class Step:
    command: str
    expected: list[str]


@dataclass(frozen=True)
class Example:
    line: int
    mode: str
    steps: list[Step]


def examples(text: str) -> list[Example]:
    found = []
    for match in _FENCE.finditer(text):
        body = match["body"]
        if not body.startswith("$ kvnuma"):
            continue
        steps: list[Step] = []
        lines = body.splitlines()
        index = 0
        while index < len(lines):
            command = lines[index].removeprefix("$ ")
            while command.endswith("\\"):
                index += 1
                command = command[:-1] + " " + lines[index].strip()
            index += 1
            expected = []
            while index < len(lines) and not lines[index].startswith("$ "):
                expected.append(lines[index])
                index += 1
            steps.append(Step(command, expected))
        found.append(Example(text[: match.start()].count("\n") + 1, match["mode"] or "exact", steps))
    return found


def demo_host(root: Path) -> None:
    """``/tmp/demo``: 4 cells of 16 cores x 2 threads, 128 GiB each, 2 MiB and 1 GiB pages, realtime."""
    host = synthetic_host(
        cells=4, cores_per_cell=16, threads=2, memory_per_cell=128 * GiB, hugepages={2 * MiB: 1024, GiB: 16}
    )
    render_sysfs(host, root / "sys")
    runtime = root / "proc" / "sys" / "kernel" / "sched_rt_runtime_us"
    runtime.parent.mkdir(parents=True)
    runtime.write_text("-1\n")


def run(example: Example, tmp_path: Path) -> list[list[str]]:
    """Each step's output lines."""
    script = []
    for step in example.steps:
        command = step.command
        if example.mode == "demo-host":
            command = command.replace("/tmp/demo", str(tmp_path / "demo"))
        script.append(f"{command} 2>&1\n__rc=$?\necho {_MARK}\n( exit $__rc )\n")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("COLUMNS", None)
    done = subprocess.run(
        ["bash", "-c", "".join(script)],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    outputs = done.stdout.split(f"{_MARK}\n")
    assert outputs[-1] == "", done.stdout
    return [output.splitlines() for output in outputs[:-1]]


_NUMBER = re.compile(r"\d+(\.\d+)?")
_BOX = re.compile(r"[\u2500-\u257f]+")


def shape(line: str) -> str:
    return " ".join(_BOX.sub(" ", _NUMBER.sub("N", line)).split())


def matches(expected: list[str], actual: list[str]) -> bool:
    """``actual`` equals ``expected`` where a ``...`` line matches any run of lines."""
    if not expected:
        return not actual
    if expected[0].strip() == "...":
        return any(matches(expected[1:], actual[skip:]) for skip in range(len(actual) + 1))
    return bool(actual) and expected[0].rstrip() == actual[0].rstrip() and matches(expected[1:], actual[1:])


EXAMPLES = examples(README.read_text(encoding="utf-8"))


def test_the_readme_has_examples() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"line-{e.line}" for e in EXAMPLES])
def test_readme_example_is_real_output(example: Example, tmp_path: Path) -> None:
    if example.mode == "demo-host":
        demo_host(tmp_path / "demo")
    outputs = run(example, tmp_path)
    assert len(outputs) == len(example.steps)
    for step, output in zip(example.steps, outputs, strict=True):
        expected, actual = step.expected, output
        if example.mode == "this-host":
            expected, actual = [shape(line) for line in expected], [shape(line) for line in output]
        assert matches(expected, actual), "\n".join([f"$ {step.command}", *output])


@pytest.mark.parametrize(
    ("expected", "actual", "result"),
    [
        pytest.param(["a", "b"], ["a", "b"], True, id="equal"),
        pytest.param(["a", "b"], ["a", "c"], False, id="differs"),
        pytest.param(["a", "..."], ["a", "b", "c"], True, id="trailing-ellipsis"),
        pytest.param(["...", "c"], ["a", "b", "c"], True, id="leading-ellipsis"),
        pytest.param(["a", "...", "d"], ["a", "d"], True, id="empty-ellipsis"),
        pytest.param(["a"], ["a", "b"], False, id="extra-output"),
        pytest.param(["a", "...", "x"], ["a", "b"], False, id="missing-after-ellipsis"),
    ],
)
def test_matches(expected: list[str], actual: list[str], result: bool) -> None:
    assert matches(expected, actual) is result


def test_shape_folds_what_varies_by_host() -> None:
    assert shape("│ 0    │ 0-1  │ 5.59 GiB │") == shape("│ 0    │ 0-3  │ 11.5 GiB │")
    assert shape("cells: 1   online CPUs: 2") != shape("cells: 1   online CPUs: 2 (1 offline)")
