"""``kvnuma plan``: what kvnuma would do with a VMI on a host, readably.

    kvnuma plan [--vmi VMI.yaml] [--sysfs ROOT | --capabilities FILE | --libvirt URI]
                [--cpuset LIST] [--instancetype FILE]... [--preference FILE]...
                [--cluster-config FILE] [--nodes DIR] [--memory-split kubevirt|proportional]
                [--host-device NAME=DDDD:BB:SS.F|NAME=MDEV-UUID]... [--pci-sysfs ROOT]
                [-o table|json|yaml]

Defaults: this host (``/sys``), all its online CPUs as the cpuset, and an embedded example VMI
sized to fill that cpuset. It shows the host topology, the auto-NUMA decision the webhook would
take with a cluster made of this one host (autoNUMAEnablement on) or, with ``--nodes DIR`` (a
folder of Node objects, as ``kvnuma webhook --source file:DIR`` reads), with those nodes and the
feasible-node threshold (``--threshold feasible``: the smallest NUMA node among the nodes the VMI
can land on), the guest layout and the domain XML. A shortfall of free huge pages is shown as a
warning here (``render`` fails on it); where the source reports no free counts (libvirt
capabilities) the line says the free check could not be made there and whether the totals suffice.
VMI.yaml may be a VirtualMachine expanded with its instance type and preference. The CPU
hotplug section is KubeVirt's sizing (``kvnuma.hotplug.size``) with the cluster's
``liveUpdateConfiguration`` (``--cluster-config``; default ratio 4), and the guest layout
includes the hotplug slots only when ``--cluster-config`` is given (KubeVirt's VMI mutator).
"""

from __future__ import annotations

import copy
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import click
import yaml

from kvnuma.admission import AdmissionConfig, ClusterCapacity, Decision, NodeCapacity, decide
from kvnuma.admission.kubevirt_rules import create_admitter_causes
from kvnuma.cli.options import cpuset_option, host_options, load_host, output_option, vmi_option
from kvnuma.cli.output import DATA_FORMATS, emit
from kvnuma.cli.plan_pci import explain_pci, pci_options, pci_root_for, print_pci
from kvnuma.cli.plan_text import print_text
from kvnuma.cli.render import (
    chosen_quirks,
    cluster_config_option,
    kubevirt_quirk_options,
    read_vmi,
    split_option,
)
from kvnuma.cli.sources import load_cluster_config, vm_input_options
from kvnuma.errors import InputError, RuleError
from kvnuma.hotplug import size
from kvnuma.inputs import name_of
from kvnuma.model import CpuSet, HostTopology
from kvnuma.placement import GuestPlan, SplitMode, check_free_hugepages, plan_guest
from kvnuma.render import render_domain
from kvnuma.topology.jsonform import summary
from kvnuma.vmi import VmiSpec
from kvnuma.webhook.cache import ClusterCache
from kvnuma.webhook.file_source import load_folder

__all__ = ["SCHEMA_VERSION", "admission_decision", "example_vmi", "hugepage_lines", "plan"]

SCHEMA_VERSION = 1


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


def admission_decision(
    document: dict[str, Any], host: HostTopology, cluster: ClusterCache | None = None
) -> Decision:
    """The webhook's decision for ``document`` in a cluster made of ``host`` alone, or of the
    nodes of ``cluster`` (a feasible-node cache) when given."""
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
    threshold = cluster.capacity_for if cluster is not None else ClusterCapacity.of([node])
    return decide(review, threshold, AdmissionConfig(enabled=True))


def load_nodes(folder: Path) -> ClusterCache:
    """The Nodes of ``folder`` in a feasible-node cache (InputError when there are none)."""
    cache = ClusterCache(feasible=True)
    nodes, _kubevirts = load_folder(folder, cache)
    if not nodes:
        raise InputError(f"--nodes {folder}", "no Node objects in the folder's YAML/JSON files")
    return cache


