"""The target's layout against the VM's guest NUMA plan.

KubeVirt keeps the guest cells across a migration, so the target must give: at least as many
cells; a pod packed on the target spanning exactly as many cells as the guest has; in the cell
that takes guest cell i (the i-th cell of the packed span, host order) enough CPUs for its vCPUs
and enough free huge pages of the VM's size for its memory. A Node object gives only its largest
cell's capacity (VEP 135): a check that exceeds it is decided (False: no cell can), a check
within it is decided only for a one-cell guest (the one cell suffices, assuming it is free), and
otherwise reported as not possible (``ok`` None) — never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

from kvnuma.migration.nodes import NODE_OBJECT_LIMIT as LIMIT
from kvnuma.migration.nodes import NodeLayout
from kvnuma.migration.plan import GuestPlan, pack
from kvnuma.model.quantity import format_bytes

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


def check_layout(plan: GuestPlan, target: NodeLayout) -> list[Finding]:
    if plan.unknown is not None:
        return _unknown_guest(plan, target)
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
    sizes = [cell.cpus for cell in target.cells]
    span = pack(sizes, plan.pod_cpus)
    if span is None:
        findings.append(
            Finding(
                "cpus",
                False,
                f"target has {sum(sizes)} online CPUs, the pod needs {plan.pod_cpus}",
                plan.pod_cpus,
                sum(sizes),
            )
        )
        return findings
    vcpu_cells = _vcpu_cells(span, sizes, sum(cell.vcpus for cell in plan.cells))
    findings.append(
        Finding(
            "same-cell-count",
            len(vcpu_cells) == wanted,
            f"the pod packed on the target puts vCPUs in {len(vcpu_cells)} cell(s) "
            f"({', '.join(str(target.cells[i].id) for i in vcpu_cells)}), the guest keeps {wanted}",
            wanted,
            len(vcpu_cells),
        )
    )
    for guest, index in zip(plan.cells, vcpu_cells, strict=False):
        cell = target.cells[index]
        findings.append(
            Finding(
                "cpus-per-cell",
                cell.cpus >= guest.vcpus,
                f"guest cell {guest.index}: {guest.vcpus} vCPUs, target cell {cell.id} has {cell.cpus} CPUs",
                guest.vcpus,
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
                    f"guest cell {guest.index}: {pages} x {format_bytes(page)} pages "
                    f"({format_bytes(guest.memory_bytes)}), target cell {cell.id} has {available} {what}",
                    pages,
                    available,
                )
            )
    return findings


def _vcpu_cells(span: list[int], sizes: list[int], vcpus: int) -> list[int]:
    used = []
    for index in span:
        if vcpus <= 0:
            break
        used.append(index)
        vcpus -= sizes[index]
    return used


def _from_capacity(plan: GuestPlan, target: NodeLayout) -> list[Finding]:
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
        where = f"guest cell {guest.index}: {guest.vcpus} vCPUs, the target's largest cell has {largest} CPUs"
        ok = False if guest.vcpus > largest else (True if whole else None)
        suffix = {True: " (assuming they are free)", False: "", None: f"; which cell takes it: {LIMIT}"}
        findings.append(Finding("cpus-per-cell", ok, where + suffix[ok], guest.vcpus, largest))
    if plan.page_size_bytes is not None:
        findings += _pages_on_capacity(plan, plan.page_size_bytes, target, whole=whole)
    return findings


def _span_on_capacity(plan: GuestPlan, largest: int, name: str) -> Finding:
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


def _pages_on_capacity(plan: GuestPlan, page: int, target: NodeLayout, *, whole: bool) -> list[Finding]:
    pool = target.max_cell_hugepages.get(page)
    size = format_bytes(page)
    findings = []
    for guest in plan.cells:
        need = format_bytes(guest.memory_bytes)
        if pool is None:
            text = f"guest cell {guest.index}: the Node publishes no hugepages-{size} capacity"
            findings.append(Finding("hugepages-per-cell", None, text, guest.memory_bytes, None))
            continue
        text = (
            f"guest cell {guest.index}: {need} of {size} pages, the target's largest per-cell pool "
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


def _unknown_guest(plan: GuestPlan, target: NodeLayout) -> list[Finding]:
    """The source gave no guest cells (a Node object and a pod larger than its largest cell):
    only a target too small for the pod, or one whose packed pod spans fewer cells than the
    guest has at least, is decided."""
    assert plan.unknown is not None
    findings = [Finding("guest-cells", None, plan.unknown)]
    sizes = target.cell_cpus
    if sizes is None:
        return findings
    span = pack(list(sizes), plan.pod_cpus)
    if span is None:
        text = f"target has {sum(sizes)} online CPUs, the pod needs {plan.pod_cpus}"
        return [*findings, Finding("cpus", False, text, plan.pod_cpus, sum(sizes))]
    spans = len(_vcpu_cells(span, list(sizes), plan.vcpus))
    if spans < plan.least_cells:
        text = (
            f"the pod packed on the target puts vCPUs in {spans} cell(s); the guest's {plan.vcpus} "
            f"vCPUs have at least {plan.least_cells} cells on the source"
        )
        findings.append(Finding("same-cell-count", False, text, plan.least_cells, spans))
    return findings
