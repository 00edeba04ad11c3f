"""The target's layout against the VM's guest NUMA layout on the source.

KubeVirt keeps the guest cells across a migration, so the target must give: at least as many
cells; a pod packed on the target whose vCPUs the engine lays out over exactly as many cells as
the guest has; in the cell that takes guest cell i (the host cell of the engine's i-th guest cell
on the target) enough CPUs for its vCPUs and enough free huge pages of the VM's size for its
memory. A Node object gives only its largest
cell's capacity (VEP 135): a check that exceeds it is decided (False: no cell can), a check
within it is decided only for a one-cell guest (the one cell suffices, assuming it is free), and
otherwise reported as not possible (``ok`` None) — never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

from kvnuma.errors import RuleError
from kvnuma.migration.guest import GuestLayout, guest_layout
from kvnuma.migration.nodes import NODE_OBJECT_LIMIT as LIMIT
from kvnuma.migration.nodes import NodeLayout
from kvnuma.model.quantity import format_bytes
from kvnuma.vmi import VmiSpec

__all__ = ["Finding", "check_layout"]


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    ok: bool | None
    """True passed, False failed, None could not be checked from what the node gives."""
    text: str
    needed: object = None
    available: object = None

    def as_dict(self) -> dict[str, object]:
        return {
            "check": self.check,
            "ok": self.ok,
            "text": self.text,
            "needed": self.needed,
            "available": self.available,
        }


def check_layout(vmi: VmiSpec, plan: GuestLayout, target: NodeLayout) -> list[Finding]:
    """``plan``: the VM's layout on the source; the engine lays it out on ``target`` to compare."""
    if plan.unknown is not None:
        return _unknown_guest(vmi, plan, target)
    if not plan.cells:
        return [Finding("guest-cells", True, "the VM has no guest NUMA cells; nothing to keep")]
    if target.cells is None:
        return _from_capacity(plan, target)
    findings: list[Finding] = []
    wanted = len(plan.cells)
    have = len(target.cells)
    findings.append(
        Finding(
            "enough-cells",
            have >= wanted,
            f"target has {have} cells with CPUs, the guest has {wanted}",
            wanted,
            have,
        )
    )
    on_target = _on_target(vmi, target)
    if isinstance(on_target, Finding):
        findings.append(on_target)
        return findings
    host_cells = [cell.host_cell for cell in on_target.cells]
    findings.append(
        Finding(
            "same-cell-count",
            len(host_cells) == wanted,
            f"the pod packed on the target puts vCPUs in {len(host_cells)} {_cells(len(host_cells))} "
            f"({', '.join(str(i) for i in host_cells)}), the guest keeps {wanted}",
            wanted,
            len(host_cells),
        )
    )
    by_id = {cell.id: cell for cell in target.cells}
    for guest, host_cell in zip(plan.cells, host_cells, strict=False):
        cell = by_id[host_cell]
        vcpus = len(guest.vcpus)
        findings.append(
            Finding(
                "cpus-per-cell",
                cell.cpus >= vcpus,
                f"guest cell {guest.id}: {vcpus} vCPUs, target cell {cell.id} has {cell.cpus} CPUs",
                vcpus,
                cell.cpus,
            )
        )
        if plan.page_size_bytes is not None:
            page = plan.page_size_bytes
            pages = guest.memory_bytes // page
            available = cell.pages.get(page, 0)
            what = "free" if cell.pages_are_free else "total (free not reported)"
            findings.append(
                Finding(
                    "hugepages-per-cell",
                    available >= pages,
                    f"guest cell {guest.id}: {pages} x {format_bytes(page)} pages "
                    f"({format_bytes(guest.memory_bytes)}), target cell {cell.id} has {available} {what}",
                    pages,
                    available,
                )
            )
    return findings


def _on_target(vmi: VmiSpec, target: NodeLayout) -> GuestLayout | Finding:
    """The engine's layout of the VM on ``target`` (a node with known cells), or the finding
    that says why there is none."""
    try:
        return guest_layout(vmi, target)
    except RuleError as error:
        if error.rule == "node-cpus":
            text = f"target has {error.available} online CPUs, the pod needs {error.needed}"
            return Finding("cpus", False, text, error.needed, error.available)
        return Finding(error.rule, False, f"on the target: {error.one_line()}", error.needed, error.available)