@click.command()
@vmi_option(required=False)
@host_options()
@cpuset_option(required=False, default_help="all online CPUs")
@vm_input_options
@cluster_config_option
@click.option(
    "--nodes",
    "nodes_dir",
    type=click.Path(path_type=Path),
    help="A folder of Node YAML/JSON: decide with their feasible-node threshold instead of this host.",
)
@split_option
@kubevirt_quirk_options
@pci_options
@output_option("table", "json", "yaml")
def plan(
    *,
    vmi_path: Path | None,
    sysfs: Path | None,
    capabilities: Path | None,
    libvirt_uri: str | None,
    cpuset: str | None,
    instancetypes: tuple[Path, ...],
    preferences: tuple[Path, ...],
    cluster_config: Path | None,
    nodes_dir: Path | None,
    memory_split: SplitMode,
    kubevirt_quirks: tuple[str, ...],
    kubevirt_exact: bool,
    host_devices: tuple[str, ...],
    pci_sysfs: Path | None,
    output: str,
) -> None:
    """Show topology, auto-NUMA decision, guest layout and domain XML."""
    host = load_host(sysfs, capabilities, libvirt_uri)
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
        spec, document = read_vmi(vmi_path, instancetypes, preferences)
        vmi_name = name_of(vmi_path)
    config = load_cluster_config(cluster_config) if cluster_config is not None else None
    cluster = load_nodes(nodes_dir) if nodes_dir is not None else None
    decision_nodes = (
        "this host"
        if cluster is None
        else f"{cluster.node_count} nodes in {nodes_dir}, feasible-node threshold"
    )
    decision = admission_decision(document, host, cluster)
    without = None
    if spec.has_numa:  # what the webhook would do for the same VMI without spec.domain.cpu.numa
        bare = copy.deepcopy(document)
        bare.get("spec", {}).get("domain", {}).get("cpu", {}).pop("numa", None)
        without = admission_decision(bare, host, cluster)
    if decision.outcome.value == "mutated":
        spec = replace(spec, has_numa=True, numa_passthrough=True)
    causes = create_admitter_causes(spec, document)
    for cause in causes:  # said first: the engine may refuse the same VMI below
        click.echo(f"kvnuma plan: KubeVirt's virt-api would reject this VMI: {cause}", err=True)
    sizing = size(spec, config, host=host)
    if config is not None and sizing.origin != "none":  # the VMI mutator writes maxSockets
        spec = replace(spec, max_sockets=sizing.max_sockets)
    guest = plan_guest(
        spec,
        cpus,
        host,
        memory_split=memory_split,
        check_hugepages=False,
        quirks=chosen_quirks(kubevirt_quirks, kubevirt_exact),
    )
    pages = hugepage_lines(guest, host)
    xml = render_domain(guest)
    pci = (
        explain_pci(document, xml, host_devices, pci_root_for(pci_sysfs, sysfs), source=vmi_name)
        if host_devices
        else None
    )
    if pci is not None:
        xml = pci.xml
    if output in DATA_FORMATS:
        emit(
            {
                "schemaVersion": SCHEMA_VERSION,
                "vmi": vmi_name,
                "cpuset": cpus.format(),
                "host": summary(host),
                "decision": _decision_dict(decision),
                "decisionNodes": decision_nodes,
                "decisionWithoutNuma": None if without is None else _decision_dict(without),
                "kubevirtAdmission": {"admitted": not causes, "causes": causes},
                "plan": guest.to_dict(),
                "hugepageCheck": "ok" if pages == [ENOUGH] else "; ".join(pages),
                "hotplug": {
                    **sizing.as_dict(),
                    "clusterConfig": config is not None,
                    "planned": bool(guest.hotplug),
                },
                "domainXml": xml,
                **({"pci": pci.document} if pci is not None else {}),
            },
            output,
        )
        return
    print_text(
        host=host,
        cpus=cpus,
        vmi_name=vmi_name,
        decisions=(decision, without),
        decision_nodes=decision_nodes,
        admission_causes=causes,
        guest=guest,
        hugepages=pages,
        xml=xml,
        hotplug=(sizing, config),
    )
    if pci is not None:
        print_pci(pci)


ENOUGH = "enough free on every node"


def hugepage_lines(guest: GuestPlan, host: HostTopology) -> list[str]:
    """The engine's free huge page check (``check_free_hugepages``) per guest cell, in words:
    shortfalls as warnings, and the host nodes where it could only compare totals (the source
    reports no free counts) or nothing at all (no pools reported) named as such."""
    if not guest.cells or guest.page_size_bytes is None:
        what = "none requested" if guest.page_size_bytes is None else "no guest NUMA cells"
        return [f"{what}: not checked per node"]
    lines: list[str] = []
    enough: list[int] = []
    totals: list[int] = []
    unreported: list[int] = []
    for cell in guest.cells:
        host_cell = host.cell(cell.host_cell)
        size = cell.page_size_bytes
        pool = None if host_cell is None or size is None else host_cell.pool(size)
        free_unknown = pool is not None and pool.free is None
        try:
            check_free_hugepages((cell,), host)
        except RuleError as error:
            what = "free count not reported and the total does not suffice: " if free_unknown else ""
            lines.append(f"WARNING {what}{error.one_line()}")
            continue
        if host_cell is None or not host_cell.hugepages:
            unreported.append(cell.host_cell)
        else:
            (totals if free_unknown else enough).append(cell.host_cell)
    if totals:
        lines.append(
            f"free counts not reported on {_nodes(totals)}: the free check could not be made there; "
            "the totals suffice"
        )
    if unreported:
        lines.append(f"no huge page pools reported on {_nodes(unreported)}: not checked")
    if not lines:
        return [ENOUGH]
    if enough:
        lines.append(f"enough free on {_nodes(enough)}")
    return lines


def _nodes(ids: list[int]) -> str:
    return ("node " if len(ids) == 1 else "nodes ") + ", ".join(map(str, ids))


def _decision_dict(decision: Decision) -> dict[str, Any]:
    return {"outcome": decision.outcome.value, "reason": decision.reason, "warnings": list(decision.warnings)}
