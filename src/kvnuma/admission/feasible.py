"""Which nodes a VMI can land on, as the Kubernetes scheduler decides it (pure, no IO).

The feasible-node threshold (issue 15.2) compares a VMI with the smallest NUMA node among the
nodes its virt-launcher pod could be scheduled on, not the whole cluster. KubeVirt copies the VMI's
``spec.nodeSelector``, ``spec.affinity`` and ``spec.tolerations`` into that pod, so the filters are
the scheduler's, read from the VMI:

  nodeSelector         every key=value must be a label of the node (NodeAffinity filter)
  required affinity    ``spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
                       .nodeSelectorTerms``: terms ORed, a term's requirements ANDed; an empty term
                       (no matchExpressions, no matchFields) matches nothing, and a present
                       required selector with no terms matches nothing; a term with a malformed
                       requirement (unknown operator, wrong number of values, a Gt/Lt value that
                       is not an integer, an invalid label key or value) matches nothing, the other
                       terms still count (component-helpers' ``LazyErrorNodeSelector``)
    matchExpressions   on labels: In, NotIn (an absent label matches), Exists, DoesNotExist,
                       Gt/Lt (both sides integers; a label that is not one does not match)
    matchFields        on fields: only ``metadata.name`` exists; In/NotIn with exactly one value
  taints               a node's NoSchedule and NoExecute taints must each be tolerated
                       (TaintToleration filter; PreferNoSchedule is ignored). A toleration matches
                       a taint when its effect is empty or equal, its key is empty or equal, and
                       its operator is Exists, or Equal/empty with an equal value
                       (``Toleration.ToleratesTaint``). ``tolerationSeconds`` only delays
                       eviction, so it does not change where the pod can be scheduled.
  unschedulable        a node with ``spec.unschedulable: true`` (cordoned) is excluded unless the
                       VMI tolerates ``node.kubernetes.io/unschedulable:NoSchedule`` (the
                       NodeUnschedulable filter)

Not modelled: the ``kubevirt.io/schedulable`` and CPU-model selectors KubeVirt adds to the pod,
pod (anti-)affinity, topology spread and resources that are free now (those change by the second;
the threshold is about what a node *can* give).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kvnuma.admission.capacity import ClusterCapacity, NodeCapacity
from kvnuma.errors import InputError

__all__ = [
    "UNSCHEDULABLE_TAINT",
    "Constraints",
    "NodeFacts",
    "Requirement",
    "Taint",
    "Term",
    "Toleration",
    "feasible_capacity",
    "scope_text",
]

SCHEDULING_EFFECTS = frozenset({"NoSchedule", "NoExecute"})
LABEL_OPERATORS = frozenset({"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"})
FIELD_OPERATORS = frozenset({"In", "NotIn"})
MAX_REQUIREMENTS = 1000
"""Requirements, values and tolerations in one VMI, all together: more is not a real VMI."""

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_NAME_RE = re.compile(_NAME)
_PREFIX_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_INT64_RE = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str = ""
    effect: str = ""


UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", "", "NoSchedule")


@dataclass(frozen=True, slots=True)
class Toleration:
    key: str = ""
    operator: str = ""
    value: str = ""
    effect: str = ""

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator in ("", "Equal"):
            return self.value == taint.value
        return self.operator == "Exists"


@dataclass(frozen=True, slots=True)
class NodeFacts:
    """What the scheduler's filters read of a Node: name, labels (sorted pairs), taints that
    affect scheduling, cordoned."""

    name: str
    labels: tuple[tuple[str, str], ...] = ()
    taints: tuple[Taint, ...] = ()
    unschedulable: bool = False

    def label(self, key: str) -> str | None:
        for name, value in self.labels:
            if name == key:
                return value
        return None

    @property
    def restricted(self) -> bool:
        """Some VMIs cannot land here for its taints or because it is cordoned."""
        return bool(self.taints) or self.unschedulable

    @classmethod
    def from_node(cls, node: Mapping[str, Any]) -> NodeFacts:
        """Read a Node object; malformed parts are left out (a node never fails to be read)."""
        metadata = node.get("metadata")
        metadata = metadata if isinstance(metadata, Mapping) else {}
        name = metadata.get("name")
        raw_labels = metadata.get("labels")
        labels = (
            tuple(sorted((k, v) for k, v in raw_labels.items() if isinstance(k, str) and isinstance(v, str)))
            if isinstance(raw_labels, Mapping)
            else ()
        )
        spec = node.get("spec")
        spec = spec if isinstance(spec, Mapping) else {}
        taints: list[Taint] = []
        raw_taints = spec.get("taints")
        for item in raw_taints if isinstance(raw_taints, list) else ():
            if not isinstance(item, Mapping):
                continue
            key, value, effect = item.get("key"), item.get("value", ""), item.get("effect")
            if isinstance(key, str) and isinstance(value, str) and effect in SCHEDULING_EFFECTS:
                taint = Taint(key, value, str(effect))
                if taint not in taints:
                    taints.append(taint)
        return cls(
            name=name if isinstance(name, str) else "",
            labels=labels,
            taints=tuple(taints),
            unschedulable=spec.get("unschedulable") is True,
        )


@dataclass(frozen=True, slots=True)
class Requirement:
    """One matchExpressions (labels) or matchFields (fields) entry, checked when read."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, value: str | None) -> bool:
        """``value``: the node's label (None when absent) or field."""
        operator = self.operator
        if operator == "In":
            return value is not None and value in self.values
        if operator == "NotIn":
            return value is None or value not in self.values
        if operator == "Exists":
            return value is not None
        if operator == "DoesNotExist":
            return value is None
        number = _int64(value) if value is not None else None
        if number is None:
            return False
        limit = int(self.values[0])
        return number > limit if operator == "Gt" else number < limit

    def describe(self) -> str:
        if self.operator in ("Exists", "DoesNotExist"):
            return f"{self.key} {self.operator}"
        return f"{self.key} {self.operator} {','.join(self.values)}"


