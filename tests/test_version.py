"""``kvnuma --version``: the package version and the revision (REVISION file, else git, else unknown)."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from kvnuma.cli import cli
from kvnuma.version import revision, version

ROOT = Path(__file__).resolve().parents[1]


def test_the_version_is_the_packages() -> None:
    assert version() == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_in_this_checkout_the_revision_is_git_describe() -> None:
    described = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty", "--abbrev=12"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert revision(ROOT / "src" / "kvnuma") == described


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        pytest.param("v0.1.0-3-gabcdef012345\n", "v0.1.0-3-gabcdef012345", id="written-by-the-image-build"),
        pytest.param("x" * 5000, "x" * 200, id="bounded"),
        pytest.param(None, "unknown", id="no-file-no-checkout"),
        pytest.param("  \n", "unknown", id="empty-file"),
    ],
)
def test_the_revision_file(tmp_path: Path, written: str | None, expected: str) -> None:
    package = tmp_path / "site-packages" / "kvnuma"
    package.mkdir(parents=True)
    if written is not None:
        (package / "REVISION").write_text(written)
    assert revision(package) == expected


def test_kvnuma_version_prints_both() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"kvnuma {version()} (revision {revision()})\n"
