"""What ``kvnuma --version`` prints: the package version and the git revision it was built from.

The revision comes from the file ``REVISION`` next to this module, which the image build writes
(``Containerfile``, build argument ``REVISION``); in a git checkout (an editable install) it is
``git describe --always --dirty`` of that checkout; otherwise ``unknown``.
"""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

__all__ = ["revision", "version", "version_line"]

_HERE = Path(__file__).resolve().parent
_MAX_REVISION = 200  # characters: a describe string, not a file's worth of text


def version() -> str:
    try:
        return metadata.version("kvnuma")
    except metadata.PackageNotFoundError:
        from kvnuma import __version__

        return __version__


def revision(package_dir: Path = _HERE) -> str:
    written = package_dir / "REVISION"
    try:
        text = written.read_text(encoding="utf-8", errors="replace")[:_MAX_REVISION].strip()
    except OSError:
        text = ""
    if text:
        return text
    checkout = package_dir.parent.parent  # src/kvnuma -> the repository
    if (checkout / ".git").exists():
        try:
            done = subprocess.run(
                ["git", "-C", str(checkout), "describe", "--always", "--dirty", "--abbrev=12"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()[:_MAX_REVISION]
    return "unknown"


def version_line() -> str:
    return f"kvnuma {version()} (revision {revision()})"
