"""The guest's initramfs: static busybox and an ``/init`` that reports what the guest sees.

The report goes to the serial console as ``E2E ...`` lines, then ``E2E done``; the guest then
idles so the host can inspect the running domain, and powers itself off after two minutes in case
nobody destroys it. The archive is written in Python (cpio newc + gzip), cached by content hash.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from pathlib import Path

__all__ = ["INIT_SCRIPT", "build_initrd"]

BUSYBOX = Path("/bin/busybox")
SAFETY_POWEROFF_SECONDS = 120
INIT_SCRIPT = f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "E2E nproc=$(grep -c ^processor /proc/cpuinfo)"
for n in /sys/devices/system/node/node*; do
  [ -d "$n" ] || continue
  mem=$(grep MemTotal $n/meminfo | sed 's/  */ /g; s/^Node [0-9]* //')
  echo "E2E node=${{n##*/node}} cpulist=$(cat $n/cpulist) $mem"
done
for d in /sys/bus/pci/devices/*; do
  [ -e "$d/vendor" ] || continue
  ids="vendor=$(cat $d/vendor) device=$(cat $d/device) class=$(cat $d/class)"
  echo "E2E pci=${{d##*/}} $ids numa_node=$(cat $d/numa_node)"
done
echo "E2E done"
sleep {SAFETY_POWEROFF_SECONDS}
poweroff -f
"""

_PT_INTERP = 3
_DIR, _FILE, _LINK, _CHAR = 0o040755, 0o100755, 0o120777, 0o020600


def _is_static_elf(data: bytes) -> bool:
    if data[:4] != b"\x7fELF" or data[4] != 2:  # ELF64 only
        return False
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    types = (struct.unpack_from("<I", data, phoff + i * phentsize)[0] for i in range(phnum))
    return _PT_INTERP not in types


def _entry(ino: int, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> bytes:
    encoded = name.encode() + b"\0"
    fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
    head = b"070701" + b"".join(f"{value:08X}".encode() for value in fields) + encoded
    head += b"\0" * (-len(head) % 4)
    return head + data + b"\0" * (-len(data) % 4)


def _archive(busybox: bytes, init: str) -> bytes:
    entries: list[tuple[str, int, bytes, tuple[int, int]]] = [
        *((d, _DIR, b"", (0, 0)) for d in ("bin", "dev", "proc", "sys")),
        ("dev/console", _CHAR, b"", (5, 1)),
        ("bin/busybox", _FILE, busybox, (0, 0)),
        ("bin/sh", _LINK, b"busybox", (0, 0)),
        ("init", _FILE, init.encode(), (0, 0)),
    ]
    body = b"".join(_entry(i, n, m, d, r) for i, (n, m, d, r) in enumerate(entries, start=1))
    return body + _entry(0, "TRAILER!!!", 0)


def build_initrd(cache_dir: Path) -> Path:
    """``cache_dir/initrd-<hash>.gz``, built if missing (atomic, safe across concurrent sessions)."""
    busybox = BUSYBOX.read_bytes()
    if not _is_static_elf(busybox):
        raise AssertionError(
            f"{BUSYBOX} is not a static binary: install busybox-static (scripts/setup-system.sh)"
        )
    digest = hashlib.sha256(busybox + INIT_SCRIPT.encode()).hexdigest()[:16]
    target = cache_dir / f"initrd-{digest}.gz"
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cache_dir / f".initrd-{digest}.{os.getpid()}"
    partial.write_bytes(gzip.compress(_archive(busybox, INIT_SCRIPT), compresslevel=6, mtime=0))
    partial.replace(target)
    return target
