"""Host PCI addresses (``dddd:bb:ss.f``) as sysfs and libvirt write them.

Standard library only: the hook bundle runs this on the sidecar's Python.
"""

from __future__ import annotations

from kvnuma.errors import InputError

__all__ = ["MdevUuid", "PciAddress", "is_hex", "is_mdev_uuid"]

_HEX = frozenset("0123456789abcdefABCDEF")


def is_hex(text: str, digits: int) -> bool:
    """``text`` is exactly ``digits`` hexadecimal digits."""
    return len(text) == digits and all(c in _HEX for c in text)


class PciAddress(tuple[int, int, int, int]):
    """A host PCI address (domain, bus, slot, function), ordered and hashable as that tuple;
    ``str()`` is sysfs's ``dddd:bb:ss.f``."""

    __slots__ = ()

    def __new__(cls, domain: int, bus: int, slot: int, function: int) -> PciAddress:
        return tuple.__new__(cls, (domain, bus, slot, function))

    def __getnewargs__(self) -> tuple[int, int, int, int]:  # copy and pickle
        return (self[0], self[1], self[2], self[3])

    @property
    def domain(self) -> int:
        return self[0]

    @property
    def bus(self) -> int:
        return self[1]

    @property
    def slot(self) -> int:
        return self[2]

    @property
    def function(self) -> int:
        return self[3]

    def __repr__(self) -> str:
        return f"PciAddress(domain={self[0]}, bus={self[1]}, slot={self[2]}, function={self[3]})"

    def __str__(self) -> str:
        return f"{self[0]:04x}:{self[1]:02x}:{self[2]:02x}.{self[3]:x}"

    @property
    def alias_part(self) -> str:
        """The address in the characters a libvirt user alias allows: ``0000-3b-00-0``."""
        return f"{self[0]:04x}-{self[1]:02x}-{self[2]:02x}-{self[3]:x}"

    @classmethod
    def parse(cls, text: str, *, source: str) -> PciAddress:
        domain, _, rest = text.strip().partition(":")
        bus, _, rest = rest.partition(":")
        slot, dot, function = rest.partition(".")
        if not (
            is_hex(domain, 4) and is_hex(bus, 2) and is_hex(slot, 2) and dot and function in tuple("01234567")
        ):
            raise InputError(source, f"{text!r} is not a PCI address of the form dddd:bb:ss.f")
        return cls(int(domain, 16), int(bus, 16), int(slot, 16), int(function))

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


class MdevUuid(PciAddress):
    """A mediated device (vGPU) by its uuid, standing where a host PCI address stands in
    placement: ordered after every PCI address, hashable, ``str()`` is the uuid as sysfs and
    libvirt write it (``/sys/bus/mdev/devices/<uuid>``, ``<source><address uuid=…>``). Its host
    node and root complex are its parent PCI device's. The PCI fields mean nothing for it."""

    __slots__ = ()

    MARK = 0x10000
    """First field of every mediated device: above the largest PCI domain (0xffff)."""

    def __new__(cls, domain: int, bus: int, slot: int, function: int) -> MdevUuid:
        return tuple.__new__(cls, (domain, bus, slot, function))

    def __repr__(self) -> str:
        return f"MdevUuid({str(self)!r})"

    def __str__(self) -> str:
        text = f"{self[1]:016x}{self[2]:016x}"
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

    @property
    def alias_part(self) -> str:
        return f"mdev-{self}"

    @classmethod
    def parse(cls, text: str, *, source: str) -> MdevUuid:
        if not is_mdev_uuid(text.strip()):
            raise InputError(source, f"{text.strip()[:60]!r} is not a uuid of the form 8-4-4-4-12 hex digits")
        digits = text.strip().replace("-", "").lower()
        return cls(cls.MARK, int(digits[:16], 16), int(digits[16:], 16), 0)


def is_mdev_uuid(text: str) -> bool:
    """``text`` is a uuid (``8-4-4-4-12`` hex digits), the name of a mediated device."""
    parts = text.split("-")
    return [len(p) for p in parts] == [8, 4, 4, 4, 12] and all(is_hex(p, len(p)) for p in parts)
