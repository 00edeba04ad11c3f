"""``kvnuma discover``: show a host's NUMA topology.

Sources (one of): ``--sysfs ROOT`` (default ``/sys``), ``--capabilities FILE`` (a saved
``virsh capabilities``), ``--libvirt URI`` (a running libvirt). Output: ``table`` for people,
``json``/``yaml`` in the documented schema (docs/discover.md), ``capabilities`` in libvirt's form.

Modules that only one source or output needs are imported when used: start-up time is most of
what ``kvnuma discover -o json`` costs.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from kvnuma.cli.output import console, emit, write_text
from kvnuma.model import Cell, HostTopology
from kvnuma.model.topology import NO_NUMA_NODE
from kvnuma.topology.jsonform import to_json
from kvnuma.topology.sysfs import read_sysfs

if TYPE_CHECKING:
    from pathlib import Path

    import click

__all__ = ["OUTPUTS", "SOURCES", "human_bytes", "load_topology", "plain_options", "show"]  # + discover

OUTPUTS = ("table", "json", "yaml", "capabilities")
SOURCES = {"--sysfs": "sysfs", "--capabilities": "capabilities", "--libvirt": "libvirt_uri"}
"""Source option -> parameter name (at most one source is given)."""
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def load_topology(
    sysfs: str | Path | None, capabilities: str | Path | None, libvirt_uri: str | None
) -> HostTopology:
    """The topology from the one source given (``/sys`` when none is)."""
    sources = {"--sysfs": sysfs, "--capabilities": capabilities, "--libvirt": libvirt_uri}
    given = [name for name, value in sources.items() if value is not None]
    if len(given) > 1:
        import click

        raise click.UsageError(f"give at most one source, not {' and '.join(given)}")
    if capabilities is not None:
        from pathlib import Path

        from kvnuma.inputs import read_text  # imports PyYAML: only when needed
        from kvnuma.topology.capabilities import parse_capabilities

        return parse_capabilities(read_text(Path(capabilities)), source=str(capabilities))
    if libvirt_uri is not None:
        from kvnuma.topology.libvirt_host import read_libvirt

        return read_libvirt(libvirt_uri)
    return read_sysfs("/sys" if sysfs is None else sysfs)


def show(
    *,
    sysfs: str | Path | None = None,
    capabilities: str | Path | None = None,
    libvirt_uri: str | None = None,
    output: str = "table",
) -> None:
    """``kvnuma discover``: the topology from the source, printed as ``output``."""
    topology = load_topology(sysfs, capabilities, libvirt_uri)
    if output == "capabilities":
        from kvnuma.topology.capabilities import write_capabilities

        write_text(write_capabilities(topology, arch=os.uname().machine or "x86_64"))
    elif output == "table":
        print_table(topology)
    else:
        emit(to_json(topology), output)


def plain_options(args: list[str]) -> dict[str, str] | None:
    """``show``'s arguments from ``kvnuma discover ARGS`` when ARGS are plain: each option once,
    in one of click's spellings (``--sysfs DIR``, ``--sysfs=DIR``, ``-o json``, ``-ojson``,
    ``--output=json``), a valid output, at most one source. Else None, and click parses ARGS
    (help, usage errors and their wording stay click's)."""
    options: dict[str, str] = {}
    rest = iter(args)
    for arg in rest:
        if arg.startswith("-o") and not arg.startswith("--"):
            name, value = "output", arg[2:] or next(rest, "")
        else:
            flag, equals, value = arg.partition("=")
            name = "output" if flag == "--output" else SOURCES.get(flag, "")
            if not name:
                return None
            if not equals:
                value = next(rest, "")
        if name in options or not value or value.startswith("-"):
            return None
        options[name] = value
    if options.setdefault("output", "table") not in OUTPUTS or len(options) > 2:
        return None
    return options


def _command() -> click.Command:
    from pathlib import Path

    import click

    @click.command(name="discover")
    @click.option("--sysfs", type=click.Path(path_type=Path), help="Read a sysfs tree (default: /sys).")
    @click.option(
        "--capabilities", type=click.Path(path_type=Path), help="Read a saved `virsh capabilities` XML."
    )
    @click.option("--libvirt", "libvirt_uri", metavar="URI", help="Ask a running libvirt (qemu:///system).")
    @click.option("-o", "--output", type=click.Choice(OUTPUTS), default="table", show_default=True)
    def discover(sysfs: Path | None, capabilities: Path | None, libvirt_uri: str | None, output: str) -> None:
        """Show this host's (or a given) NUMA topology."""
        show(sysfs=sysfs, capabilities=capabilities, libvirt_uri=libvirt_uri, output=output)

    return discover


def __getattr__(name: str) -> click.Command:
    """``discover``, the click command, is built (and click imported) on first use."""
    from kvnuma.cli import build_once

    return build_once(globals(), "discover", name, _command)


def human_bytes(amount: int) -> str:
    """``5328633856`` -> ``4.96 GiB``; exact multiples print without decimals (``128 GiB``)."""
    value = float(amount)
    unit = 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    text = f"{value:.0f}" if value == int(value) else f"{value:.2f}"
    return f"{text} {_UNITS[unit]}"


def _cores_threads(cell: Cell) -> str:
    online = cell.online_cpus
    cores = len({cpu.core_key for cpu in online})
    return f"{cores}/{len(online)}" if online else "-"


def _cpus(cell: Cell) -> str:
    if not cell.cpus:
        return "(memory only)"
    text = cell.online_cpu_ids.format() or "-"
    offline = cell.cpu_ids - cell.online_cpu_ids
    return f"{text} (offline {offline.format()})" if offline else text


def _hugepages(cell: Cell) -> str:
    parts = []
    for pool in cell.hugepages:
        free = "" if pool.free is None else f" ({pool.free} free)"
        parts.append(f"{human_bytes(pool.page_size_bytes)}: {pool.total}{free}")
    return "\n".join(parts) or "-"


def print_table(topology: HostTopology) -> None:
    from rich.table import Table  # only the table needs rich (start-up time of -o json)

    out = console()
    table = Table(title="NUMA cells", title_justify="left")
    for header in ("cell", "CPUs", "cores/threads", "memory", "huge pages", "distances"):
        table.add_column(header, overflow="fold")
    for cell in topology.cells:
        distances = " ".join(f"{other}:{distance}" for other, distance in cell.distances) or "-"
        memory = human_bytes(cell.memory_bytes)
        table.add_row(str(cell.id), _cpus(cell), _cores_threads(cell), memory, _hugepages(cell), distances)
    out.print(table)
    offline = len(topology.cpus) - topology.cpu_count
    offline_note = f" ({offline} offline)" if offline else ""
    smt = "on" if topology.smt_enabled else "off"
    largest = human_bytes(topology.max_single_numa_memory_bytes)
    smallest = human_bytes(topology.min_single_numa_memory_bytes)
    out.print(f"cells: {len(topology.cells)}   online CPUs: {topology.cpu_count}{offline_note}   SMT: {smt}")
    out.print(f"largest cell: {topology.max_single_numa_cpus} CPUs, {largest} (VEP 135 max-single-numa)")
    out.print(f"smallest cell with CPUs: {topology.min_single_numa_cpus} CPUs, {smallest}")
    for size, amount in topology.max_single_numa_hugepages_bytes().items():
        out.print(f"largest per-cell pool of {human_bytes(size)} pages: {human_bytes(amount)}")
    placed = [device for device in topology.pci_devices if device.numa_node != NO_NUMA_NODE]
    if not placed:
        out.print(f"PCI devices: {len(topology.pci_devices)}, none with a NUMA node")
        return
    devices = Table(title="PCI devices with a NUMA node", title_justify="left")
    for header in ("address", "node", "class", "vendor:device"):
        devices.add_column(header)
    for device in placed:
        ids = f"{device.vendor}:{device.device}"
        devices.add_row(device.address, str(device.numa_node), device.pci_class, ids)
    out.print(devices)
