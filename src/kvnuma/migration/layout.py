"""The target's layout against the VM's guest NUMA plan.

KubeVirt keeps the guest cells across a migration, so the target must give: at least as many
cells; a pod packed on the target spanning exactly as many cells as the guest has; in the cell
that takes guest cell i (the i-th cell of the packed span, host order) enough CPUs for its vCPUs
and enough free huge pages of the VM's size for its memory. From a Node object (capacities
only) a check is decided when the smallest cell settles it, and otherwise reported as not
possible (``ok`` None) — never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    assert target.min_cell_cpus is not None
    smallest = target.min_cell_cpus
    wanted = len(plan.cells)
    unknown = "a Node object gives only its smallest cell"
    findings = [
        Finding(
            "enough-cells",
            True if wanted == 1 else None,
            "one guest cell" if wanted == 1 else f"{wanted} guest cells; cell count unknown ({unknown})",
            wanted,
            None,
        )
    ]
    if wanted == 1:
        fits = plan.pod_cpus <= smallest
        findings.append(
            Finding(
                "same-cell-count",
                True if fits else None,
                f"the pod's {plan.pod_cpus} CPUs fit the smallest cell ({smallest} CPUs)"
                if fits
                else f"the pod's {plan.pod_cpus} CPUs exceed the smallest cell ({smallest}); {unknown}",
                plan.pod_cpus,
                smallest,
            )
        )
    else:
        findings.append(Finding("same-cell-count", None, f"{wanted} guest cells; {unknown}", wanted, None))
    for guest in plan.cells:
        findings.append(
            Finding(
                "cpus-per-cell",
                True if guest.vcpus <= smallest else None,
                f"guest cell {guest.index}: {guest.vcpus} vCPUs, smallest target cell {smallest} CPUs",
                guest.vcpus,
                smallest,
            )
        )
    if plan.page_size_bytes is not None:
        pool = target.min_cell_hugepages.get(plan.page_size_bytes)
        size = format_bytes(plan.page_size_bytes)
        for guest in plan.cells:
            if pool is None:
                findings.append(
                    Finding(
                        "hugepages-per-cell",
                        None,
                        f"the Node publishes no hugepages-{size} capacity",
                        guest.memory_bytes,
                        None,
                    )
                )
                continue
            findings.append(
                Finding(
                    "hugepages-per-cell",
                    True if pool >= guest.memory_bytes else None,
                    f"guest cell {guest.index}: {format_bytes(guest.memory_bytes)} of {size} pages, "
                    f"smallest target cell pool {format_bytes(pool)} (total; free pages not published)",
                    guest.memory_bytes,
                    pool,
                )
            )
    return findings