@dataclass(frozen=True, slots=True)
class Term:
    """One nodeSelectorTerm. ``error``: why it matches nothing (empty, or malformed)."""

    expressions: tuple[Requirement, ...] = ()
    fields: tuple[Requirement, ...] = ()
    error: str = ""

    def matches(self, node: NodeFacts) -> bool:
        if self.error:
            return False
        for requirement in self.expressions:
            if not requirement.matches(node.label(requirement.key)):
                return False
        for requirement in self.fields:
            field = node.name if requirement.key == "metadata.name" else ""
            if node.name and not requirement.matches(field):
                return False
        return True


@dataclass(frozen=True, slots=True)
class Constraints:
    """Where a VMI's pod may be scheduled. Hashable (the cache memoises answers by it).

    ``terms`` is None without a required node affinity. ``EMPTY`` (the default) admits every node
    without a scheduling taint that is not cordoned."""

    node_selector: tuple[tuple[str, str], ...] = ()
    terms: tuple[Term, ...] | None = None
    tolerations: tuple[Toleration, ...] = ()

    @property
    def selects(self) -> bool:
        """A nodeSelector or a required node affinity narrows the nodes (taints aside)."""
        return bool(self.node_selector) or self.terms is not None

    def matches(self, node: NodeFacts) -> bool:
        """nodeSelector and required affinity (labels and fields) only."""
        for key, value in self.node_selector:
            if node.label(key) != value:
                return False
        if self.terms is not None:
            return any(term.matches(node) for term in self.terms)
        return True

    def tolerates(self, node: NodeFacts) -> bool:
        """Every scheduling taint tolerated, and a cordon too when the node is cordoned."""
        if node.unschedulable and not any(t.tolerates(UNSCHEDULABLE_TAINT) for t in self.tolerations):
            return False
        return all(any(t.tolerates(taint) for t in self.tolerations) for taint in node.taints)

    def admits(self, node: NodeFacts) -> bool:
        return self.matches(node) and self.tolerates(node)

    def describe(self) -> str:
        """The selecting part in words ('' when only taints narrow)."""
        parts: list[str] = []
        if self.node_selector:
            pairs = ", ".join(f"{k}={v}" for k, v in self.node_selector)
            parts.append(f"nodeSelector {{{pairs}}}")
        if self.terms is not None:
            if len(self.terms) == 1 and not self.terms[0].error:
                term = self.terms[0]
                shown = "; ".join(r.describe() for r in (*term.expressions, *term.fields))
                parts.append(f"node affinity {{{shown}}}")
            else:
                count = len(self.terms)
                parts.append(f"node affinity ({count} {'term' if count == 1 else 'terms'})")
        return " and ".join(parts)

    @classmethod
    def from_vmi(cls, obj: object, *, source: str = "object") -> Constraints:
        """Read ``spec.nodeSelector``, the required node affinity and ``spec.tolerations``.
        A wrong type raises ``InputError`` naming the field; a malformed requirement is kept as
        a term that matches nothing (the scheduler's behaviour)."""
        spec = obj.get("spec") if isinstance(obj, Mapping) else None
        if not isinstance(spec, Mapping):
            return cls()
        budget = [MAX_REQUIREMENTS]
        selector = _string_map(spec.get("nodeSelector"), f"{source}: spec.nodeSelector", budget)
        terms = _required_terms(spec.get("affinity"), f"{source}: spec.affinity", budget)
        tolerations = _tolerations(spec.get("tolerations"), f"{source}: spec.tolerations", budget)
        return cls(node_selector=selector, terms=terms, tolerations=tolerations)