def _from_capacity(plan: GuestLayout, target: NodeLayout) -> list[Finding]:
    """Against a Node object: the largest cell ``L`` is all that is known. Exceeding it is
    decided (no cell can); within it only a one-cell guest whose whole pod fits ``L`` is
    decided (the packed pod lands in one cell that suffices). A pod over ``L`` spans cells the
    Node does not describe, even when its vCPUs alone would fit one."""
    largest = target.max_cell_cpus
    wanted = len(plan.cells)
    one = wanted == 1
    whole = one and plan.pod_cpus <= largest
    findings = [
        Finding(
            "enough-cells",
            True if one else None,
            "one guest cell" if one else f"{wanted} guest cells; the target's cell count is unknown: {LIMIT}",
            wanted,
            None,
        ),
        _span_on_capacity(plan, largest, target.name),
    ]
    for guest in plan.cells:
        vcpus = len(guest.vcpus)
        where = f"guest cell {guest.id}: {vcpus} vCPUs, the target's largest cell has {largest} CPUs"
        ok = False if vcpus > largest else (True if whole else None)
        suffix = {True: " (assuming they are free)", False: "", None: f"; which cell takes it: {LIMIT}"}
        findings.append(Finding("cpus-per-cell", ok, where + suffix[ok], vcpus, largest))
    if plan.page_size_bytes is not None:
        findings += _pages_on_capacity(plan, plan.page_size_bytes, target, whole=whole)
    return findings


def _span_on_capacity(plan: GuestLayout, largest: int, name: str) -> Finding:
    wanted = len(plan.cells)
    if plan.pod_cpus <= largest:
        return Finding(
            "same-cell-count",
            wanted == 1,
            f"the pod's {plan.pod_cpus} CPUs fit the largest cell of {name} ({largest} CPUs), so the "
            f"packed pod spans one cell (assuming they are free); the guest keeps {wanted}",
            wanted,
            1,
        )
    least = -(-plan.vcpus // largest)
    if least > wanted:
        return Finding(
            "same-cell-count",
            False,
            f"the guest's {plan.vcpus} vCPUs need at least {least} cells of {name} (largest cell "
            f"{largest} CPUs); the guest keeps {wanted}",
            wanted,
            least,
        )
    return Finding(
        "same-cell-count",
        None,
        f"the pod's {plan.pod_cpus} CPUs exceed the largest cell of {name} ({largest} CPUs); "
        f"how many cells it spans: {LIMIT}",
        wanted,
        None,
    )


def _pages_on_capacity(plan: GuestLayout, page: int, target: NodeLayout, *, whole: bool) -> list[Finding]:
    pool = target.max_cell_hugepages.get(page)
    size = format_bytes(page)
    findings = []
    for guest in plan.cells:
        need = format_bytes(guest.memory_bytes)
        if pool is None:
            text = f"guest cell {guest.id}: the Node publishes no hugepages-{size} capacity"
            findings.append(Finding("hugepages-per-cell", None, text, guest.memory_bytes, None))
            continue
        text = (
            f"guest cell {guest.id}: {need} of {size} pages, the target's largest per-cell pool "
            f"is {format_bytes(pool)} (total)"
        )
        if guest.memory_bytes > pool:
            ok: bool | None = False
        elif whole:
            ok = True
            text += "; assuming they are free and in the cell that takes the pod (the Node does not say)"
        else:
            ok = None
            text += f"; which cell backs it: {LIMIT}"
        findings.append(Finding("hugepages-per-cell", ok, text, guest.memory_bytes, pool))
    return findings


def _unknown_guest(vmi: VmiSpec, plan: GuestLayout, target: NodeLayout) -> list[Finding]:
    """The source gave no guest cells (a Node object and a pod larger than its largest cell):
    only a target too small for the pod, or one whose packed pod spans fewer cells than the
    guest has at least, is decided."""
    assert plan.unknown is not None
    findings = [Finding("guest-cells", None, plan.unknown)]
    if target.cells is None:
        return findings
    on_target = _on_target(vmi, target)
    if isinstance(on_target, Finding):
        return [*findings, on_target]
    spans = len(on_target.cells)
    if spans < plan.least_cells:
        text = (
            f"the pod packed on the target puts vCPUs in {spans} {_cells(spans)}; the guest's {plan.vcpus} "
            f"vCPUs have at least {plan.least_cells} cells on the source"
        )
        findings.append(Finding("same-cell-count", False, text, plan.least_cells, spans))
    return findings


def _cells(number: int) -> str:
    return "cell" if number == 1 else "cells"
