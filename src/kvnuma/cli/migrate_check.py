"""``kvnuma migrate-check``: will this VM's NUMA layout survive a live migration?

Exit codes: 0 will work, 1 will not, 2 bad input (one line on stderr).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from kvnuma.cli import EXIT_NO
from kvnuma.cli.options import Choice, output_option, vmi_option
from kvnuma.cli.output import count, emit, write_text
from kvnuma.cli.sources import load_node, load_vmi, vm_input_options
from kvnuma.inputs import name_of
from kvnuma.migration import Policy, Verdict, check_migration
from kvnuma.model.quantity import format_bytes
from kvnuma.vmi import VmiSpec

__all__ = ["SCHEMA_VERSION", "document", "migrate_check", "render_text"]

SCHEMA_VERSION = 1
_MARK = {True: "ok  ", False: "FAIL", None: "n/a "}
_F = TypeVar("_F", bound=Callable[..., Any])


def render_text(verdict: Verdict) -> str:
    plan = verdict.guest
    lines = [f"VM {verdict.vmi}: {count(plan.pod_cpus, 'exclusive pod CPU')}"]
    if plan.unknown is not None:
        lines.append(f"guest NUMA: {plan.unknown}")
    elif plan.cells:
        cells = ", ".join(
            f"cell {c.id}: {count(len(c.vcpus), 'vCPU')} {format_bytes(c.memory_bytes)}" for c in plan.cells
        )
        page = format_bytes(plan.page_size_bytes or 0)
        lines.append(
            f"guest NUMA on {verdict.source}: {count(len(plan.cells), 'cell')} ({cells}), {page} pages"
        )
    else:
        lines.append("guest NUMA: none (no guestMappingPassthrough)")
    lines += [f"assumption: {text}" for text in plan.assumptions]
    sizing = verdict.sizing
    maybe = "" if sizing.undecided is None else "; may be large on a smaller cell, not decidable"
    lines.append(f"size class: {sizing.size.value} ({sizing.reference}{maybe})")
    table = "works" if verdict.outcome.works else "fails"
    lines.append(f"table: {verdict.outcome.row} -> {table}: {verdict.outcome.why}")
    lines.append("layout checks:")
    lines += [f"  {_MARK[f.ok]} {f.check}: {f.text}" for f in verdict.findings]
    if verdict.works and verdict.unchecked:
        unchecked = count(len(verdict.unchecked), "check")
        lines.append(
            f"verdict: will work as far as can be checked, {unchecked} n/a (policy {verdict.policy.value})"
        )
    elif verdict.works:
        lines.append(f"verdict: will work (policy {verdict.policy.value})")
    else:
        lines.append(f"verdict: will not work (policy {verdict.policy.value})")
        lines += [f"  - {reason}" for reason in verdict.reasons]
    return "\n".join(lines) + "\n"


def _node_option(flag: str, help_text: str) -> Callable[[_F], _F]:
    """A required node file option, passed as ``<name>_path`` (``--source-node`` -> ``source_path``)."""
    dest = f"{flag.removeprefix('--').removesuffix('-node')}_path"
    return click.option(
        flag,
        dest,
        required=True,
        metavar="NODE",
        type=click.Path(path_type=Path, allow_dash=True),
        help=help_text,
    )


@click.command("migrate-check")
@vmi_option()
@_node_option(
    "--source-node",
    "The node the VM runs on: capabilities XML, sysfs root folder, or Node YAML with kvnuma's annotations.",
)
@_node_option("--target-node", "The node it would migrate to, in any of the source node's forms.")
@click.option(
    "--policy",
    type=Choice([p.value for p in Policy]),
    default=Policy.NONE.value,
    show_default=True,
    help="The target kubelet's Topology Manager policy (kubelet default: none).",
)
@vm_input_options
@output_option("table", "json", "yaml")
def migrate_check(
    *,
    vmi_path: Path,
    source_path: Path,
    target_path: Path,
    policy: str,
    instancetypes: tuple[Path, ...],
    preferences: tuple[Path, ...],
    output: str,
) -> None:
    """Will this VM's NUMA layout survive a live migration?

    Exit 0 yes, 1 no, 2 bad input."""
    obj = load_vmi(vmi_path, instancetype=instancetypes, preference=preferences)
    vmi = VmiSpec.from_object(obj, source=name_of(vmi_path))
    source, target = (load_node(path)[0] for path in (source_path, target_path))
    verdict = check_migration(vmi, source, target, Policy(policy))
    if output == "table":
        write_text(render_text(verdict))
    else:
        emit(document(verdict), output)
    if not verdict.works:
        raise click.exceptions.Exit(EXIT_NO)


def document(verdict: Verdict) -> dict[str, Any]:
    """The JSON/YAML document of ``kvnuma migrate-check`` (docs/schemas/migrate-check.json)."""
    return {"schemaVersion": SCHEMA_VERSION, **verdict.as_dict()}
