"""The JSON form of a host topology: the stable schema of ``kvnuma discover -o json``.

Schema version 2 (documented in docs/discover.md and docs/schemas/discover.json; version 1
used snake_case keys). Cells and CPUs keep the source's order;
``distances`` maps a cell id (as a string, JSON object keys are strings) to the distance;
``free`` is null when the source does not say (libvirt capabilities). ``from_json`` reads the
form back, so other tools can take a saved discovery as input.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kvnuma.errors import InputError
from kvnuma.model import Cell, Cpu, CpuSet, HostTopology, HugePagePool, PciDevice

__all__ = ["SCHEMA_VERSION", "from_json", "summary", "to_json"]

SCHEMA_VERSION = 2


def to_json(topology: HostTopology) -> dict[str, Any]:
    """The JSON-ready dict (only str, int, bool, None, lists and dicts)."""
    return {
        "schemaVersion": SCHEMA_VERSION,
        "cells": [_cell(cell) for cell in topology.cells],
        "pciDevices": [
            {
                "address": device.address,
                "numaNode": device.numa_node,
                "class": device.pci_class,
                "vendor": device.vendor,
                "device": device.device,
            }
            for device in topology.pci_devices
        ],
        "summary": summary(topology),
    }


def summary(topology: HostTopology) -> dict[str, Any]:
    """The host in numbers: ``discover``'s ``summary`` and ``plan``'s ``host`` (one form)."""
    return {
        "cells": len(topology.cells),
        "cpus": topology.cpu_count,
        "maxSingleNumaCpus": topology.max_single_numa_cpus,
        "maxSingleNumaMemoryBytes": topology.max_single_numa_memory_bytes,
        "minSingleNumaCpus": topology.min_single_numa_cpus,
        "minSingleNumaMemoryBytes": topology.min_single_numa_memory_bytes,
        "smtEnabled": topology.smt_enabled,
        "maxSingleNumaHugepagesBytes": {
            str(size): amount for size, amount in topology.max_single_numa_hugepages_bytes().items()
        },
    }


def _cell(cell: Cell) -> dict[str, Any]:
    return {
        "id": cell.id,
        "cpus": [
            {
                "id": cpu.id,
                "socketId": cpu.socket_id,
                "dieId": cpu.die_id,
                "clusterId": cpu.cluster_id,
                "coreId": cpu.core_id,
                "siblings": cpu.thread_group.sorted(),
                "online": cpu.online,
            }
            for cpu in cell.cpus
        ],
        "memoryBytes": cell.memory_bytes,
        "hugepages": [
            {"pageSizeBytes": pool.page_size_bytes, "total": pool.total, "free": pool.free}
            for pool in cell.hugepages
        ],
        "distances": {str(other): distance for other, distance in cell.distances},
    }


def from_json(data: object, *, source: str) -> HostTopology:
    """The topology in a ``to_json`` document; InputError names ``source`` and the bad field."""
    try:
        document = _object(data, "")
        if document.get("schemaVersion") != SCHEMA_VERSION:
            raise _Bad("schemaVersion", f"expected {SCHEMA_VERSION}, got {document.get('schemaVersion')!r}")
        cells = tuple(
            _read_cell(_object(raw, f"cells[{i}]"), f"cells[{i}]") for i, raw in _list(document, "cells")
        )
        devices = tuple(
            PciDevice(
                address=_str(item, "address", f"pciDevices[{i}]"),
                vendor=_str(item, "vendor", f"pciDevices[{i}]"),
                device=_str(item, "device", f"pciDevices[{i}]"),
                pci_class=_str(item, "class", f"pciDevices[{i}]"),
                numa_node=_int(item, "numaNode", f"pciDevices[{i}]", minimum=-1),
            )
            for i, raw in _list(document, "pciDevices")
            for item in [_object(raw, f"pciDevices[{i}]")]
        )
    except _Bad as bad:
        raise InputError(source, f"{bad.field}: {bad.problem}") from None
    # JSON objects have no order worth keeping: distances follow the order of the cells.
    rank = {cell.id: index for index, cell in enumerate(cells)}
    cells = tuple(
        replace(
            cell,
            distances=tuple(sorted(cell.distances, key=lambda pair: (rank.get(pair[0], len(rank)), pair))),
        )
        for cell in cells
    )
    return HostTopology(cells=cells, pci_devices=devices)


class _Bad(Exception):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(field, problem)
        self.field = field
        self.problem = problem


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad(where or "document", f"expected an object, got {type(value).__name__}")
    return value


def _list(document: dict[str, Any], key: str) -> list[tuple[int, object]]:
    value = document.get(key, [])
    if not isinstance(value, list):
        raise _Bad(key, f"expected a list, got {type(value).__name__}")
    return list(enumerate(value))


def _int(item: dict[str, Any], key: str, where: str, *, minimum: int = 0) -> int:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _Bad(f"{where}.{key}", f"expected an integer >= {minimum}, got {value!r}")
    return value


def _str(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key, "")
    if not isinstance(value, str):
        raise _Bad(f"{where}.{key}", f"expected a string, got {value!r}")
    return value


def _read_cell(item: dict[str, Any], where: str) -> Cell:
    cpus = []
    for i, raw in _list(item, "cpus"):
        cpu = _object(raw, f"{where}.cpus[{i}]")
        at = f"{where}.cpus[{i}]"
        siblings = cpu.get("siblings", [])
        if not isinstance(siblings, list) or not all(type(s) is int and s >= 0 for s in siblings):
            raise _Bad(f"{at}.siblings", f"expected a list of CPU ids, got {siblings!r}")
        online = cpu.get("online", True)
        if not isinstance(online, bool):
            raise _Bad(f"{at}.online", f"expected true or false, got {online!r}")
        cpu_id, socket_id, die_id, cluster_id, core_id = (
            _int(cpu, key, at) for key in ("id", "socketId", "dieId", "clusterId", "coreId")
        )
        thread_group = CpuSet(frozenset(siblings))
        cpus.append(Cpu(cpu_id, socket_id, die_id, cluster_id, core_id, thread_group, online))
    pools = []
    for i, raw in _list(item, "hugepages"):
        pool = _object(raw, f"{where}.hugepages[{i}]")
        at = f"{where}.hugepages[{i}]"
        free = None if pool.get("free") is None else _int(pool, "free", at)
        pools.append(HugePagePool(_int(pool, "pageSizeBytes", at), _int(pool, "total", at), free))
    raw_distances = item.get("distances", {})
    if not isinstance(raw_distances, dict) or not all(
        k.isdigit() and type(v) is int and v >= 0 for k, v in raw_distances.items()
    ):
        raise _Bad(f"{where}.distances", "expected an object of cell id -> distance")
    return Cell(
        id=_int(item, "id", where),
        cpus=tuple(cpus),
        memory_bytes=_int(item, "memoryBytes", where),
        hugepages=tuple(pools),
        distances=tuple((int(k), v) for k, v in raw_distances.items()),
    )
