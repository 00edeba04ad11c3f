"""Small value parsers PCI placement needs: PCI addresses and CPU/node lists.

Standard library only (the hook runs in KubeVirt's sidecar-shim image), hence not
``kvnuma.model.cpuset``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kvnuma.errors import InputError

__all__ = ["PciAddress", "parse_id_list"]

_BDF = re.compile(r"^([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$")


@dataclass(frozen=True, order=True)
class PciAddress:
    """A host PCI address (domain, bus, slot, function); ``str()`` is sysfs's ``dddd:bb:ss.f``."""

    domain: int
    bus: int
    slot: int
    function: int

    def __str__(self) -> str:
        return f"{self.domain:04x}:{self.bus:02x}:{self.slot:02x}.{self.function:x}"

    @property
    def alias_part(self) -> str:
        """The address in the characters a libvirt user alias allows: ``0000-3b-00-0``."""
        return f"{self.domain:04x}-{self.bus:02x}-{self.slot:02x}-{self.function:x}"

    @classmethod
    def parse(cls, text: str, *, source: str) -> PciAddress:
        match = _BDF.match(text.strip())
        if match is None:
            raise InputError(source, f"{text!r} is not a PCI address of the form dddd:bb:ss.f")
        domain, bus, slot, function = (int(group, 16) for group in match.groups())
        return cls(domain, bus, slot, function)

    @classmethod
    def from_attributes(cls, attributes: dict[str, str], *, source: str) -> PciAddress:
        """From libvirt's ``<address domain= bus= slot= function=>`` (hex with ``0x`` or decimal)."""
        values = []
        for name, limit in (("domain", 0xFFFF), ("bus", 0xFF), ("slot", 0x1F), ("function", 7)):
            text = attributes.get(name, "0")
            try:
                value = int(text, 0)
            except ValueError:
                raise InputError(source, f"{name}={text!r} is not a number") from None
            if not 0 <= value <= limit:
                raise InputError(source, f"{name}={text!r} is out of range 0..{limit:#x}")
            values.append(value)
        return cls(*values)


def parse_id_list(text: str, *, source: str) -> frozenset[int]:
    """``0-3,^1,8`` style lists (libvirt cpusets and nodesets, sysfs cpulists) as a set of ids."""
    included: set[int] = set()
    excluded: set[int] = set()
    for raw in text.replace("\x00", "").strip().split(","):
        part = raw.strip()
        if not part:
            continue
        target = excluded if part.startswith("^") else included
        part = part.lstrip("^")
        low, _, high = part.partition("-")
        try:
            first = int(low)
            last = int(high) if high else first
        except ValueError:
            raise InputError(source, f"{text!r} is not a list of ids like 0-3,8") from None
        if first < 0 or last < first:
            raise InputError(source, f"{text!r} has an invalid range {part!r}")
        target.update(range(first, last + 1))
    return frozenset(included - excluded)
