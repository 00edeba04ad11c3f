"""Server-side printing: ``Accept: application/json;as=Table;g=meta.k8s.io;v=v1`` answers a
``meta.k8s.io/v1`` Table, which is what ``kubectl get`` asks for and prints.

Following "Receiving resources as Tables" (API concepts) and the apiserver's printers:

* Nodes: Name, Status (Ready / NotReady / Unknown from the Ready condition, then
  SchedulingDisabled when cordoned), Roles (``node-role.kubernetes.io/*`` and ``kubernetes.io/role``
  labels, else ``<none>``), Age, Version; ``-o wide`` adds Internal-IP, External-IP, OS-Image,
  Kernel-Version, Container-Runtime (priority 1).
* custom resources: Name, then the version's ``additionalPrinterColumns`` (simple ``.a.b`` JSON
  paths; ``date`` columns as an age), or Age when it declares none.
* Namespaces: Name, Status (the phase), Age.
* anything else (CustomResourceDefinitions): the default columns Name and Created At (RFC 3339).
* ``includeObject``: ``Metadata`` (the default: PartialObjectMetadata), ``Object`` or ``None``.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from kubeapi.status import ApiFailure
from kubeapi.store import NAMESPACE, NODE, ResourceType

__all__ = ["human_duration", "table", "wants_table"]

_NAME = {
    "name": "Name",
    "type": "string",
    "format": "name",
    "description": "Name must be unique within a namespace.",
    "priority": 0,
}
_AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created."
)


def wants_table(accept: str) -> bool:
    first = accept.split(",", maxsplit=1)[0].replace(" ", "")
    parts = set(first.split(";"))
    return "as=Table" in parts and "g=meta.k8s.io" in parts and bool(parts & {"v=v1", "v=v1beta1"})


def human_duration(seconds: float) -> str:
    """apimachinery's ``duration.HumanDuration`` (what the AGE column shows)."""
    if seconds < -1:
        return "<invalid>"
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _age(timestamp: Any, now: datetime) -> str:
    if not isinstance(timestamp, str):
        return "<unknown>"
    try:
        then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "<unknown>"
    return human_duration((now - then).total_seconds())


def _column(name: str, kind: str = "string", description: str = "", priority: int = 0) -> dict[str, Any]:
    return {"name": name, "type": kind, "format": "", "description": description, "priority": priority}


def _node_columns() -> list[dict[str, Any]]:
    return [
        _NAME,
        _column("Status", description="The status of the node"),
        _column("Roles", description="The roles of the node"),
        _column("Age", description=_AGE_DESCRIPTION),
        _column("Version", description="Kubelet Version reported by the node."),
        _column("Internal-IP", description="List of internal IPs (if any).", priority=1),
        _column("External-IP", description="List of external IPs (if any).", priority=1),
        _column("OS-Image", description="OS Image reported by the node from /etc/os-release.", priority=1),
        _column("Kernel-Version", description="Kernel Version reported by the node.", priority=1),
        _column(
            "Container-Runtime", description="Container Runtime Version reported by the node.", priority=1
        ),
    ]


def _node_cells(node: dict[str, Any], now: datetime) -> list[Any]:
    meta, spec, status = node.get("metadata", {}), node.get("spec") or {}, node.get("status") or {}
    ready = [c for c in status.get("conditions") or [] if isinstance(c, dict) and c.get("type") == "Ready"]
    states = [] if not ready else ["Ready" if ready[0].get("status") == "True" else "NotReady"]
    states = states or ["Unknown"]
    if spec.get("unschedulable"):
        states.append("SchedulingDisabled")
    roles = set()
    for key, value in (meta.get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key.split("/", 1)[1]:
            roles.add(key.split("/", 1)[1])
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    info = status.get("nodeInfo") or {}

    def address(kind: str) -> str:
        for entry in status.get("addresses") or []:
            if isinstance(entry, dict) and entry.get("type") == kind:
                return str(entry.get("address", ""))
        return "<none>"

    return [
        meta.get("name", ""),
        ",".join(states),
        ",".join(sorted(roles)) or "<none>",
        _age(meta.get("creationTimestamp"), now),
        info.get("kubeletVersion", ""),
        address("InternalIP"),
        address("ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _json_path(obj: Any, path: str) -> Any:
    value = obj
    for part in path.strip().lstrip(".").split("."):
        if not part:
            continue
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _custom_columns(printer: list[dict[str, Any]]) -> list[dict[str, Any]]:
    printer = printer or [
        {
            "name": "Age",
            "type": "date",
            "jsonPath": ".metadata.creationTimestamp",
            "description": _AGE_DESCRIPTION,
        }
    ]
    return [
        _NAME,
        *(
            {
                "name": c["name"],
                "type": c.get("type", "string"),
                "format": c.get("format", ""),
                "description": c.get("description", ""),
                "priority": c.get("priority", 0),
            }
            for c in printer
        ),
    ]


def _custom_cells(obj: dict[str, Any], printer: list[dict[str, Any]], now: datetime) -> list[Any]:
    printer = printer or [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
    cells: list[Any] = [obj.get("metadata", {}).get("name", "")]
    for column in printer:
        value = _json_path(obj, str(column.get("jsonPath", "")))
        if column.get("type") == "date" and value is not None:
            value = _age(value, now)
        cells.append(value)
    return cells


def table(
    res: ResourceType,
    objects: list[dict[str, Any]],
    list_meta: dict[str, Any],
    printer: list[dict[str, Any]] | None,
    include: str,
) -> dict[str, Any]:
    """``printer``: the CRD version's additionalPrinterColumns for a custom resource, else None."""
    if include not in ("", "Metadata", "Object", "None"):
        raise ApiFailure(
            400,
            f'includeObject: Unsupported value: "{include}": supported values: "Metadata", "None", "Object"',
            reason="BadRequest",
        )
    now = datetime.now(UTC)
    if res == NODE:
        columns, cells = _node_columns(), [_node_cells(o, now) for o in objects]
    elif res == NAMESPACE:
        columns = [
            _NAME,
            _column("Status", description="The status of the namespace"),
            _column("Age", description=_AGE_DESCRIPTION),
        ]
        cells = [
            [
                o["metadata"].get("name", ""),
                (o.get("status") or {}).get("phase", ""),
                _age(o["metadata"].get("creationTimestamp"), now),
            ]
            for o in objects
        ]
    elif res.custom or printer is not None:
        columns = _custom_columns(printer or [])
        cells = [_custom_cells(o, printer or [], now) for o in objects]
    else:
        columns = [_NAME, {**_column("Created At", "date", _AGE_DESCRIPTION)}]
        cells = [[o["metadata"].get("name", ""), o["metadata"].get("creationTimestamp")] for o in objects]
    rows = []
    for obj, row in zip(objects, cells, strict=True):
        entry: dict[str, Any] = {"cells": row}
        if include == "Object":
            entry["object"] = obj
        elif include != "None":
            entry["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": copy.deepcopy(obj.get("metadata", {})),
            }
        rows.append(entry)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {
            k: v for k, v in list_meta.items() if k in ("resourceVersion", "continue", "remainingItemCount")
        },
        "columnDefinitions": columns,
        "rows": rows,
    }
