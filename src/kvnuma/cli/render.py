"""``kvnuma render``: libvirt domain XML for a VMI's guest NUMA layout on a given host and cpuset.

    kvnuma render --vmi VMI.yaml (--capabilities caps.xml | --sysfs ROOT) --cpuset LIST
                  [--instancetype FILE]... [--preference FILE]... [--cluster-config FILE]
                  [--domain base.xml] [--memory-split kubevirt|proportional] [-o xml|json]
                  [--kubevirt FILE | --feature-gate NAME]... [--pci-sysfs ROOT] [--pci-strict]

``--vmi`` is a VMI, or a VirtualMachine expanded with its instance type and preference.
Without ``--domain`` it prints a complete minimal domain; with it, the base domain with only
the engine's parts replaced. With the ``GPUDeviceNUMA`` feature gate the PCI NUMA step then
puts the domain's PCI hostdevs on their guest cells (host facts from ``--pci-sysfs`` or
``--sysfs``); devices it leaves in place are listed on stderr, one line each.
Bad input or an unplaceable VMI: one line on stderr, exit 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from kvnuma.cli.output import emit, write_text
from kvnuma.cli.sources import load_feature_gates, load_vmi, vm_input_options
from kvnuma.errors import InputError
from kvnuma.inputs import read_text
from kvnuma.model import CpuSet, HostTopology
from kvnuma.pci.host_facts import HostPciFacts
from kvnuma.pci.sysfs import read_host_pci
from kvnuma.placement import SPLIT_MODES, GuestPlan, SplitMode, plan_guest
from kvnuma.placement.pci_step import PciStep, gate_enabled, place_domain_devices
from kvnuma.render import merge_into, render_domain
from kvnuma.vmi import VmiSpec

__all__ = [
    "capabilities_option",
    "cluster_config_option",
    "load_host",
    "pci_step",
    "read_vmi",
    "render",
    "render_output",
    "split_option",
    "sysfs_option",
]


def read_vmi(
    path: Path,
    instancetypes: tuple[Path, ...] = (),
    preferences: tuple[Path, ...] = (),
    cluster_config: Path | None = None,
) -> tuple[VmiSpec, dict[str, Any]]:
    """The VMI in ``path`` (a VMI, or a VirtualMachine expanded with its instance type and
    preference, with the hotplug defaults of ``cluster_config`` when given), typed and raw."""
    document = load_vmi(
        path, instancetype=instancetypes, preference=preferences, cluster_config=cluster_config
    )
    return VmiSpec.from_object(document, source=str(path)), document


def load_host(sysfs: Path | None, capabilities: Path | None, *, default_sysfs: bool) -> HostTopology:
    if sysfs is not None and capabilities is not None:
        raise click.UsageError("give --capabilities or --sysfs, not both")
    if capabilities is not None:
        from kvnuma.topology.capabilities import parse_capabilities

        return parse_capabilities(read_text(capabilities), source=str(capabilities))
    if sysfs is None and not default_sysfs:
        raise click.UsageError("give the host: --capabilities FILE or --sysfs ROOT")
    from kvnuma.topology.sysfs import read_sysfs

    return read_sysfs(sysfs if sysfs is not None else Path("/sys"))


sysfs_option = click.option(
    "--sysfs", type=click.Path(path_type=Path), help="Read the host from a sysfs tree."
)
capabilities_option = click.option(
    "--capabilities", type=click.Path(path_type=Path), help="Read the host from `virsh capabilities` XML."
)
cluster_config_option = click.option(
    "--cluster-config",
    type=click.Path(path_type=Path),
    help="KubeVirt or HyperConverged CR: apply its CPU hotplug defaults (liveUpdateConfiguration).",
)
split_option = click.option(
    "--memory-split",
    type=click.Choice(SPLIT_MODES),
    default="kubevirt",
    show_default=True,
    help="kubevirt: equal shares (KubeVirt's formula); proportional: by each cell's vCPUs.",
)


def render_output(plan: GuestPlan, base: Path | None) -> str:
    if base is None:
        return render_domain(plan)
    return merge_into(read_text(base), plan, source=str(base))


def pci_step(xml: str, gates: frozenset[str], pci_root: Path | None, *, strict: bool) -> PciStep:
    """The GPUDeviceNUMA step on ``xml`` when the gate is on (reading host PCI facts under
    ``pci_root`` only when there are devices to place)."""
    if not gate_enabled(gates):
        return PciStep(xml, None)

    def read_facts(addresses: Sequence[str]) -> HostPciFacts:
        if pci_root is None:
            raise InputError(
                "--pci-sysfs",
                "GPUDeviceNUMA needs the host's PCI devices: give --pci-sysfs ROOT or --sysfs ROOT",
            )
        return read_host_pci(pci_root, addresses)

    return place_domain_devices(xml, read_facts, strict=strict)


@click.command()
@click.option(
    "--vmi",
    "vmi_path",
    required=True,
    type=click.Path(path_type=Path),
    help="The VMI, or a VirtualMachine (YAML/JSON) with --instancetype/--preference.",
)
@vm_input_options
@cluster_config_option
@click.option("--sysfs", type=click.Path(path_type=Path), help="Read the host from a sysfs tree.")
@click.option(
    "--capabilities", type=click.Path(path_type=Path), help="Read the host from `virsh capabilities`."
)
@click.option("--cpuset", required=True, metavar="LIST", help="The pod's dedicated CPUs, e.g. 2-5,10-12.")
@click.option("--domain", "base", type=click.Path(path_type=Path), help="Merge into this base domain XML.")
@split_option
@click.option("--no-hugepage-check", is_flag=True, help="Do not check free huge pages per host node.")
@click.option(
    "--kubevirt",
    "kubevirt_cr",
    type=click.Path(path_type=Path),
    help="KubeVirt CR: its developerConfiguration.featureGates (GPUDeviceNUMA turns on PCI placement).",
)
@click.option(
    "--feature-gate", "feature_gates", multiple=True, metavar="NAME", help="A feature gate to enable."
)
@click.option(
    "--pci-sysfs",
    type=click.Path(path_type=Path),
    help="Sysfs root for the host's PCI devices (default: --sysfs).",
)
@click.option("--pci-strict", is_flag=True, help="A PCI device that cannot be placed is an error.")
@click.option("-o", "--output", type=click.Choice(["xml", "json"]), default="xml", show_default=True)
def render(
    *,
    vmi_path: Path,
    instancetypes: tuple[Path, ...],
    preferences: tuple[Path, ...],
    cluster_config: Path | None,
    sysfs: Path | None,
    capabilities: Path | None,
    cpuset: str,
    base: Path | None,
    memory_split: SplitMode,
    no_hugepage_check: bool,
    kubevirt_cr: Path | None,
    feature_gates: tuple[str, ...],
    pci_sysfs: Path | None,
    pci_strict: bool,
    output: str,
) -> None:
    """Render libvirt domain XML for a VMI's guest NUMA layout."""
    spec, _ = read_vmi(vmi_path, instancetypes, preferences, cluster_config)
    host = load_host(sysfs, capabilities, default_sysfs=False)
    gates = frozenset(feature_gates) | (load_feature_gates(kubevirt_cr) if kubevirt_cr else frozenset())
    cpus = CpuSet.parse(cpuset, source="--cpuset")
    plan = plan_guest(spec, cpus, host, memory_split=memory_split, check_hugepages=not no_hugepage_check)
    step = pci_step(render_output(plan, base), gates, pci_sysfs or sysfs, strict=pci_strict)
    if output == "json":
        emit({"plan": plan.to_dict(), "domain_xml": step.xml, "pci": step.as_dict()}, "json")
        return
    for line in step.left_in_place:
        click.echo(f"kvnuma render: PCI device left in place: {line}", err=True)
    write_text(step.xml)
