"""kvnuma.inputs: files, FIFOs, devices and pipes are read once, bounded, with one-line errors."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from kvnuma import inputs
from kvnuma.errors import InputError
from kvnuma.inputs import (
    MAX_DEPTH,
    MAX_YAML_BYTES,
    check_output_folder,
    check_output_path,
    parse_documents,
    read_text,
)

pytestmark = pytest.mark.timeout(30)  # a hang fails the test instead of blocking the run


@pytest.fixture(autouse=True)
def _short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inputs, "FIFO_WAIT_SECONDS", 0.3)


def test_a_fifo_with_no_writer_is_an_error_after_a_bounded_wait(tmp_path: Path) -> None:
    fifo = tmp_path / "vmi.yaml"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"no writer within 0\.3 s"):
        read_text(fifo)


def test_a_fifo_is_read_once_to_its_end(tmp_path: Path) -> None:
    fifo = tmp_path / "vmi.yaml"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "w") as handle:
            handle.write("kind: VirtualMachineInstance\n")

    writer = threading.Thread(target=write)
    writer.start()
    assert read_text(fifo) == "kind: VirtualMachineInstance\n"
    writer.join()


def test_an_endless_device_stops_at_the_cap() -> None:
    with pytest.raises(InputError, match="larger than 16 MiB"):
        read_text(Path("/dev/zero"))


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        pytest.param(lambda p: None, "no such file", id="missing"),
        pytest.param(lambda p: p.mkdir(), "is a directory", id="folder"),
        pytest.param(lambda p: p.write_bytes(b"kind: \xff\xfe\n"), "not UTF-8", id="binary"),
    ],
)
def test_bad_files(make: object, fragment: str, tmp_path: Path) -> None:
    path = tmp_path / "in.yaml"
    make(path)  # type: ignore[operator]
    with pytest.raises(InputError) as caught:
        read_text(path)
    assert caught.value.source == str(path)
    assert fragment in caught.value.problem


def test_large_json_is_parsed_with_json_in_bounded_time() -> None:
    review = {"kind": "AdmissionReview", "request": {"object": {"items": ["x" * 50] * 150_000}}}
    text = json.dumps(review)
    assert len(text) > 5 << 20
    assert parse_documents(text, source="r") == [review]  # json, not PyYAML (11.6 s for 10 MB)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param(
            "a:\n" + "  - " + "x" * 60 + "\n" * 1 + ("  - y\n" * (MAX_YAML_BYTES // 6)),
            "YAML input larger",
            id="big-yaml",
        ),
        pytest.param("[" * 100_000, "nested too deeply", id="deep-json"),
        pytest.param(
            '{"a":' * (MAX_DEPTH + 5) + "1" + "}" * (MAX_DEPTH + 5), "nested deeper than", id="deepish-json"
        ),
        pytest.param("a: " + "[" * 5000, "nesting depth", id="deep-yaml"),
        pytest.param(
            "a: &a [x,x,x,x,x,x,x,x,x]\n"
            + "".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n"
                for i in range(8)
            ),
            "more than",
            id="alias-bomb",
        ),
        pytest.param("!!python/object:os.system {}", "malformed YAML", id="python-object"),
    ],
)
def test_hostile_documents_are_one_error(text: str, fragment: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_documents(text, source="in.yaml")
    assert fragment in caught.value.problem


def test_output_paths_are_checked_before_any_work(tmp_path: Path) -> None:
    check_output_path(tmp_path / "out.xml", option="-o")
    with pytest.raises(InputError, match="does not exist"):
        check_output_path(tmp_path / "missing" / "out.xml", option="-o")
    with pytest.raises(InputError, match="is a directory"):
        check_output_path(tmp_path, option="-o")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file, expected a folder"):
        check_output_folder(tmp_path / "file", option="--out")
    with pytest.raises(InputError, match="does not exist"):
        check_output_folder(tmp_path / "missing" / "deeper", option="--out")
