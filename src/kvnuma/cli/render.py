"""``kvnuma render``: libvirt domain XML for a VMI's guest NUMA layout on a given host and cpuset.

    kvnuma render --vmi VMI.yaml (--capabilities caps.xml | --sysfs ROOT | --libvirt URI)
                  --cpuset LIST [--instancetype FILE]... [--preference FILE]...
                  [--cluster-config FILE] [--domain base.xml]
                  [--memory-split kubevirt|proportional] [-o xml|table|json|yaml]
                  [--kubevirt FILE | --feature-gate NAME]... [--pci-sysfs ROOT] [--pci-strict]
                  [--host-device NAME=DDDD:BB:SS.F|NAME=MDEV-UUID]...

``--vmi`` is a VMI, or a VirtualMachine expanded with its instance type and preference.
Without ``--domain`` it prints a complete minimal domain; with it, the base domain with only
the engine's parts replaced. With the ``GPUDeviceNUMA`` feature gate the PCI NUMA step then
puts the domain's PCI hostdevs on their guest cells (host facts from ``--pci-sysfs`` or
``--sysfs``); devices it leaves in place are listed on stderr, one line each.
``--host-device`` gives the host PCI address of the VMI's GPU or host device NAME (rendered as
KubeVirt's ``<hostdev>``); a VMI device given none is named on stderr. The VMI annotation
``kvnuma.io/pci-numa-affinity-policy`` runs the step with that policy (``kvnuma.pci.policy``):
one stderr line per device says its verdict, and a refusal is an error.
Bad input or an unplaceable VMI: one line on stderr, exit 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from kvnuma.cli.options import (
    Choice,
    check_spelling,
    closest,
    cpuset_option,
    host_options,
    load_host,
    output_option,
    vmi_option,
)
from kvnuma.cli.output import DATA_FORMATS, console, emit, write_text
from kvnuma.cli.plan_text import print_layout
from kvnuma.cli.sources import load_cpu_model, load_feature_gates, load_vmi, vm_input_options
from kvnuma.errors import InputError
from kvnuma.inputs import name_of, read_text
from kvnuma.model import CpuSet
from kvnuma.names import PCI_NUMA_POLICY_ANNOTATION, cpuless_cells_wanted
from kvnuma.pci.cpuless import has_generic_initiator
from kvnuma.pci.host_facts import HostPciFacts
from kvnuma.pci.policy import parse_policy
from kvnuma.pci.sysfs import read_host_pci
from kvnuma.placement import SPLIT_MODES, GuestPlan, SplitMode, plan_guest
from kvnuma.placement.pci_step import GPU_DEVICE_NUMA_GATE, PciStep, gate_enabled, place_domain_devices
from kvnuma.placement.quirks import KUBEVIRT_V1_6, QUIRKS
from kvnuma.render import merge_into, render_domain
from kvnuma.render.hostdevs import add_hostdevs, parse_host_device, vmi_devices
from kvnuma.vmi import VmiSpec, unknown_fields

__all__ = [
    "KNOWN_FEATURE_GATES",
    "SCHEMA_VERSION",
    "chosen_quirks",
    "cluster_config_option",
    "feature_gates",
    "kubevirt_quirk_options",
    "pci_step",
    "read_vmi",
    "render",
    "render_output",
    "split_option",
    "vmi_pci_policy",
]

SCHEMA_VERSION = 1


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
    spec = VmiSpec.from_object(document, source=name_of(path))
    for line in unknown_fields(document):  # KubeVirt's CRD would prune or refuse it; we only warn
        click.echo(f"kvnuma: warning: {name_of(path)}: {line}", err=True)
    return spec, document


cluster_config_option = click.option(
    "--cluster-config",
    type=click.Path(path_type=Path, allow_dash=True),
    help="KubeVirt or HyperConverged CR: apply its CPU hotplug defaults (liveUpdateConfiguration).",
)


def kubevirt_quirk_options(command: Any) -> Any:
    """``--kubevirt-quirk NAME`` (repeatable) and ``--kubevirt-exact``: undo kvnuma's
    deliberate differences from KubeVirt (docs/engine.md)."""
    command = click.option(
        "--kubevirt-exact",
        is_flag=True,
        help="Render exactly what KubeVirt v1.6 renders (every --kubevirt-quirk).",
    )(command)
    return click.option(
        "--kubevirt-quirk",
        "kubevirt_quirks",
        multiple=True,
        type=Choice(QUIRKS),
        metavar="NAME",
        help=f"Do as KubeVirt does where kvnuma differs on purpose ({', '.join(QUIRKS)}).",
    )(command)


def chosen_quirks(names: tuple[str, ...], exact: bool) -> frozenset[str]:
    return KUBEVIRT_V1_6 if exact else frozenset(names)


split_option = click.option(
    "--memory-split",
    type=Choice(SPLIT_MODES),
    default="kubevirt",
    show_default=True,
    help="kubevirt: equal shares (KubeVirt's formula); proportional: by each cell's vCPUs.",
)


def render_output(plan: GuestPlan, base: Path | None) -> str:
    if base is None:
        return render_domain(plan)
    return merge_into(read_text(base), plan, source=name_of(base))


def pci_step(
    xml: str,
    gates: frozenset[str],
    pci_root: Path | None,
    *,
    strict: bool,
    policy: str = "legacy",
    cpuless: bool = False,
    generic_initiator: bool = False,
) -> PciStep:
    """The GPUDeviceNUMA step on ``xml`` when the gate is on (reading host PCI facts under
    ``pci_root`` only when there are devices to place), with the VMI's PCI NUMA affinity policy."""
    if not gate_enabled(gates):
        return PciStep(xml, None)

    def read_facts(addresses: Sequence[str]) -> HostPciFacts:
        if pci_root is None:
            raise InputError(
                "--pci-sysfs",
                "GPUDeviceNUMA needs the host's PCI devices: give --pci-sysfs ROOT or --sysfs ROOT",
            )
        return read_host_pci(pci_root, addresses)

    return place_domain_devices(
        xml, read_facts, strict=strict, policy=policy, cpuless=cpuless, generic_initiator=generic_initiator
    )


