"""The one sysfs file reader: missing is None, everything else wrong is one error naming the file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kvnuma.errors import InputError
from kvnuma.sysfsfile import MAX_FILE_BYTES, list_dir, parse_id, read_text


def test_text_is_cleaned_and_missing_is_none(tmp_path: Path) -> None:
    (tmp_path / "cpulist").write_bytes(b"0-3\n" + b"\x00" * 4092)
    assert read_text(str(tmp_path / "cpulist")) == "0-3"
    assert read_text(str(tmp_path / "absent")) is None
    assert read_text(str(tmp_path / "cpulist" / "below-a-file")) is None
    assert list_dir(str(tmp_path / "absent")) is None


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        pytest.param(lambda p: p.mkdir(), "a folder where a file was expected", id="folder"),
        pytest.param(os.mkfifo, "a FIFO where a file was expected", id="fifo-no-writer"),
        pytest.param(lambda p: p.write_bytes(b"\x89PNG\x00"), "not text: byte 0x89", id="binary"),
        pytest.param(lambda p: p.write_bytes(b"0" * (MAX_FILE_BYTES + 1)), "limit", id="oversized"),
        pytest.param(lambda p: p.symlink_to(p), "symbolic links", id="symlink-loop"),
    ],
)
def test_wrong_files_are_one_error(make: object, fragment: str, tmp_path: Path) -> None:
    path = tmp_path / "meminfo"
    make(path)  # type: ignore[operator]
    with pytest.raises(InputError) as caught:
        read_text(str(path), source="node0/meminfo")
    assert caught.value.source == "node0/meminfo"
    assert fragment in caught.value.problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3\n", 3), ("-1\n", None), ("8191\x00", 8191)],
)
def test_ids(text: str, expected: int | None) -> None:
    assert parse_id(text, source="f") == expected


@pytest.mark.parametrize("text", ["-7", "1.5", "x", "", "9" * 30])
def test_bad_ids(text: str) -> None:
    with pytest.raises(InputError, match="expected an integer id or -1"):
        parse_id(text, source="f")
