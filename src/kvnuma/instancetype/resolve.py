"""Find the instance type and preference a VirtualMachine names among the given documents.

``spec.instancetype`` / ``spec.preference`` carry ``name`` and ``kind``; an empty kind means the
cluster-wide kind (KubeVirt's VM defaulting), and the kind may be written as KubeVirt accepts it
(``VirtualMachineInstancetype``, ``virtualmachineinstancetype``, ``virtualmachineinstancetypes``).
A namespaced kind must live in the VM's namespace (when both say one). A reference that matches
nothing is one ``InputError`` in KubeVirt's words: ``<kind>.instancetype.kubevirt.io "<name>" not found``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kvnuma.errors import InputError
from kvnuma.instancetype.documents import (
    CLUSTER_INSTANCETYPE,
    CLUSTER_PREFERENCE,
    Instancetype,
    Preference,
    canonical_kind,
)
from kvnuma.instancetype.expand import expand

__all__ = ["expand_vm", "find_reference"]


def find_reference(
    vm: Mapping[str, Any],
    field: str,
    default_kind: str,
    documents: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    source: str,
) -> tuple[str, Mapping[str, Any]] | None:
    """The (source, document) the VM's ``spec.<field>`` names; None when the VM names none."""
    spec = vm.get("spec")
    ref = spec.get(field) if isinstance(spec, Mapping) else None
    if ref is None:
        return None
    path = f"{source}: spec.{field}"
    if not isinstance(ref, Mapping):
        raise InputError(path, "expected an object with name and kind")
    name = ref.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(f"{path}.name", "missing")
    raw_kind = ref.get("kind") or default_kind
    kind = canonical_kind(str(raw_kind))
    wanted_family = "Instancetype" if field == "instancetype" else "Preference"
    if kind is None or not kind.endswith(wanted_family):
        raise InputError(f"{path}.kind", f"unexpected kind {raw_kind!r}")
    metadata = vm.get("metadata")
    vm_namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
    for doc_source, doc in documents:
        doc_meta = doc.get("metadata")
        if doc.get("kind") != kind or not isinstance(doc_meta, Mapping) or doc_meta.get("name") != name:
            continue
        doc_namespace = doc_meta.get("namespace")
        namespaced = not kind.startswith("VirtualMachineCluster")
        if namespaced and vm_namespace and doc_namespace and doc_namespace != vm_namespace:
            continue
        return doc_source, doc
    given = ", ".join(sorted({f"{d.get('kind')}/{_name(d)}" for _, d in documents})) or "none"
    raise InputError(path, f'{kind.lower()}.instancetype.kubevirt.io "{name}" not found (given: {given})')


def expand_vm(
    vm: Mapping[str, Any], documents: Sequence[tuple[str, Mapping[str, Any]]], *, source: str = "VM"
) -> dict[str, Any]:
    """Expand ``vm`` with the instance type and preference it names, found in ``documents``."""
    instancetype: Instancetype | None = None
    preference: Preference | None = None
    found = find_reference(vm, "instancetype", CLUSTER_INSTANCETYPE, documents, source=source)
    if found is not None:
        instancetype = Instancetype.from_object(found[1], source=found[0])
    found = find_reference(vm, "preference", CLUSTER_PREFERENCE, documents, source=source)
    if found is not None:
        preference = Preference.from_object(found[1], source=found[0])
    return expand(vm, instancetype, preference, source=source)


def _name(doc: Mapping[str, Any]) -> str:
    metadata = doc.get("metadata")
    return str(metadata.get("name")) if isinstance(metadata, Mapping) else "?"
