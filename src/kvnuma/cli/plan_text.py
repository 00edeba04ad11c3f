"""The text form of ``kvnuma plan``: host topology, auto-NUMA decision, guest layout, CPU
hotplug sizing and the domain XML, as rich tables and plain lines."""

from __future__ import annotations

import re

from rich.console import Console
from rich.table import Table

from kvnuma.admission import Decision
from kvnuma.cli.output import console, count, heading, human_bytes, write_text
from kvnuma.hotplug import HotplugSizing, LiveUpdateConfig
from kvnuma.model import CpuSet, HostTopology
from kvnuma.placement import GuestPlan

__all__ = ["hotplug_lines", "print_layout", "print_text", "readable"]


def print_text(
    *,
    host: HostTopology,
    cpus: CpuSet,
    vmi_name: str,
    decisions: tuple[Decision, Decision | None],
    decision_nodes: str = "this host",
    admission_causes: list[str],
    guest: GuestPlan,
    hugepages: list[str],
    xml: str,
    hotplug: tuple[HotplugSizing, LiveUpdateConfig | None],
) -> None:
    decision, without = decisions
    out = console()
    heading(out, "Host topology")
    table = Table("cell", "CPUs", "in cpuset", "memory", "huge pages free/total")
    for cell in host.cells:
        table.add_row(
            str(cell.id),
            cell.online_cpu_ids.format() or "-",
            (cell.online_cpu_ids & cpus).format() or "-",
            human_bytes(cell.memory_bytes),
            _pools(host, cell.id),
        )
    out.print(table)
    out.print(
        f"{count(len(host.cells), 'cell')}, {count(host.cpu_count, 'CPU')}, "
        f"SMT {'on' if host.smt_enabled else 'off'}; "
        f"max-single-numa: {count(host.max_single_numa_cpus, 'CPU')}, "
        f"{human_bytes(host.max_single_numa_memory_bytes)}",
        markup=False,
    )
    if decision_nodes == "this host":
        heading(out, "Auto-NUMA decision (webhook, autoNUMAEnablement on, cluster = this host)")
    else:
        heading(out, "Auto-NUMA decision (webhook, autoNUMAEnablement on, cluster = --nodes)")
        out.print(f"cluster: {decision_nodes}", markup=False)
    out.print(
        f"VMI: {vmi_name}: {count(guest.enabled_vcpus, 'vCPU')}, {human_bytes(guest.memory_bytes)}",
        markup=False,
    )
    out.print(f"outcome: {decision.outcome.value} - {readable(decision.reason)}", markup=False)
    for warning in decision.warnings:
        out.print(f"warning: {readable(warning)}", markup=False)
    if without is not None:
        out.print(
            f"without spec.domain.cpu.numa: {without.outcome.value} - {readable(without.reason)}",
            markup=False,
        )
    heading(out, "KubeVirt admission (virt-api's VMI create admitter)")
    if admission_causes:
        out.print(f"rejected: {count(len(admission_causes), 'cause')}", markup=False)
        for cause in admission_causes:
            out.print(f"  - {cause}", markup=False)
    else:
        out.print("admitted: the CPU, NUMA, realtime, huge page and socket rules pass", markup=False)
    heading(out, "Guest layout")
    print_layout(out, guest)
    for line in hugepages:
        out.print(f"huge pages: {line}", markup=False)
    heading(out, "CPU hotplug (KubeVirt's VMI mutator)")
    for line in hotplug_lines(*hotplug, planned=bool(guest.hotplug)):
        out.print(line, markup=False)
    heading(out, "Domain XML")
    write_text(xml)


_QUANTITY = re.compile(r"(?<![\w.-])(\d+)(Ki|Mi|Gi|Ti|Pi)\b")
_SUFFIX_BITS = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50}


def readable(text: str) -> str:
    """The webhook's words with its Kubernetes quantities (``7038712Ki``) in the tables' units
    (``6.71 GiB``), so one output writes sizes one way; resource names (``hugepages-2Mi``) stay."""
    return _QUANTITY.sub(lambda m: human_bytes(int(m[1]) << _SUFFIX_BITS[m[2]]), text)