EMPTY = Constraints()


def scope_text(constraints: Constraints, matched: int, total: int, tainted: int) -> str:
    """'12 of 50 nodes matching nodeSelector {zone=a}' (+ ', 3 excluded by taints')."""
    what = constraints.describe()
    text = f"{matched} of {total} {'node' if total == 1 else 'nodes'}"
    if what:
        text += f" matching {what}"
    if tainted:
        text += f", {tainted} excluded by taints"
    return text


def feasible_capacity(
    nodes: Iterable[tuple[NodeFacts, NodeCapacity]], constraints: Constraints
) -> ClusterCapacity:
    """The threshold by a plain scan of every node (the reference the cache's index matches)."""
    published = [(facts, node) for facts, node in nodes if node.publishes]
    selected = [(facts, node) for facts, node in published if constraints.matches(facts)]
    admitted = [node for facts, node in selected if constraints.tolerates(facts)]
    found = ClusterCapacity.of(admitted)
    scope = scope_text(constraints, len(admitted), len(published), len(selected) - len(admitted))
    return ClusterCapacity(
        nodes=found.nodes,
        cpus=found.cpus,
        memory_bytes=found.memory_bytes,
        hugepages=found.hugepages,
        scope=scope,
    )


# --- reading the VMI ------------------------------------------------------------------------


def _spend(budget: list[int], count: int, source: str) -> None:
    budget[0] -= count
    if budget[0] < 0:
        raise InputError(source, f"more than {MAX_REQUIREMENTS} requirements, values and tolerations")


def _string_map(value: object, source: str, budget: list[int]) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InputError(source, "expected a map of strings to strings")
    _spend(budget, len(value), source)
    return tuple(sorted(value.items()))


