"""The one reader of sysfs (and procfs) files, for node, CPU and PCI files alike.

``read_text`` answers a file's text, or None when the file is not there (``ENOENT``/``ENOTDIR``,
which real kernels produce: offline CPUs have no ``topology/``, kernels without NUMA no
``node/``). Everything else is an ``InputError`` naming the file: permission denied, a symlink
loop, a folder, a FIFO or device where a file should be (opened without blocking, so a FIFO
with no writer cannot hang a reader), I/O errors, more than ``MAX_FILE_BYTES``, and bytes that
are not ASCII text. NUL padding (tar pads files to 4 KiB) and surrounding blanks are removed.

``list_dir`` is the same for folders (None when missing; an unreadable folder is an error, so
an unreadable ``node/`` cannot quietly become "no NUMA"). ``parse_id`` reads an id that may be
``-1`` (unknown, e.g. a PCI device's ``numa_node`` or a CPU's ``physical_package_id``): it
answers None for ``-1``, and callers decide what unknown means in one line each.

Standard library only, Python 3.9 syntax: the hook bundle embeds this module.
"""

from __future__ import annotations

import errno
import os
import stat

from kvnuma.errors import InputError

__all__ = ["MAX_FILE_BYTES", "list_dir", "parse_id", "read_text"]

MAX_FILE_BYTES = 1 << 20
"""The largest sysfs file read (1 MiB; the kernel's own attributes stop at one 4 KiB page)."""

_MISSING = (errno.ENOENT, errno.ENOTDIR)


def _problem(error: OSError) -> str:
    return f"unreadable: {error.strerror or error}"


def read_text(path: str, *, source: str | None = None) -> str | None:
    """The file's text without NUL padding and surrounding blanks; None when it is missing."""
    where = path if source is None else source
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as error:
        if error.errno in _MISSING:
            return None
        raise InputError(where, _problem(error)) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = (
                "a folder"
                if stat.S_ISDIR(mode)
                else "a FIFO"
                if stat.S_ISFIFO(mode)
                else "not a regular file"
            )
            raise InputError(where, f"unreadable: {kind} where a file was expected")
        chunks = []
        size = 0
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                raise InputError(where, f"larger than the limit of {MAX_FILE_BYTES} bytes")
            chunks.append(chunk)
    except OSError as error:
        raise InputError(where, _problem(error)) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as error:
        raise InputError(where, f"not text: byte {data[error.start]:#04x} at offset {error.start}") from None
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text.strip()


def list_dir(path: str, *, source: str | None = None) -> list[str] | None:
    """The folder's entry names; None when it is missing (or is not a folder)."""
    try:
        return os.listdir(path)
    except OSError as error:
        if error.errno in _MISSING:
            return None
        raise InputError(path if source is None else source, _problem(error)) from None


def parse_id(text: str, *, source: str) -> int | None:
    """A non-negative id, or None for ``-1`` (unknown); anything else is an InputError."""
    value = text.replace("\x00", "").strip()
    if value == "-1":
        return None
    if not value.isdigit() or not value.isascii() or len(value) > 9:
        raise InputError(source, f"expected an integer id or -1, got {value[:40]!r}")
    return int(value)
