"""The auto-NUMA decision (VEP 135): a pure function of the review, the cluster capacity and config.

    enabled and CREATE of a VMI without spec.domain.cpu.numa, and
    vCPUs > smallest max-single-numa-cpus  or  guest memory > smallest max-single-numa-memory
    or guest memory > smallest per-cell pool of its huge-page size
      -> add spec.domain.cpu.numa.guestMappingPassthrough: {}  (if KubeVirt would accept it)

Every answer is allowed unless mode is ``reject`` and KubeVirt would refuse the mutated VMI.

The smallest NUMA node is the cluster's (a ``ClusterCapacity``), or, with the feasible-node
threshold, the smallest among the nodes the VMI can land on: ``capacity`` is then a lookup from the
VMI's ``Constraints`` (``kvnuma.admission.feasible``) to the capacity of those nodes, and every
answer that compared says which nodes (the capacity's ``scope``). When no publishing node
matches, the VMI is admitted unchanged with a warning: it will land, if anywhere, on a node that
publishes nothing, where no threshold is known. When the nodes' numbers come from more than one
source (the webhook's ``--nrt=on``), every answer that compared also says which (``source``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from kvnuma.admission.capacity import ClusterCapacity
from kvnuma.admission.feasible import Constraints
from kvnuma.admission.kubevirt_rules import passthrough_blockers
from kvnuma.admission.patch import passthrough_patch
from kvnuma.admission.review import ReviewRequest, build_response
from kvnuma.errors import InputError
from kvnuma.model.quantity import format_bytes
from kvnuma.names import PCI_NUMA_POLICY_ANNOTATION, guest_numa_settings, iothread_placement
from kvnuma.pci.policy import parse_policy
from kvnuma.vmi import VmiSpec, unknown_fields

_MAX_FIELD_WARNINGS = 10  # unknown VMI fields warned about per review

__all__ = ["AdmissionConfig", "CapacityLookup", "Decision", "Mode", "Outcome", "decide"]

CapacityLookup = Callable[[Constraints], ClusterCapacity]
"""The smallest NUMA node among the nodes that VMI's constraints admit."""

MAX_WARNING = 120
_MAX_MEMORY = 1 << 60  # 1 EiB: a larger VMI memory is not a real request


class Mode(StrEnum):
    SKIP = "skip"
    REJECT = "reject"


class Outcome(StrEnum):
    MUTATED = "mutated"
    FITS = "fits"
    DISABLED = "disabled"
    HAS_NUMA = "has-numa"
    NO_CAPACITY = "no-capacity"
    SKIPPED_UNSAFE = "skipped-unsafe"
    REJECTED_UNSAFE = "rejected-unsafe"
    NOT_APPLICABLE = "not-applicable"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class AdmissionConfig:
    enabled: bool = False
    mode: Mode = Mode.SKIP
    hugepages_required: bool = True


@dataclass(frozen=True, slots=True)
class Decision:
    uid: str
    allowed: bool
    outcome: Outcome
    reason: str
    patch: tuple[Mapping[str, Any], ...] = ()
    warnings: tuple[str, ...] = ()
    audit: Mapping[str, str] = field(default_factory=dict)
    message: str = ""

    def response(self) -> dict[str, Any]:
        return build_response(
            self.uid,
            allowed=self.allowed,
            patch=self.patch,
            warnings=self.warnings,
            audit=self.audit,
            status_code=None if self.allowed else 403,
            message=self.message,
        )


def decide(review: object, capacity: ClusterCapacity | CapacityLookup, config: AdmissionConfig) -> Decision:
    """Decide one AdmissionReview. InputError only when the review cannot be answered at all."""
    request = ReviewRequest.parse(review)
    decision = _decide(request, capacity, config)
    extra = _memory_annotation_warnings(request)
    if request.is_vmi and request.operation == "CREATE":
        extra = (
            *extra,
            *(_warning(f"VMI {line}") for line in unknown_fields(request.obj)[:_MAX_FIELD_WARNINGS]),
        )
    return replace(decision, warnings=(*decision.warnings, *extra)) if extra else decision


