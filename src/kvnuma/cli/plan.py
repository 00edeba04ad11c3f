"""``kvnuma plan``: what kvnuma would do with a VMI on a host, readably.

    kvnuma plan [VMI.yaml] [--capabilities FILE | --sysfs ROOT] [--cpuset LIST]
                [--memory-split kubevirt|proportional] [-o text|json]

Defaults: this host (``/sys``), all its online CPUs as the cpuset, and an embedded example VMI
sized to fill that cpuset. It shows the host topology, the auto-NUMA decision the webhook would
take with a cluster made of this one host (autoNUMAEnablement on), the guest layout and the
domain XML. A shortfall of free huge pages is shown as a warning here (``render`` fails on it).
"""

from __future__ import annotations

import copy
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import click
import yaml
from rich.table import Table

from kvnuma.admission import AdmissionConfig, ClusterCapacity, Decision, NodeCapacity, decide
from kvnuma.cli.discover import human_bytes
from kvnuma.cli.output import console, emit, write_text
from kvnuma.cli.render import capabilities_option, load_host, read_vmi, split_option, sysfs_option
from kvnuma.errors import RuleError
from kvnuma.model import CpuSet, HostTopology, format_bytes
from kvnuma.placement import GuestPlan, SplitMode, check_free_hugepages, plan_guest
from kvnuma.render import render_domain
from kvnuma.vmi import VmiSpec

__all__ = ["admission_decision", "example_vmi", "plan"]


def example_vmi(host: HostTopology, cpuset: CpuSet) -> dict[str, Any]:
    """The embedded example VMI, with cores and threads set so its vCPUs fill ``cpuset``."""
    text = resources.files("kvnuma").joinpath("data/example-vmi.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    whole_pairs = all(
        len(cpu.thread_group) == 2 and cpu.thread_group.ids <= cpuset.ids
        for cpu in host.cpus
        if cpu.id in cpuset
    )
    threads = 2 if host.smt_enabled and whole_pairs and len(cpuset) >= 2 else 1
    cpu = document["spec"]["domain"]["cpu"]
    cpu["cores"] = max(1, len(cpuset) // threads)
    if threads == 2:
        cpu["threads"] = 2
    return document


def admission_decision(document: dict[str, Any], host: HostTopology) -> Decision:
    """The webhook's decision for ``document`` in a cluster made of ``host`` alone."""
    node = NodeCapacity(
        cpus=host.max_single_numa_cpus or None,
        memory_bytes=host.max_single_numa_memory_bytes or None,
        hugepages=dict(host.max_single_numa_hugepages_bytes()),
    )
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "kvnuma-plan",
            "kind": {"group": "kubevirt.io", "version": "v1", "kind": "VirtualMachineInstance"},
            "operation": "CREATE",
            "object": copy.deepcopy(document),
        },
    }
    return decide(review, ClusterCapacity.of([node]), AdmissionConfig(enabled=True))


@click.command()
@click.argument("vmi_path", required=False, type=click.Path(path_type=Path), metavar="[VMI.yaml]")
@capabilities_option
@sysfs_option
@click.option("--cpuset", metavar="LIST", help="The pod's dedicated CPUs (default: all online CPUs).")
@split_option
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def plan(
    *,
    vmi_path: Path | None,
    capabilities: Path | None,
    sysfs: Path | None,
    cpuset: str | None,
    memory_split: SplitMode,
    output: str,
) -> None:
    """Show topology, auto-NUMA decision, guest layout and domain XML."""
    host = load_host(sysfs, capabilities, default_sysfs=True)
    cpus = (
        CpuSet.parse(cpuset, source="--cpuset")
        if cpuset is not None
        else CpuSet.of(cpu.id for cpu in host.cpus if cpu.online)
    )
    if vmi_path is None:
        document = example_vmi(host, cpus)
        spec = VmiSpec.from_object(document, source="embedded example VMI")
        vmi_name = "embedded example VMI (sized for this cpuset)"
    else:
        spec, document = read_vmi(vmi_path)
        vmi_name = str(vmi_path)
    decision = admission_decision(document, host)
    without = None
    if spec.has_numa:  # what the webhook would do for the same VMI without spec.domain.cpu.numa
        bare = copy.deepcopy(document)
        bare.get("spec", {}).get("domain", {}).get("cpu", {}).pop("numa", None)
        without = admission_decision(bare, host)
    if decision.outcome.value == "mutated":
        spec = replace(spec, has_numa=True, numa_passthrough=True)
    guest = plan_guest(spec, cpus, host, memory_split=memory_split, check_hugepages=False)
    shortfall = ""
    try:
        check_free_hugepages(guest.cells, host)
    except RuleError as error:
        shortfall = error.one_line()
    xml = render_domain(guest)
    if output == "json":
        emit(
            {
                "vmi": vmi_name,
                "cpuset": cpus.format(),
                "host": _host_summary(host),
                "decision": _decision_dict(decision),
                "decision_without_numa": None if without is None else _decision_dict(without),
                "plan": guest.to_dict(),
                "hugepage_check": shortfall or "ok",
                "domain_xml": xml,
            },
            "json",
        )
        return
    _print_text(
        host=host,
        cpus=cpus,
        vmi_name=vmi_name,
        decisions=(decision, without),
        guest=guest,
        shortfall=shortfall,
        xml=xml,
    )