def _list(value: object, source: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(source, f"expected a list, got {type(value).__name__}")
    return value


def _mapping(value: object, source: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(source, f"expected an object, got {type(value).__name__}")
    return value


def _text(value: object, source: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(source, f"expected a string, got {type(value).__name__}")
    return value


def _required_terms(value: object, source: str, budget: list[int]) -> tuple[Term, ...] | None:
    affinity = _mapping(value, source)
    node_affinity = _mapping(affinity.get("nodeAffinity"), f"{source}.nodeAffinity")
    where = f"{source}.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is None:
        return None
    raw_terms = _list(_mapping(required, where).get("nodeSelectorTerms"), f"{where}.nodeSelectorTerms")
    terms: list[Term] = []
    for i, raw in enumerate(raw_terms):
        at = f"{where}.nodeSelectorTerms[{i}]"
        term = _mapping(raw, at)
        expressions = _requirements(term.get("matchExpressions"), f"{at}.matchExpressions", budget)
        fields = _requirements(term.get("matchFields"), f"{at}.matchFields", budget)
        terms.append(_checked_term(expressions, fields))
    return tuple(terms)


def _requirements(value: object, source: str, budget: list[int]) -> tuple[Requirement, ...]:
    found: list[Requirement] = []
    for i, raw in enumerate(_list(value, source)):
        at = f"{source}[{i}]"
        item = _mapping(raw, at)
        values = _list(item.get("values"), f"{at}.values")
        if not all(isinstance(v, str) for v in values):
            raise InputError(f"{at}.values", "expected a list of strings")
        _spend(budget, 1 + len(values), source)
        found.append(
            Requirement(
                _text(item.get("key"), f"{at}.key"),
                _text(item.get("operator"), f"{at}.operator"),
                tuple(values),
            )
        )
    return tuple(found)


def _checked_term(expressions: tuple[Requirement, ...], fields: tuple[Requirement, ...]) -> Term:
    if not expressions and not fields:
        return Term(error="empty term")
    for requirement in expressions:
        problem = _label_problem(requirement)
        if problem:
            return Term(expressions, fields, error=f"matchExpressions {requirement.key!r}: {problem}")
    for requirement in fields:
        if requirement.operator not in FIELD_OPERATORS:
            return Term(
                expressions, fields, error=f"matchFields: operator {requirement.operator!r} unsupported"
            )
        if len(requirement.values) != 1:
            return Term(expressions, fields, error="matchFields: values must have one element")
    return Term(expressions, fields)


def _label_problem(requirement: Requirement) -> str:
    operator, values = requirement.operator, requirement.values
    if operator not in LABEL_OPERATORS:
        return f"operator {operator!r} unsupported"
    if not _valid_key(requirement.key):
        return "invalid label key"
    if operator in ("In", "NotIn") and not values:
        return f"{operator} needs values"
    if operator in ("Exists", "DoesNotExist") and values:
        return f"{operator} takes no values"
    if operator in ("Gt", "Lt") and (len(values) != 1 or _int64(values[0]) is None):
        return f"{operator} needs one integer value"
    if not all(_valid_value(v) for v in values):
        return "invalid label value"
    return ""


def _valid_key(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _PREFIX_RE.fullmatch(prefix)):
        return False
    return 0 < len(name) <= 63 and _NAME_RE.fullmatch(name) is not None


def _valid_value(value: str) -> bool:
    return value == "" or (len(value) <= 63 and _NAME_RE.fullmatch(value) is not None)


def _int64(text: str) -> int | None:
    if not _INT64_RE.fullmatch(text):
        return None
    number = int(text)
    return number if _INT64_MIN <= number <= _INT64_MAX else None


def _tolerations(value: object, source: str, budget: list[int]) -> tuple[Toleration, ...]:
    items = _list(value, source)
    _spend(budget, len(items), source)
    found: list[Toleration] = []
    for i, raw in enumerate(items):
        at = f"{source}[{i}]"
        item = _mapping(raw, at)
        toleration = Toleration(
            key=_text(item.get("key"), f"{at}.key"),
            operator=_text(item.get("operator"), f"{at}.operator"),
            value=_text(item.get("value"), f"{at}.value"),
            effect=_text(item.get("effect"), f"{at}.effect"),
        )
        if toleration not in found:
            found.append(toleration)
    return tuple(found)