def vmi_annotations(document: dict[str, Any]) -> dict[str, str]:
    metadata = document.get("metadata") or {}
    annotations = (metadata.get("annotations") or {}) if isinstance(metadata, dict) else {}
    return {str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, dict) else {}


def vmi_pci_policy(document: dict[str, Any], *, source: str) -> str:
    """The VMI's ``kvnuma.io/pci-numa-affinity-policy`` (``legacy`` when absent)."""
    metadata = document.get("metadata") or {}
    annotations = (metadata.get("annotations") or {}) if isinstance(metadata, dict) else {}
    value = annotations.get(PCI_NUMA_POLICY_ANNOTATION, "") if isinstance(annotations, dict) else ""
    return parse_policy(str(value), source=f"{source}: metadata.annotations[{PCI_NUMA_POLICY_ANNOTATION}]")


KNOWN_FEATURE_GATES = (GPU_DEVICE_NUMA_GATE,)
"""The KubeVirt feature gates ``kvnuma render`` acts on."""


def feature_gates(flags: tuple[str, ...], kubevirt_cr: Path | None) -> frozenset[str]:
    """The gates of ``--feature-gate`` (a misspelling or another case of a gate kvnuma acts on
    is an error naming it) and of the KubeVirt CR (the same is a warning there, as KubeVirt
    itself ignores unknown gates)."""
    check_spelling(flags, KNOWN_FEATURE_GATES, flag="--feature-gate")
    from_cr = load_feature_gates(kubevirt_cr) if kubevirt_cr is not None else frozenset()
    for gate in sorted(from_cr - set(KNOWN_FEATURE_GATES)):
        guess = closest(gate, KNOWN_FEATURE_GATES)
        if guess is not None:
            click.echo(
                f"kvnuma render: warning: {kubevirt_cr}: feature gate {gate!r} is not {guess!r} "
                "(gate names are case-sensitive): ignored",
                err=True,
            )
    return frozenset(flags) | from_cr