def _host_summary(host: HostTopology) -> dict[str, Any]:
    return {
        "cells": len(host.cells),
        "cpus": host.cpu_count,
        "smt": host.smt_enabled,
        "max_single_numa_cpus": host.max_single_numa_cpus,
        "max_single_numa_memory_bytes": host.max_single_numa_memory_bytes,
        "max_single_numa_hugepages_bytes": {
            format_bytes(k): v for k, v in host.max_single_numa_hugepages_bytes().items()
        },
    }


def _pools(host: HostTopology, cell_id: int) -> str:
    cell = host.cell(cell_id)
    if cell is None:
        return ""
    parts = []
    for pool in cell.hugepages:
        if pool.page_size_bytes <= 4096:
            continue
        free = "?" if pool.free is None else str(pool.free)
        parts.append(f"{format_bytes(pool.page_size_bytes)}: {free}/{pool.total}")
    return ", ".join(parts) or "-"


def _decision_dict(decision: Decision) -> dict[str, Any]:
    return {"outcome": decision.outcome.value, "reason": decision.reason, "warnings": list(decision.warnings)}


def _print_text(
    *,
    host: HostTopology,
    cpus: CpuSet,
    vmi_name: str,
    decisions: tuple[Decision, Decision | None],
    guest: GuestPlan,
    shortfall: str,
    xml: str,
) -> None:
    decision, without = decisions
    out = console()
    out.rule("Host topology")
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
        f"{len(host.cells)} cells, {host.cpu_count} CPUs, SMT {'on' if host.smt_enabled else 'off'}; "
        f"max-single-numa: {host.max_single_numa_cpus} CPUs, "
        f"{human_bytes(host.max_single_numa_memory_bytes)}",
        markup=False,
    )
    out.rule("Auto-NUMA decision (webhook, autoNUMAEnablement on, cluster = this host)")
    out.print(
        f"VMI: {vmi_name}: {guest.enabled_vcpus} vCPUs, {format_bytes(guest.memory_bytes)}", markup=False
    )
    out.print(f"outcome: {decision.outcome.value} - {decision.reason}", markup=False)
    for warning in decision.warnings:
        out.print(f"warning: {warning}", markup=False)
    if without is not None:
        out.print(f"without spec.domain.cpu.numa: {without.outcome.value} - {without.reason}", markup=False)
    out.rule("Guest layout")
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
        cells = Table("guest cell", "host node", "vCPUs", "memory", "pages")
        for guest_cell in guest.cells:
            size = guest_cell.page_size_bytes
            cells.add_row(
                str(guest_cell.id),
                str(guest_cell.host_cell),
                ",".join(map(str, guest_cell.vcpus)),
                human_bytes(guest_cell.memory_bytes),
                f"{guest_cell.memory_bytes // size} x {format_bytes(size)}",
            )
        out.print(cells)
    else:
        out.print("no guest NUMA cells (no guestMappingPassthrough)")
    out.print(
        f"topology {guest.sockets} sockets x {guest.cores} cores x {guest.threads} threads; "
        f"emulator: {guest.emulator_cpus.format() or 'not isolated'}; "
        f"IOThreads: {', '.join(f'{i}->{c}' for i, c in guest.iothread_pins) or 'none'}; "
        f"memory split: {guest.memory_split}",
        markup=False,
    )
    pages_line = f"WARNING {shortfall}" if shortfall else "enough free on every node"
    out.print(f"huge pages: {pages_line}", markup=False)
    out.rule("Domain XML")
    write_text(xml)
