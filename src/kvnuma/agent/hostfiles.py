"""The agent's host-side reads and writes: the realtime sysctl and the capabilities file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["RT_RUNTIME", "read_realtime", "write_atomically"]

RT_RUNTIME = Path("sys/kernel/sched_rt_runtime_us")


def read_realtime(proc_root: Path) -> bool:
    """True only when ``sched_rt_runtime_us`` is exactly -1 (no RT throttling), as KubeVirt's
    node-labeller decides; a missing or unreadable file means not realtime."""
    try:
        return (proc_root / RT_RUNTIME).read_text().strip() == "-1"
    except OSError:
        return False


def write_atomically(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename, so
    readers see the old file or the new one, never a part. Returns False when unchanged."""
    try:
        if path.read_text() == text:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return True
