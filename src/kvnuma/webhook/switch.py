"""Whether auto-NUMA is on, and which source said so.

Three sources, the first that speaks decides:

    flag        ``kvnuma webhook --auto-numa=on|off`` (``cluster``, the default, defers to the CR)
    annotation  ``kvnuma.io/auto-numa: "true"|"false"`` on the KubeVirt CR: survives every KubeVirt
                release's CRD (annotations are metadata, never pruned)
    field       ``spec.configuration.developerConfiguration.autoNUMAEnablement`` (VEP 135); today's
                KubeVirt CRDs do not declare it, so kube-apiserver prunes it; honoured when present
    default     none of them: off

With several KubeVirt CRs, auto-NUMA is on when any of them turns it on. An annotation value other
than ``true``/``false`` is reported as a problem and the CR falls through to the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kvnuma.names import AUTO_NUMA_ANNOTATION

__all__ = [
    "FIELD_PATH",
    "FLAG_VALUES",
    "Source",
    "Switch",
    "auto_numa_enabled",
    "combine",
    "from_flag",
    "from_kubevirt",
]

FIELD_PATH = "spec.configuration.developerConfiguration.autoNUMAEnablement"
FLAG_VALUES = ("on", "off", "cluster")


class Source(StrEnum):
    FLAG = "flag"
    ANNOTATION = "annotation"
    FIELD = "field"
    DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class Switch:
    enabled: bool = False
    source: Source = Source.DEFAULT
    detail: str = "no KubeVirt CR turns it on"
    problem: str = ""

    def describe(self) -> str:
        """``auto-NUMA on (annotation kvnuma.io/auto-numa=true on KubeVirt kubevirt/kubevirt)``"""
        return f"auto-NUMA {'on' if self.enabled else 'off'} ({self.source.value}: {self.detail})"


def auto_numa_enabled(kubevirt: Mapping[str, Any]) -> bool:
    """The VEP 135 field (absent or not a boolean = false)."""
    return _field(kubevirt) is True


def _field(kubevirt: Mapping[str, Any]) -> Any:
    node: Any = kubevirt
    for key in ("spec", "configuration", "developerConfiguration", "autoNUMAEnablement"):
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def from_flag(value: str) -> Switch | None:
    """``--auto-numa``: ``on``/``off`` -> a fixed switch; ``cluster`` -> None (read the CR)."""
    if value == "cluster":
        return None
    if value not in FLAG_VALUES:
        raise ValueError(f"--auto-numa: expected one of {', '.join(FLAG_VALUES)}, got {value!r}")
    return Switch(value == "on", Source.FLAG, f"--auto-numa={value}")


def from_kubevirt(kubevirt: Mapping[str, Any]) -> Switch:
    metadata = kubevirt.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    name = f"{metadata.get('namespace', '')}/{metadata.get('name', '')}"
    annotations = metadata.get("annotations")
    problem = ""
    if isinstance(annotations, Mapping) and AUTO_NUMA_ANNOTATION in annotations:
        raw = annotations[AUTO_NUMA_ANNOTATION]
        text = str(raw).strip().lower()
        if text in ("true", "false"):
            return Switch(
                text == "true", Source.ANNOTATION, f"{AUTO_NUMA_ANNOTATION}={text} on KubeVirt {name}"
            )
        problem = (
            f'KubeVirt {name}: annotation {AUTO_NUMA_ANNOTATION}: expected "true" or "false", '
            f"got {str(raw)[:40]!r}"
        )
    value = _field(kubevirt)
    if isinstance(value, bool):
        return Switch(value, Source.FIELD, f"{FIELD_PATH}={str(value).lower()} on KubeVirt {name}", problem)
    return Switch(
        False, Source.DEFAULT, f"KubeVirt {name} sets neither {AUTO_NUMA_ANNOTATION} nor the field", problem
    )


def combine(switches: Iterable[Switch]) -> Switch:
    """Any CR that turns it on wins; else the first CR that turns it off explicitly; else default."""
    seen = list(switches)
    problems = "; ".join(s.problem for s in seen if s.problem)
    for wanted in (True, False):
        for switch in seen:
            if switch.enabled is wanted and (wanted or switch.source is not Source.DEFAULT):
                return Switch(switch.enabled, switch.source, switch.detail, problems)
    if seen:
        return Switch(False, Source.DEFAULT, seen[0].detail, problems)
    return Switch(problem=problems)
