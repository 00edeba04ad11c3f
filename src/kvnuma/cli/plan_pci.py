"""The PCI step of ``kvnuma plan``: with ``--host-device NAME=ADDRESS|UUID`` the VMI's GPUs and
host devices are rendered as KubeVirt writes them and placed as the hook would (the
``GPUDeviceNUMA`` step, with the VMI's ``kvnuma.io/pci-numa-affinity-policy``), and the plan shows
one row per device: its host node, where that is relative to the pod's host nodes, and the
verdict. A refusal is shown, not raised: the plan says the hook would fail the definition."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from kvnuma.cli.output import console, heading
from kvnuma.cli.render import pci_step, vmi_annotations, vmi_pci_policy
from kvnuma.names import cpuless_cells_wanted
from kvnuma.pci.policy import PolicyRefused, Verdict
from kvnuma.placement.pci_step import GPU_DEVICE_NUMA_GATE
from kvnuma.render.hostdevs import add_hostdevs, parse_host_device, vmi_devices

__all__ = ["PciExplanation", "explain_pci", "pci_options", "pci_root_for", "print_pci"]


def pci_options(command: Any) -> Any:
    command = click.option(
        "--pci-sysfs",
        type=click.Path(path_type=Path, file_okay=False),
        help="Sysfs root for the host's PCI devices (default: --sysfs, else /sys).",
    )(command)
    return click.option(
        "--host-device",
        "host_devices",
        multiple=True,
        metavar="NAME=DDDD:BB:SS.F|UUID",
        help="Place the VMI's GPU or host device NAME from this host PCI address (or vGPU mdev "
        "uuid) as the PCI NUMA hook would, and show its verdict.",
    )(command)


@dataclass(frozen=True)
class PciExplanation:
    xml: str
    policy: str
    document: dict[str, Any]
    verdicts: tuple[Verdict, ...]
    lines: tuple[str, ...]
    """The step's summary (or the refusal), one line each."""


def explain_pci(
    document: dict[str, Any], xml: str, host_devices: tuple[str, ...], pci_root: Path, *, source: str
) -> PciExplanation:
    """The domain with the VMI's devices placed, and what happened to each."""
    policy = vmi_pci_policy(document, source=source)
    addresses = dict(parse_host_device(text) for text in host_devices)
    with_devices, _missing = add_hostdevs(xml, vmi_devices(document, source=source), addresses)
    try:
        step = pci_step(
            with_devices,
            frozenset({GPU_DEVICE_NUMA_GATE}),
            pci_root,
            strict=False,
            policy=policy,
            cpuless=cpuless_cells_wanted(vmi_annotations(document)),
        )
    except PolicyRefused as refusal:
        line = f"the hook would refuse the definition (exit 3): {refusal.one_line()}"
        data = {
            "enabled": True,
            "applied": False,
            "note": line,
            "summary": [],
            "leftInPlace": [],
            "policy": policy,
            "devices": [v.as_dict() for v in refusal.verdicts],
        }
        return PciExplanation(with_devices, policy, data, refusal.verdicts, (line,))
    result = step.result
    verdicts = result.verdicts if result is not None else ()
    lines = tuple(result.summary()) if result is not None else ()
    return PciExplanation(step.xml, policy, step.as_dict(), verdicts, lines)


def print_pci(explanation: PciExplanation) -> None:
    out = console()
    heading(out, f"PCI devices (GPUDeviceNUMA step, pci-numa-affinity-policy {explanation.policy})")
    table = Table("device", "host node", "where", "verdict", "guest cell")
    for v in explanation.verdicts:
        node = "-" if v.host_node is None else str(v.host_node)
        table.add_row(v.device, node, v.locality, v.outcome, "-" if v.cell is None else str(v.cell))
    out.print(table)
    for line in explanation.lines:
        out.print(line, markup=False)


def pci_root_for(pci_sysfs: Path | None, sysfs: Path | None) -> Path:
    """Where the host's PCI devices are read: ``--pci-sysfs``, else ``--sysfs``, else ``/sys``."""
    return pci_sysfs or sysfs or Path("/sys")
