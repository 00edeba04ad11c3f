"""scripts/build-image's own bad input: missing tools are one line naming the Debian packages."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support.image import ROOT


def run_without(tmp_path: Path, present: tuple[str, ...], *args: str) -> subprocess.CompletedProcess[str]:
    """build-image with a PATH holding only dirname, awk and the ``present`` tools."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", "awk", *present):
        found = shutil.which(tool)
        assert found, f"{tool} is not installed on this machine"
        os.symlink(found, bin_dir / tool)
    return subprocess.run(
        ["/bin/bash", str(ROOT / "scripts" / "build-image"), *args],
        capture_output=True, text=True, env={"PATH": str(bin_dir)}, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("present", "missing"),
    [
        pytest.param((), "podman buildah mmdebstrap", id="none"),
        pytest.param(("podman", "buildah"), "mmdebstrap", id="no-mmdebstrap"),
    ],
)
def test_missing_tools_are_one_line_naming_the_packages(
    tmp_path: Path, present: tuple[str, ...], missing: str
) -> None:
    done = run_without(tmp_path, present)
    assert done.returncode == 1
    assert done.stderr == f"build-image: {missing} not installed: apt-get install {missing}\n"
    assert done.stdout == ""


def test_print_image_needs_no_tools(tmp_path: Path) -> None:
    done = run_without(tmp_path, (), "--print-image")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("localhost/kvnuma:")
