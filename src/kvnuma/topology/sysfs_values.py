"""The values inside sysfs files, parsed the way the kernel writes them and libvirt reads them.

Every parser takes the file's text and its path (relative to the sysfs root) and raises
``InputError(path, problem)`` on garbage. Text may carry a trailing newline or NUL padding (tar
pads files to 4 KiB). CPU lists are read by the one CPU-list parser, ``kvnuma.cpulist``.
"""

from __future__ import annotations

from kvnuma.errors import InputError

__all__ = [
    "clean",
    "parse_distances",
    "parse_hex",
    "parse_int",
    "parse_meminfo_total",
]


def clean(text: str) -> str:
    """The text without NUL padding and surrounding blanks."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text.strip()


def parse_int(text: str, source: str) -> int:
    value = clean(text)
    try:
        return int(value)
    except ValueError:
        raise InputError(source, f"expected an integer, got {value[:40]!r}") from None


def parse_hex(text: str, source: str) -> str:
    """A PCI ``vendor``/``device``/``class`` value such as ``0x10de``, kept as lower-case text."""
    value = clean(text).lower()
    try:
        int(value, 16)
    except ValueError:
        raise InputError(source, f"expected a hexadecimal number, got {value[:40]!r}") from None
    return value


def parse_distances(text: str, source: str) -> list[int]:
    """A node's ``distance`` row: blank-separated integers, one per online node."""
    value = clean(text)
    try:
        distances = [int(item) for item in value.split()]
    except ValueError:
        raise InputError(source, f"expected blank-separated integers, got {value[:60]!r}") from None
    if not distances or min(distances) < 0:
        raise InputError(source, f"expected non-negative distances, got {value[:60]!r}")
    return distances


def parse_meminfo_total(text: str, source: str) -> int:
    """Bytes of ``MemTotal`` in a meminfo text (``/proc/meminfo`` or ``nodeN/meminfo``).

    Lines look like ``MemTotal:  16384 kB`` or, per node, ``Node 0 MemTotal:  16384 kB``.
    """
    for line in clean(text).splitlines():
        head, colon, rest = line.partition(":")
        if not colon or not head.endswith("MemTotal"):
            continue
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
            return int(parts[0]) * 1024
        if len(parts) == 1 and parts[0].isdigit():
            return int(parts[0])
        raise InputError(source, f"malformed MemTotal line {line.strip()[:60]!r}")
    raise InputError(source, "no MemTotal line")