@click.command()
@vmi_option()
@vm_input_options
@cluster_config_option
@host_options(default="none: one is required")
@cpuset_option(required=True)
@click.option(
    "--domain",
    "base",
    type=click.Path(path_type=Path, allow_dash=True),
    help="Merge into this base domain XML.",
)
@split_option
@click.option("--no-hugepage-check", is_flag=True, help="Do not check free huge pages per host node.")
@click.option(
    "--kubevirt",
    "kubevirt_cr",
    type=click.Path(path_type=Path, allow_dash=True),
    help="KubeVirt CR: its developerConfiguration.featureGates (GPUDeviceNUMA turns on PCI placement).",
)
@click.option(
    "--feature-gate",
    "feature_gates_flags",
    multiple=True,
    metavar="NAME",
    help=f"A feature gate to enable ({', '.join(KNOWN_FEATURE_GATES)}).",
)
@click.option(
    "--pci-sysfs",
    type=click.Path(path_type=Path),
    help="Sysfs root for the host's PCI devices (default: --sysfs).",
)
@click.option("--pci-strict", is_flag=True, help="A PCI device that cannot be placed is an error.")
@click.option(
    "--host-device",
    "host_devices",
    multiple=True,
    metavar="NAME=DDDD:BB:SS.F|UUID",
    help="The host PCI address (or vGPU mdev uuid) backing the VMI's GPU or host device NAME "
    "(known to the device plugin at start): rendered as KubeVirt's <hostdev>.",
)
@click.option(
    "--qemu-version",
    default="",
    metavar="X.Y",
    help="The virt-launcher's QEMU: 9.0 or newer ties devices on CPU-less host nodes to their "
    "CPU-less guest cell with an ACPI Generic Initiator (kvnuma.io/cpuless-device-cells: on).",
)
@kubevirt_quirk_options
@output_option("xml", "table", "json", "yaml")
def render(
    *,
    vmi_path: Path,
    instancetypes: tuple[Path, ...],
    preferences: tuple[Path, ...],
    cluster_config: Path | None,
    sysfs: Path | None,
    capabilities: Path | None,
    libvirt_uri: str | None,
    cpuset: str,
    base: Path | None,
    memory_split: SplitMode,
    no_hugepage_check: bool,
    kubevirt_cr: Path | None,
    feature_gates_flags: tuple[str, ...],
    pci_sysfs: Path | None,
    pci_strict: bool,
    qemu_version: str,
    kubevirt_quirks: tuple[str, ...],
    kubevirt_exact: bool,
    host_devices: tuple[str, ...],
    output: str,
) -> None:
    """Render libvirt domain XML for a VMI's guest NUMA layout."""
    if pci_sysfs is not None and not pci_sysfs.is_dir():
        raise InputError(
            f"--pci-sysfs {pci_sysfs}", "no such folder" if not pci_sysfs.exists() else "not a folder"
        )
    gates = feature_gates(feature_gates_flags, kubevirt_cr)
    spec, document = read_vmi(vmi_path, instancetypes, preferences, cluster_config)
    devices = vmi_devices(document, source=name_of(vmi_path))
    addresses = dict(parse_host_device(text) for text in host_devices)
    host = load_host(sysfs, capabilities, libvirt_uri, required=True)
    cpus = CpuSet.parse(cpuset, source="--cpuset")
    plan = plan_guest(
        spec,
        cpus,
        host,
        memory_split=memory_split,
        check_hugepages=not no_hugepage_check,
        default_cpu_model=load_cpu_model(kubevirt_cr) if kubevirt_cr is not None else "",
        quirks=chosen_quirks(kubevirt_quirks, kubevirt_exact),
    )
    xml, missing = add_hostdevs(render_output(plan, base), devices, addresses)
    policy = vmi_pci_policy(document, source=name_of(vmi_path))
    step = pci_step(
        xml,
        gates,
        pci_sysfs or sysfs,
        strict=pci_strict,
        policy=policy,
        cpuless=cpuless_cells_wanted(vmi_annotations(document)),
        generic_initiator=has_generic_initiator(qemu_version),
    )
    if output in DATA_FORMATS:
        document = {
            "schemaVersion": SCHEMA_VERSION,
            "plan": plan.to_dict(),
            "domainXml": step.xml,
            "pci": step.as_dict(),
            "hostDevicesMissing": [d.path for d in missing],
        }
        emit(document, output)
        return
    for device in missing:
        click.echo(
            f"kvnuma render: {device.path} ({device.device_name or 'no deviceName'}): no host address: "
            f"not rendered (give --host-device {device.name}=DDDD:BB:SS.F; "
            "the device plugin picks it at start)",
            err=True,
        )
    for line in step.result.cpuless if step.result is not None else ():
        click.echo(f"kvnuma render: {line}", err=True)
    for line in step.left_in_place:
        click.echo(f"kvnuma render: PCI device left in place: {line}", err=True)
    for line in step.verdicts if policy != "legacy" else ():
        click.echo(f"kvnuma render: PCI NUMA affinity policy {policy}: {line}", err=True)
    if output == "table":
        print_layout(console(), plan)
    else:
        write_text(step.xml)