def print_layout(out: Console, guest: GuestPlan) -> None:
    """The guest layout: vCPU pins, guest cells, topology, emulator, IOThreads, memory split."""
    cell_of_vcpu = {v: cell.id for cell in guest.cells for v in cell.vcpus}
    layout = Table("vCPU", "host CPU", "host cell", "guest cell", "realtime")
    for pin in guest.vcpu_pins:
        layout.add_row(
            str(pin.vcpu),
            str(pin.host_cpu),
            str(pin.host_cell),
            str(cell_of_vcpu.get(pin.vcpu, "-")),
            "fifo:1" if pin.vcpu in guest.realtime_vcpus else "",
        )
    out.print(layout)
    if guest.cells:
        cells = Table("guest cell", "host node", "vCPUs", "memory", "pages", "distances")
        for guest_cell in guest.cells:
            size = guest_cell.page_size_bytes
            cells.add_row(
                str(guest_cell.id),
                str(guest_cell.host_cell),
                ",".join(map(str, guest_cell.vcpus)),
                human_bytes(guest_cell.memory_bytes),
                "default memory"
                if size is None
                else f"{guest_cell.memory_bytes // size} x {human_bytes(size)}",
                " ".join(f"{other}:{value}" for other, value in guest_cell.distances) or "-",
            )
        out.print(cells)
    else:
        out.print("no guest NUMA cells (no guestMappingPassthrough, no kvnuma.io/guest-numa)")
    if guest.iothreads:
        why = ("why",) if guest.iothread_cells else ()
        io = Table("IOThread", "kind", "disks", "host CPUs", "guest cell", *why)
        for thread in guest.iothreads:
            io.add_row(
                str(thread.id),
                thread.kind,
                ",".join(thread.disks) or "-",
                thread.host_cpus.format() or "not pinned",
                "-" if thread.guest_cell is None else str(thread.guest_cell),
                *((thread.reason,) if why else ()),
            )
        out.print(io)
    out.print(
        f"topology {count(guest.sockets, 'socket')} x {count(guest.cores, 'core')} x "
        f"{count(guest.threads, 'thread')}; "
        f"emulator: {guest.emulator_cpus.format() or 'not isolated'}; "
        f"IOThreads: {_iothreads_summary(guest)}; "
        f"memory split: {guest.memory_split}",
        markup=False,
    )
    if guest.cells:
        nodes = ",".join(map(str, guest.memory_nodeset))
        out.print(
            f"memory policy: {guest.memory_policy} (<numatune> memory nodeset {nodes}, one memnode per cell);"
            f" cells from {guest.cells_from}",
            markup=False,
        )
    for note in guest.numa_notes:
        out.print(f"guest NUMA: {note}", markup=False)


def _iothreads_summary(guest: GuestPlan) -> str:
    if not guest.iothreads:
        return "none"
    policy = guest.iothread_policy or "unset"
    placement = ", per cell" if guest.iothread_cells else ""
    return f"{guest.iothread_count} (ioThreadsPolicy {policy}{placement})"


def hotplug_lines(sizing: HotplugSizing, config: LiveUpdateConfig | None, *, planned: bool) -> list[str]:
    """The hotplug sizing, readably: topology, maxSockets and where it came from, warnings."""
    knobs = (
        "no --cluster-config: KubeVirt's defaults (maxHotplugRatio 4)"
        if config is None
        else f"cluster: maxHotplugRatio {config.max_hotplug_ratio}, "
        f"maxCpuSockets {config.max_cpu_sockets or 'unset'}, "
        f"rollout {'LiveUpdate' if config.live_update else 'Stage'}"
    )
    state = (
        f"on, {count(sizing.spare_vcpus, 'spare vCPU')}"
        if sizing.hotplug_enabled
        else "off (maxSockets = sockets)"
    )
    lines = [
        knobs,
        f"{count(sizing.sockets, 'socket')} x {count(sizing.cores, 'core')} x "
        f"{count(sizing.threads, 'thread')} = {count(sizing.vcpus, 'vCPU')}; "
        f"maxSockets {sizing.max_sockets} ({sizing.origin}) -> up to {count(sizing.max_vcpus, 'vCPU')}",
        f"hotplug: {state}",
    ]
    if planned:
        lines.append("guest layout: the hotplug slots are planned (<vcpus>, <topology sockets=maxSockets>)")
    elif sizing.hotplug_enabled and sizing.origin != "spec":
        lines.append(
            "guest layout: planned without the mutator's maxSockets (give --cluster-config to apply it)"
        )
    lines += [f"WARNING {warning.one_line()}" for warning in sizing.warnings]
    return lines


def _pools(host: HostTopology, cell_id: int) -> str:
    cell = host.cell(cell_id)
    if cell is None:
        return ""
    parts = []
    for pool in cell.hugepages:
        if pool.page_size_bytes <= 4096:
            continue
        free = "?" if pool.free is None else str(pool.free)
        parts.append(f"{human_bytes(pool.page_size_bytes)}: {free}/{pool.total}")
    return ", ".join(parts) or "-"
