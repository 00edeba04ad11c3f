"""A VirtualMachine plus its instance type and preference, expanded into the VMI KubeVirt creates.

Follows KubeVirt's ``ApplyToVMI`` (``pkg/instancetype/apply``) for the fields that shape CPU,
memory and NUMA:

* conflicts are found first, and every one is reported in one ``InstancetypeConflict`` with
  KubeVirt's text ``VM field(s) <paths> conflicts with selected instance type``: the VM must not
  set CPU requests/limits, ``cpu.sockets/cores/threads``; nor, when the instance type sets them,
  ``cpu.model``, ``dedicatedCpuPlacement``, ``isolateEmulatorThread``, ``cpu.numa``,
  ``cpu.realtime``, ``ioThreadsPolicy``; memory conflicts stop at the first (``memory.guest``,
  ``memory.hugepages``, ``memory.maxGuest``, memory requests, memory limits); an annotation
  conflicts only when the same key has a different value;
* then model, dedicated placement, emulator isolation, NUMA, realtime and maxSockets are copied,
  the guest vCPUs become sockets/cores/threads (``kvnuma.instancetype.cpu_topology``), memory guest,
  hugepages, maxGuest and the overcommit request are set, the ``ioThreadsPolicy`` and annotations
  are added; the preference's annotations fill keys still unset.

The VMI's hotplug defaults (maxSockets) are not applied here: that is the VMI mutator's work,
``kvnuma.hotplug.apply_defaults``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from kvnuma.errors import InputError, RuleError
from kvnuma.instancetype.cpu_topology import guest_cpu_topology
from kvnuma.instancetype.documents import CLUSTER_INSTANCETYPE, Instancetype, Preference
from kvnuma.model.quantity import format_bytes

__all__ = ["InstancetypeConflict", "expand"]

_BASE = "spec.template.spec"


class InstancetypeConflict(InputError):
    """The VM sets fields its instance type owns; ``fields`` lists their paths."""

    def __init__(self, source: str, fields: tuple[str, ...]) -> None:
        self.fields = fields
        super().__init__(source, f"VM field(s) {', '.join(fields)} conflicts with selected instance type")


def expand(
    vm: Mapping[str, Any],
    instancetype: Instancetype | None,
    preference: Preference | None,
    *,
    source: str = "VM",
) -> dict[str, Any]:
    """The VMI object for ``vm``; ``vm`` is not modified."""
    spec = vm.get("spec")
    template = spec.get("template") if isinstance(spec, Mapping) else None
    if not isinstance(template, Mapping):
        raise InputError(f"{source}: spec.template", "missing")
    vm_meta = vm.get("metadata") if isinstance(vm.get("metadata"), Mapping) else {}
    assert isinstance(vm_meta, Mapping)
    meta = copy.deepcopy(dict(template.get("metadata") or {}))
    vmi_spec = copy.deepcopy(dict(template.get("spec") or {}))
    domain = vmi_spec.setdefault("domain", {})
    if not isinstance(domain, dict):
        raise InputError(f"{source}: {_BASE}.domain", "expected an object")
    annotations = meta.setdefault("annotations", {})
    labels = meta.setdefault("labels", {})
    if not isinstance(annotations, dict) or not isinstance(labels, dict):
        raise InputError(f"{source}: spec.template.metadata", "annotations and labels must be objects")

    if instancetype is not None:
        conflicts = _conflicts(domain, instancetype, annotations)
        if conflicts:
            raise InstancetypeConflict(source, conflicts)
        _check_requirements(instancetype, preference)
        _apply_cpu(domain, instancetype, preference)
        _apply_memory(domain, instancetype)
        if instancetype.io_threads_policy is not None:
            domain["ioThreadsPolicy"] = instancetype.io_threads_policy
        annotations.update(instancetype.annotations)
        cluster = instancetype.kind == CLUSTER_INSTANCETYPE
        annotations[
            "kubevirt.io/cluster-instancetype-name" if cluster else "kubevirt.io/instancetype-name"
        ] = instancetype.name
        labels[
            "instancetype.kubevirt.io/cluster-instancetype"
            if cluster
            else "instancetype.kubevirt.io/instancetype"
        ] = instancetype.name
    if preference is not None:
        for key, value in preference.annotations.items():
            annotations.setdefault(key, value)
        cluster_pref = preference.kind.startswith("VirtualMachineCluster")
        annotations[
            "kubevirt.io/cluster-preference-name" if cluster_pref else "kubevirt.io/preference-name"
        ] = preference.name
    if not annotations:
        del meta["annotations"]
    if not labels:
        del meta["labels"]
    if "name" in vm_meta:
        meta["name"] = vm_meta["name"]
    if vm_meta.get("namespace"):
        meta["namespace"] = vm_meta["namespace"]
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": meta,
        "spec": vmi_spec,
    }


def _section(domain: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    value: Any = domain
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _conflicts(
    domain: Mapping[str, Any], it: Instancetype, annotations: Mapping[str, Any]
) -> tuple[str, ...]:
    cpu = _section(domain, "cpu")
    memory = _section(domain, "memory")
    requests = _section(domain, "resources", "requests")
    limits = _section(domain, "resources", "limits")
    found: list[str] = []
    checks = [
        ("domain.resources.requests.cpu", "cpu" in requests),
        ("domain.resources.limits.cpu", "cpu" in limits),
        ("domain.cpu.sockets", bool(cpu.get("sockets"))),
        ("domain.cpu.cores", bool(cpu.get("cores"))),
        ("domain.cpu.threads", bool(cpu.get("threads"))),
        ("domain.cpu.model", bool(cpu.get("model")) and it.model is not None),
        (
            "domain.cpu.dedicatedCpuPlacement",
            bool(cpu.get("dedicatedCpuPlacement")) and it.dedicated_cpu_placement is not None,
        ),
        (
            "domain.cpu.isolateEmulatorThread",
            bool(cpu.get("isolateEmulatorThread")) and it.isolate_emulator_thread is not None,
        ),
        ("domain.cpu.numa", cpu.get("numa") is not None and it.numa is not None),
        ("domain.cpu.realtime", cpu.get("realtime") is not None and it.realtime is not None),
    ]
    found += [f"{_BASE}.{path}" for path, hit in checks if hit]
    memory_checks = [
        ("domain.memory.guest", memory.get("guest") is not None),
        ("domain.memory.hugepages", memory.get("hugepages") is not None and it.hugepages is not None),
        ("domain.memory.maxGuest", memory.get("maxGuest") is not None and it.max_guest is not None),
        ("domain.resources.requests.memory", "memory" in requests),
        ("domain.resources.limits.memory", "memory" in limits),
    ]
    found += [f"{_BASE}.{path}" for path, hit in memory_checks if hit][:1]
    if domain.get("ioThreadsPolicy") is not None and it.io_threads_policy is not None:
        found.append(f"{_BASE}.domain.ioThreadsPolicy")
    for key, value in it.annotations.items():
        if key in annotations and annotations[key] != value:
            found.append(f"spec.template.metadata.annotations.{key}")
    return tuple(found)


def _check_requirements(it: Instancetype, preference: Preference | None) -> None:
    if preference is None:
        return
    if preference.required_vcpus is not None and it.guest_vcpus < preference.required_vcpus:
        raise RuleError(
            "preference-requirements",
            needed=f"{preference.required_vcpus} vCPU",
            available=f"{it.guest_vcpus} vCPU",
            detail=f"insufficient CPU resources of {it.guest_vcpus} vCPU provided by instance type "
            f"{it.name}, preference {preference.name} requires {preference.required_vcpus} vCPU",
        )
    if (
        preference.required_memory_bytes is not None
        and it.guest_memory_bytes < preference.required_memory_bytes
    ):
        need = format_bytes(preference.required_memory_bytes)
        raise RuleError(
            "preference-requirements",
            needed=need,
            available=it.guest_memory,
            detail=f"insufficient Memory resources of {it.guest_memory} provided by instance type "
            f"{it.name}, preference {preference.name} requires {need}",
        )


def _apply_cpu(domain: dict[str, Any], it: Instancetype, preference: Preference | None) -> None:
    topology = guest_cpu_topology(it.guest_vcpus, preference)
    cpu = domain.setdefault("cpu", {})
    if it.model is not None:
        cpu["model"] = it.model
    if it.dedicated_cpu_placement is not None:
        cpu["dedicatedCpuPlacement"] = it.dedicated_cpu_placement
    if it.isolate_emulator_thread is not None:
        cpu["isolateEmulatorThread"] = it.isolate_emulator_thread
    if it.numa is not None:
        cpu["numa"] = copy.deepcopy(dict(it.numa))
    if it.realtime is not None:
        cpu["realtime"] = copy.deepcopy(dict(it.realtime))
    if it.max_sockets is not None:
        cpu["maxSockets"] = it.max_sockets
    cpu["sockets"] = topology.sockets
    cpu["cores"] = topology.cores
    cpu["threads"] = topology.threads


def _apply_memory(domain: dict[str, Any], it: Instancetype) -> None:
    memory = domain.setdefault("memory", {})
    memory["guest"] = it.guest_memory
    if it.overcommit_percent > 0:
        requested = it.guest_memory_bytes * (1 - Fraction(it.overcommit_percent, 100))
        resources = domain.setdefault("resources", {})
        resources.setdefault("requests", {})["memory"] = str(int(requested))
    if it.hugepages is not None:
        memory["hugepages"] = copy.deepcopy(dict(it.hugepages))
    if it.max_guest is not None:
        memory["maxGuest"] = it.max_guest
