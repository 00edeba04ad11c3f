"""The agent's host-side reads and writes: the realtime sysctl and the capabilities file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from kvnuma.errors import InputError
from kvnuma.sysfsfile import read_text

__all__ = ["RT_RUNTIME", "read_realtime", "write_atomically"]

RT_RUNTIME = Path("sys/kernel/sched_rt_runtime_us")


def read_realtime(proc_root: Path) -> bool:
    """True only when ``sched_rt_runtime_us`` is exactly -1 (no RT throttling), as KubeVirt's
    node-labeller decides; a missing file means not realtime. Read by the one sysfs file reader:
    an unreadable or binary file, or a value that is not an integer, is an InputError (the
    agent then keeps what it published)."""
    path = proc_root / RT_RUNTIME
    text = read_text(str(path))
    if text is None:
        return False
    value = text.strip()
    if not value.lstrip("-").isdigit():
        raise InputError(str(path), f"expected an integer, got {value[:40]!r}")
    return value == "-1"


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
