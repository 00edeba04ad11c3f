"""Host topology from and to libvirt's capabilities XML (``virsh capabilities``).

Read: ``<capabilities><host><topology><cells>``: per cell ``<memory unit>``, ``<pages unit size>``
(the 4 KiB base pages are skipped: the model holds huge pages only), ``<distances><sibling id
value>`` and ``<cpus><cpu id socket_id die_id cluster_id core_id siblings>``; siblings may be
ranges (``0-1``). The capabilities form has no free page counts (``free`` is None) and no PCI
devices.

Write: the same form, as libvirt writes it: the 4 KiB page count is (memory - huge page bytes)
/ 4096; ``cluster_id`` always, as libvirt 11 (KubeVirt's virt-launcher) writes it and its schema
requires it beside ``socket_id`` (libvirt 9.0's schema does not know it: docs/testing.md).

Offline CPUs: libvirt itself reports them with default ids, as if online. kvnuma writes an
offline CPU as a bare ``<cpu id='N'/>`` (what libvirt writes for a CPU whose topology it cannot
read) and reads a bare row as an offline CPU, so its own files round-trip.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from kvnuma.cpulist import MAX_CPU_ID
from kvnuma.errors import InputError
from kvnuma.model import Cell, Cpu, CpuSet, HostTopology, HugePagePool
from kvnuma.topology.checks import check_host
from kvnuma.xmldoc import parse_element

__all__ = ["BASE_PAGE_BYTES", "parse_capabilities", "scale", "write_capabilities"]

BASE_PAGE_BYTES = 4096
_POWERS = {"k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}


def scale(value: str, unit: str | None, where: str) -> int:
    """``value`` in ``unit`` as bytes, with libvirt's unit rules (``KiB``/``k`` = 1024, ``KB`` = 1000,
    ``b``/``bytes`` = 1; no unit = KiB)."""
    number = _whole(value, where)
    suffix = "KiB" if unit is None else unit
    if suffix.lower() in ("b", "byte", "bytes"):
        return number
    power = _POWERS.get(suffix[:1].lower())
    rest = suffix[1:]
    if power is None or rest.lower() not in ("", "ib", "b"):
        raise InputError(where, f"unknown unit {suffix!r}")
    base = 1000 if rest.lower() == "b" else 1024
    return int(number * base**power)


def _whole(text: str, where: str) -> int:
    if len(text.strip()) > 20:
        raise InputError(where, f"number {text.strip()[:24]}... is too long")
    try:
        number = int(text.strip())
    except ValueError:
        raise InputError(where, f"expected a whole number, got {text.strip()[:40]!r}") from None
    if number < 0:
        raise InputError(where, f"negative number {number}")
    return number


def parse_capabilities(text: str | bytes, *, source: str) -> HostTopology:
    """The host topology in a capabilities document; InputError names ``source`` and the problem."""
    root = parse_element(text, source=source)
    if root.tag != "capabilities":
        raise InputError(source, f"expected a <capabilities> document, got <{root.tag}>")
    cells_element = root.find("host/topology/cells")
    if cells_element is None:
        raise InputError(source, "no <host><topology><cells>: libvirt reported no NUMA topology")
    elements = cells_element.findall("cell")
    if len(elements) > MAX_CPU_ID + 1:
        raise InputError(source, f"{len(elements)} cells: more than the limit of {MAX_CPU_ID + 1} node ids")
    cells = tuple(_cell(element, source) for element in elements)
    if not cells:
        raise InputError(source, "<cells> holds no <cell>")
    ids = [cell.id for cell in cells]
    if len(set(ids)) != len(ids):
        raise InputError(source, f"duplicate cell ids in {ids}")
    host = HostTopology(cells=cells)
    check_host(
        host, lambda what, cell, cpu: f"{source}: cell {cell}" + ("" if cpu is None else f": cpu {cpu}")
    )
    return host


def _int(element: ET.Element, name: str, where: str) -> int:
    raw = element.get(name)
    if raw is None:
        raise InputError(where, f"<{element.tag}> has no {name} attribute")
    if len(raw) > 20:
        raise InputError(where, f"<{element.tag} {name}={raw[:24]!r}...> is too long")
    try:
        value = int(raw)
    except ValueError:
        raise InputError(where, f"<{element.tag} {name}={raw!r}> is not an integer") from None
    if value < 0:
        raise InputError(where, f"<{element.tag} {name}={raw!r}> is negative")
    return value


def _cell(element: ET.Element, source: str) -> Cell:
    cell_id = _int(element, "id", source)
    where = f"{source}: cell {cell_id}"
    memory = element.find("memory")
    memory_bytes = 0 if memory is None else scale(memory.text or "", memory.get("unit"), where)
    pools = []
    for pages in element.findall("pages"):
        size = scale(pages.get("size", ""), pages.get("unit"), f"{where}: pages size")
        if size == BASE_PAGE_BYTES:
            continue
        pools.append(HugePagePool(size, _whole(pages.text or "", f"{where}: pages count")))
    distances = tuple(
        (_int(sibling, "id", where), _int(sibling, "value", where))
        for sibling in element.findall("distances/sibling")
    )
    cpus = tuple(_cpu(cpu, where) for cpu in element.findall("cpus/cpu"))
    return Cell(cell_id, cpus, memory_bytes, tuple(pools), distances)


def _cpu(element: ET.Element, where: str) -> Cpu:
    cpu_id = _int(element, "id", where)
    itself = CpuSet(frozenset((cpu_id,)))
    if element.get("socket_id") is None and element.get("siblings") is None:
        return Cpu(id=cpu_id, siblings=itself, online=False)
    where = f"{where}: cpu {cpu_id}"
    ids = [0 if element.get(name) is None else _int(element, name, where) for name in _ID_ATTRIBUTES]
    raw_siblings = element.get("siblings")
    siblings = itself
    if raw_siblings is not None:
        siblings = CpuSet.parse(raw_siblings, source=f"{where}: siblings") | itself
    return Cpu(cpu_id, ids[0], ids[1], ids[2], ids[3], siblings, True)


_ID_ATTRIBUTES = ("socket_id", "die_id", "cluster_id", "core_id")


def write_capabilities(topology: HostTopology, *, arch: str = "x86_64") -> str:
    """The ``virsh capabilities`` form of ``topology`` (host part only, no guests)."""
    out = ["<capabilities>", "", "  <host>", "    <cpu>", f"      <arch>{escape(arch)}</arch>", "    </cpu>"]
    out += ["    <topology>", f"      <cells num='{len(topology.cells)}'>"]
    for cell in topology.cells:
        out.append(f"        <cell id='{cell.id}'>")
        out.append(f"          <memory unit={_amount_unit(cell.memory_bytes)}</memory>")
        huge_bytes = sum(pool.total_bytes for pool in cell.hugepages)
        base_pages = max(cell.memory_bytes - huge_bytes, 0) // BASE_PAGE_BYTES
        out.append(f"          <pages unit='KiB' size='{BASE_PAGE_BYTES // 1024}'>{base_pages}</pages>")
        for pool in cell.hugepages:
            out.append(f"          <pages {_size_unit(pool.page_size_bytes)}>{pool.total}</pages>")
        if cell.distances:
            out.append("          <distances>")
            out += [f"            <sibling id='{i}' value='{d}'/>" for i, d in cell.distances]
            out.append("          </distances>")
        if cell.cpus:
            out.append(f"          <cpus num='{len(cell.cpus)}'>")
            out += [f"            {_cpu_row(cpu)}" for cpu in cell.cpus]
            out.append("          </cpus>")
        out.append("        </cell>")
    out += ["      </cells>", "    </topology>", "  </host>", "", "</capabilities>", ""]
    return "\n".join(out)


def _amount_unit(amount: int) -> str:
    return f"'KiB'>{amount // 1024}" if amount % 1024 == 0 else f"'bytes'>{amount}"


def _size_unit(size: int) -> str:
    return f"unit='KiB' size='{size // 1024}'" if size % 1024 == 0 else f"unit='bytes' size='{size}'"


def _cpu_row(cpu: Cpu) -> str:
    if not cpu.online:
        return f"<cpu id='{cpu.id}'/>"
    cluster = f" cluster_id='{cpu.cluster_id}'"
    return (
        f"<cpu id='{cpu.id}' socket_id='{cpu.socket_id}' die_id='{cpu.die_id}'{cluster} "
        f"core_id='{cpu.core_id}' siblings='{cpu.thread_group.format()}'/>"
    )
