"""``kvnuma render``: libvirt domain XML for a VMI's guest NUMA layout on a given host and cpuset.

    kvnuma render --vmi VMI.yaml (--capabilities caps.xml | --sysfs ROOT) --cpuset LIST
                  [--domain base.xml] [--memory-split kubevirt|proportional] [-o xml|json]

Without ``--domain`` it prints a complete minimal domain; with it, the base domain with only
the engine's parts replaced. Bad input or an unplaceable VMI: one line on stderr, exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from kvnuma.cli.inputs import read_document, read_text
from kvnuma.cli.output import emit, write_text
from kvnuma.model import CpuSet, HostTopology
from kvnuma.placement import SPLIT_MODES, GuestPlan, SplitMode, plan_guest
from kvnuma.render import merge_into, render_domain
from kvnuma.vmi import VmiSpec

__all__ = [
    "capabilities_option",
    "load_host",
    "read_vmi",
    "render",
    "render_output",
    "split_option",
    "sysfs_option",
]


def read_vmi(path: Path) -> tuple[VmiSpec, dict[str, Any]]:
    """The VMI in ``path`` (YAML or JSON), typed and raw."""
    document = read_document(path)
    kind = document.get("kind")
    if kind not in (None, "VirtualMachineInstance"):
        raise click.UsageError(f"{path}: expected kind VirtualMachineInstance, got {kind!r}")
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


@click.command()
@click.option(
    "--vmi", "vmi_path", required=True, type=click.Path(path_type=Path), help="The VMI (YAML/JSON)."
)
@click.option("--sysfs", type=click.Path(path_type=Path), help="Read the host from a sysfs tree.")
@click.option(
    "--capabilities", type=click.Path(path_type=Path), help="Read the host from `virsh capabilities`."
)
@click.option("--cpuset", required=True, metavar="LIST", help="The pod's dedicated CPUs, e.g. 2-5,10-12.")
@click.option("--domain", "base", type=click.Path(path_type=Path), help="Merge into this base domain XML.")
@split_option
@click.option("--no-hugepage-check", is_flag=True, help="Do not check free huge pages per host node.")
@click.option("-o", "--output", type=click.Choice(["xml", "json"]), default="xml", show_default=True)
def render(
    *,
    vmi_path: Path,
    sysfs: Path | None,
    capabilities: Path | None,
    cpuset: str,
    base: Path | None,
    memory_split: SplitMode,
    no_hugepage_check: bool,
    output: str,
) -> None:
    """Render libvirt domain XML for a VMI's guest NUMA layout."""
    spec, _ = read_vmi(vmi_path)
    host = load_host(sysfs, capabilities, default_sysfs=False)
    cpus = CpuSet.parse(cpuset, source="--cpuset")
    plan = plan_guest(spec, cpus, host, memory_split=memory_split, check_hugepages=not no_hugepage_check)
    xml = render_output(plan, base)
    if output == "json":
        emit({"plan": plan.to_dict(), "domain_xml": xml}, "json")
    else:
        write_text(xml)
