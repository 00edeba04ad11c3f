"""``kvnuma discover``: show a host's NUMA topology.

Sources (one of): ``--sysfs ROOT`` (default ``/sys``), ``--capabilities FILE`` (a saved
``virsh capabilities``), ``--libvirt URI`` (a running libvirt). Output: ``table`` for people,
``json``/``yaml`` in the documented schema (docs/discover.md), ``capabilities`` in libvirt's form,
``nrt`` the NodeResourceTopology object ``kvnuma agent --publish-nrt`` would publish (YAML): a
preview without ``available`` (and one stderr line saying so) unless ``--podresources-socket``
names the kubelet's socket, and without the owner reference (the Node's uid is the API's).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from rich.table import Table

from kvnuma.cli.options import host_options, load_host, output_option
from kvnuma.cli.output import console, count, emit, human_bytes, write_text
from kvnuma.model import Cell, HostTopology
from kvnuma.model.topology import NO_NUMA_NODE
from kvnuma.topology.jsonform import to_json

__all__ = ["OUTPUTS", "discover", "print_table", "show"]

OUTPUTS = ("table", "json", "yaml", "capabilities", "nrt")
PODRESOURCES_TIMEOUT = 10.0


@click.command()
@host_options()
@output_option(*OUTPUTS)
@click.option(
    "--node-name",
    envvar="NODE_NAME",
    default=None,
    help="-o nrt: the object's name [env NODE_NAME; default: this host's name].",
)
@click.option(
    "--podresources-socket",
    default=None,
    help="-o nrt: read the kubelet's podresources socket for allocatable and available "
    "(/var/lib/kubelet/pod-resources/kubelet.sock).",
)
@click.option(
    "--kubelet-config",
    type=click.Path(path_type=Path),
    default=None,
    help="-o nrt: the kubelet's KubeletConfiguration file, for the topology-manager attributes.",
)
def discover(  # click passes every option by keyword
    *,
    sysfs: Path | None,
    capabilities: Path | None,
    libvirt_uri: str | None,
    output: str,
    node_name: str | None,
    podresources_socket: str | None,
    kubelet_config: Path | None,
) -> None:
    """Show this host's (or a given) NUMA topology."""
    topology = load_host(sysfs, capabilities, libvirt_uri)
    if output == "nrt":
        show_nrt(topology, node_name or os.uname().nodename, podresources_socket, kubelet_config)
    else:
        show(topology, output)


def show_nrt(topology: HostTopology, node_name: str, socket: str | None, kubelet_config: Path | None) -> None:
    """The NodeResourceTopology preview on stdout (YAML); what it lacks, one line on stderr."""
    from kvnuma.cli.output import dumps_yaml
    from kvnuma.topology.nrt import TopologyManager, build_nrt

    kubelet = None
    if socket is not None:
        from kvnuma.agent.podresources import read_kubelet_resources

        kubelet = read_kubelet_resources(socket, timeout=PODRESOURCES_TIMEOUT)
    manager = TopologyManager()
    if kubelet_config is not None:
        from kvnuma.agent.kubelet_config import read_topology_manager

        manager, note = read_topology_manager(kubelet_config)
        if manager.policy is None:
            print(f"kvnuma discover: {note}", file=sys.stderr)
    write_text(
        dumps_yaml(build_nrt(topology, node_name=node_name, node_uid=None, kubelet=kubelet, manager=manager))
    )
    if kubelet is None:
        print(
            "kvnuma discover: a preview: no 'available' (and allocatable = capacity) without the kubelet's "
            "view; give --podresources-socket (the API server refuses an NRT object without 'available')",
            file=sys.stderr,
        )


def show(topology: HostTopology, output: str) -> None:
    """The topology printed as ``output``."""
    if output == "capabilities":
        from kvnuma.topology.capabilities import write_capabilities

        write_text(write_capabilities(topology, arch=os.uname().machine or "x86_64"))
    elif output == "table":
        print_table(topology)
    else:
        emit(to_json(topology), output)


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
    largest_cpus, smallest_cpus = (
        count(n, "CPU") for n in (topology.max_single_numa_cpus, topology.min_single_numa_cpus)
    )
    out.print(f"largest cell: {largest_cpus}, {largest} (VEP 135 max-single-numa)")
    out.print(f"smallest cell with CPUs: {smallest_cpus}, {smallest}")
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