def _memory_annotation_warnings(request: ReviewRequest) -> tuple[str, ...]:
    """A VMI CREATE whose ``kvnuma.io/guest-numa``, ``kvnuma.io/memory-policy``,
    ``kvnuma.io/iothread-placement`` or ``kvnuma.io/pci-numa-affinity-policy`` value is bad: one
    warning each (the hook or the engine will not use it)."""
    if not request.is_vmi or request.operation != "CREATE" or not isinstance(request.obj, Mapping):
        return ()
    metadata = request.obj.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    if not isinstance(annotations, Mapping):
        return ()
    found = []
    strings = {str(k): str(v) for k, v in annotations.items() if isinstance(v, str)}
    for check in (guest_numa_settings, iothread_placement):
        try:
            check(strings)
        except InputError as error:
            found.append(_warning(error.one_line()))
    policy = annotations.get(PCI_NUMA_POLICY_ANNOTATION)
    if policy is not None:
        try:
            parse_policy(str(policy), source=f"annotation {PCI_NUMA_POLICY_ANNOTATION}")
        except InputError as error:  # the PCI NUMA hook will leave the domain unchanged
            found.append(_warning(error.one_line()))
    return tuple(found)


def _decide(
    request: ReviewRequest, capacity: ClusterCapacity | CapacityLookup, config: AdmissionConfig
) -> Decision:
    uid = request.uid
    if not request.is_vmi or request.operation != "CREATE":
        what = f"{request.operation or '?'} {request.kind or '?'}"
        return _allow(uid, Outcome.NOT_APPLICABLE, f"not a VMI CREATE ({what})")
    if not config.enabled:
        return _allow(uid, Outcome.DISABLED, "autoNUMAEnablement is off")
    try:
        spec = VmiSpec.from_object(request.obj, source="object")
    except InputError as error:
        return _allow(uid, Outcome.INVALID, error.one_line(), warn=f"auto-NUMA skipped: {error.one_line()}")
    memory = spec.requested_memory_bytes
    if memory is not None and memory > _MAX_MEMORY:
        problem = f"object: requested memory ({len(str(memory))} digits) is absurd, over 1Ei"
        return _allow(uid, Outcome.INVALID, problem, warn=f"auto-NUMA skipped: {problem}")
    if spec.has_numa:
        return _allow(uid, Outcome.HAS_NUMA, "spec.domain.cpu.numa already set")
    if not isinstance(capacity, ClusterCapacity):
        try:
            constraints = Constraints.from_vmi(request.obj)
        except InputError as error:
            problem = error.one_line()
            return _allow(uid, Outcome.INVALID, problem, warn=f"auto-NUMA skipped: {problem}")
        capacity = capacity(constraints)
    if capacity.nodes == 0 and capacity.scope:
        return _allow(
            uid,
            Outcome.NO_CAPACITY,
            f"no node publishing max-single-numa capacity among the nodes it can land on ({capacity.scope})",
            warn=f"auto-NUMA skipped: no node publishing max-single-numa-* among {capacity.scope}",
        )
    if capacity.nodes == 0 and capacity.source:
        return _allow(
            uid,
            Outcome.NO_CAPACITY,
            f"no node publishes max-single-numa capacity ({capacity.source})",
            warn="auto-NUMA skipped: no node publishes kubevirt.io/max-single-numa-* "
            "or a NodeResourceTopology yet",
        )
    if capacity.nodes == 0:
        return _allow(
            uid,
            Outcome.NO_CAPACITY,
            "no node publishes max-single-numa capacity",
            warn="auto-NUMA skipped: no node publishes kubevirt.io/max-single-numa-* yet",
        )
    exceeded = _exceeded(spec, capacity)
    if not exceeded:
        return _allow(uid, Outcome.FITS, _fits(spec, capacity))
    why = "; ".join(exceeded)
    scoped = (*_scope_warning(capacity), *_source_warning(capacity))
    blockers = passthrough_blockers(spec, hugepages_required=config.hugepages_required)
    if blockers:
        blocked = "; ".join(blockers)
        if config.mode is Mode.REJECT:
            message = (
                f"auto-NUMA: VMI needs guestMappingPassthrough ({why}) but KubeVirt would reject it: "
                f"{blocked}. Set spec.domain.cpu.dedicatedCpuPlacement: true and "
                "spec.domain.memory.hugepages, or set spec.domain.cpu.numa yourself."
            )
            return Decision(
                uid=uid,
                allowed=False,
                outcome=Outcome.REJECTED_UNSAFE,
                reason=f"{why}; blocked: {blocked}",
                warnings=(_warning(f"auto-NUMA rejected: NUMA node exceeded ({why}) but {blocked}"), *scoped),
                audit=_audit(
                    Outcome.REJECTED_UNSAFE, f"{why}; blocked: {blocked}{_among(capacity)}{_from(capacity)}"
                ),
                message=message,
            )
        skipped = _allow(
            uid,
            Outcome.SKIPPED_UNSAFE,
            f"{why}; blocked: {blocked}{_among(capacity)}{_from(capacity)}",
            warn=f"auto-NUMA skipped: NUMA node exceeded ({why}) but {blocked}",
        )
        return replace(skipped, warnings=(*skipped.warnings, *scoped))
    obj = request.obj
    assert isinstance(obj, Mapping)  # VmiSpec.from_object accepted it
    return Decision(
        uid=uid,
        allowed=True,
        outcome=Outcome.MUTATED,
        reason=why + _among(capacity) + _from(capacity),
        patch=tuple(passthrough_patch(obj)),
        warnings=(
            _warning(f"auto-NUMA: guestMappingPassthrough added, smallest NUMA node exceeded: {why}"),
            *scoped,
        ),
        audit=_audit(Outcome.MUTATED, why + _among(capacity) + _from(capacity)),
    )


