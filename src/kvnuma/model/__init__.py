"""Pure, immutable values: CPU sets, quantities and the host topology."""

from kvnuma.model.cpuset import CpuSet
from kvnuma.model.quantity import format_bytes, parse_bytes, parse_quantity
from kvnuma.model.topology import Cell, Cpu, HostTopology, HugePagePool, PciDevice

__all__ = [
    "Cell",
    "Cpu",
    "CpuSet",
    "HostTopology",
    "HugePagePool",
    "PciDevice",
    "format_bytes",
    "parse_bytes",
    "parse_quantity",
]