def _exceeded(spec: VmiSpec, capacity: ClusterCapacity) -> list[str]:
    reasons: list[str] = []
    if capacity.cpus is not None and spec.vcpus > capacity.cpus:
        reasons.append(f"vCPUs {spec.vcpus} > {capacity.cpus}")
    memory = spec.requested_memory_bytes
    if memory is not None:
        if capacity.memory_bytes is not None and memory > capacity.memory_bytes:
            reasons.append(f"memory {format_bytes(memory)} > {format_bytes(capacity.memory_bytes)}")
        size = spec.hugepage_size_bytes
        pool = capacity.hugepages.get(size) if size is not None else None
        if size is not None and pool is not None and memory > pool:
            reasons.append(f"memory {format_bytes(memory)} > {format_bytes(size)} pages {format_bytes(pool)}")
    return reasons


def _fits(spec: VmiSpec, capacity: ClusterCapacity) -> str:
    memory = spec.requested_memory_bytes
    shown = format_bytes(memory) if memory is not None else "unset"
    if capacity.scope:
        minima = ", ".join(capacity.minima())
        return (
            f"{spec.vcpus} vCPUs, memory {shown} fit the smallest NUMA node among {capacity.scope} ({minima})"
            + _from(capacity)
        )
    return f"{spec.vcpus} vCPUs, memory {shown} fit the smallest NUMA node ({capacity.describe()})" + _from(
        capacity
    )


def _among(capacity: ClusterCapacity) -> str:
    """' (smallest NUMA node among 12 of 50 nodes matching ...)' for a scoped threshold."""
    return f" (smallest NUMA node among {capacity.scope})" if capacity.scope else ""


def _from(capacity: ClusterCapacity) -> str:
    """'; capacity from NodeResourceTopology on 3 nodes, annotations on 1' (--nrt=on)."""
    return f"; {capacity.source}" if capacity.source else ""


def _source_warning(capacity: ClusterCapacity) -> tuple[str, ...]:
    """Where the nodes' numbers came from, when there is more than one source."""
    return (_warning(f"auto-NUMA: {capacity.source}"),) if capacity.source else ()


def _scope_warning(capacity: ClusterCapacity) -> tuple[str, ...]:
    """Which nodes the threshold came from (the numbers are in the first warning already)."""
    if not capacity.scope:
        return ()
    return (_warning(f"auto-NUMA: smallest NUMA node among {capacity.scope}: {capacity.short()}"),)


def _allow(uid: str, outcome: Outcome, reason: str, *, warn: str = "") -> Decision:
    return Decision(
        uid=uid,
        allowed=True,
        outcome=outcome,
        reason=reason,
        warnings=(_warning(warn),) if warn else (),
        audit=_audit(outcome, reason) if warn else {},
    )


def _audit(outcome: Outcome, reason: str) -> dict[str, str]:
    return {"auto-numa-decision": outcome.value, "auto-numa-reason": reason[:1000]}


def _warning(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_WARNING else text[: MAX_WARNING - 3] + "..."
