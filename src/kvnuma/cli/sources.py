"""Shared CLI loaders: nodes (capabilities XML, sysfs root, Node object) and VMIs (a VMI, or a
VirtualMachine expanded with its instance type and preference).

    load_node(path)             -> NodeLayout (+ the HostTopology when the source has one)
    load_vmi(path, instancetype=..., preference=..., cluster_config=...) -> the VMI object (dict)
    load_cluster_config(path)   -> LiveUpdateConfig (a KubeVirt or HyperConverged CR)
    load_feature_gates(path)    -> the KubeVirt CR's developerConfiguration.featureGates
    vm_input_options            -> click options --instancetype FILE... --preference FILE...

Every problem is an ``InputError`` naming the file: the CLI prints one line and exits 2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from kvnuma.cli.options import load_host
from kvnuma.errors import InputError
from kvnuma.hotplug import LiveUpdateConfig, apply_defaults
from kvnuma.inputs import name_of, parse_documents, read_documents, read_text
from kvnuma.instancetype import expand_vm
from kvnuma.migration.nodes import NodeLayout
from kvnuma.model.topology import HostTopology
from kvnuma.topology.capabilities import parse_capabilities

__all__ = [
    "load_cluster_config",
    "load_cpu_model",
    "load_feature_gates",
    "load_node",
    "load_vmi",
    "vm_input_options",
]

_VM_KINDS = ("VirtualMachine", "VirtualMachineInstance")
_F = TypeVar("_F", bound=Callable[..., Any])


def vm_input_options(command: _F) -> _F:
    """``--instancetype FILE`` and ``--preference FILE`` (each repeatable), passed to the command
    as ``instancetypes`` and ``preferences`` (tuples of paths) for ``load_vmi``."""
    for flag, dest, what in (
        ("--preference", "preferences", "preference"),
        ("--instancetype", "instancetypes", "instance type"),
    ):
        command = click.option(
            flag,
            dest,
            multiple=True,
            type=click.Path(path_type=Path),
            help=f"File(s) with the {what} the VirtualMachine names (repeatable).",
        )(command)
    return command


def load_node(path: Path) -> tuple[NodeLayout, HostTopology | None]:
    """A node from a sysfs root (a folder), a capabilities XML file or a Node object (YAML/JSON)."""
    if path.is_dir():
        topology = load_host(path, None, None)
        return NodeLayout.from_topology(name_of(path), topology), topology
    text = read_text(path)
    if text.lstrip().startswith("<"):
        topology = parse_capabilities(text, source=name_of(path))
        return NodeLayout.from_topology(name_of(path), topology), topology
    documents = parse_documents(text, source=name_of(path))
    if len(documents) != 1:
        raise InputError(name_of(path), f"expected one Node object, found {len(documents)} documents")
    return NodeLayout.from_node_object(documents[0], source=name_of(path)), None


def load_vmi(
    path: Path,
    *,
    instancetype: Path | Iterable[Path] | None = None,
    preference: Path | Iterable[Path] | None = None,
    cluster_config: Path | None = None,
) -> dict[str, Any]:
    """The VMI object in ``path``; a VirtualMachine is expanded with the instance type and
    preference it names, looked up in ``instancetype``/``preference`` files and in ``path``
    itself (a multi-document file may carry all three). With ``cluster_config`` the VMI
    mutator's hotplug defaults (maxSockets) are applied as KubeVirt would."""
    documents = [(name_of(path), doc) for doc in read_documents(path)]
    if len(documents) == 1 and "kind" not in documents[0][1]:  # a bare VMI without apiVersion/kind
        documents = [(name_of(path), {**documents[0][1], "kind": "VirtualMachineInstance"})]
    vms = [(source, doc) for source, doc in documents if doc.get("kind") in _VM_KINDS]
    if len(vms) != 1:
        raise InputError(
            name_of(path), f"expected one VirtualMachine or VirtualMachineInstance, found {len(vms)}"
        )
    source, obj = vms[0]
    extra = [(s, d) for s, d in documents if d is not obj]
    for group in (instancetype, preference):
        for extra_path in _paths(group):
            extra += [(name_of(extra_path), doc) for doc in read_documents(extra_path)]
    if obj.get("kind") == "VirtualMachine":
        vmi = expand_vm(obj, extra, source=source)
    else:
        if extra and _names_any(extra):
            raise InputError(source, "instance type/preference files apply to a VirtualMachine, not a VMI")
        vmi = dict(obj)
    if cluster_config is not None:
        vmi = apply_defaults(vmi, load_cluster_config(cluster_config), source=source)
    return vmi


def load_cluster_config(path: Path) -> LiveUpdateConfig:
    documents = read_documents(path)
    configs = [doc for doc in documents if doc.get("kind") in ("KubeVirt", "HyperConverged")]
    if len(configs) != 1:
        raise InputError(
            name_of(path), f"expected one KubeVirt or HyperConverged object, found {len(configs)}"
        )
    return LiveUpdateConfig.from_object(configs[0], source=name_of(path))


def load_feature_gates(path: Path) -> frozenset[str]:
    """``spec.configuration.developerConfiguration.featureGates`` of the KubeVirt CR in ``path``."""
    documents = [doc for doc in read_documents(path) if doc.get("kind") == "KubeVirt"]
    if len(documents) != 1:
        raise InputError(name_of(path), f"expected one KubeVirt object, found {len(documents)}")
    node: Any = documents[0]
    for key in ("spec", "configuration", "developerConfiguration"):
        node = node.get(key) if isinstance(node, Mapping) else None
    gates = node.get("featureGates") if isinstance(node, Mapping) else None
    if gates is None:
        return frozenset()
    if not isinstance(gates, list) or not all(isinstance(gate, str) for gate in gates):
        where = f"{path}: spec.configuration.developerConfiguration.featureGates"
        raise InputError(where, "expected a list of feature gate names")
    from kvnuma.names import closest_feature_gate

    for gate in gates:
        meant = closest_feature_gate(gate)
        if meant is not None:
            click.echo(
                f"kvnuma: warning: {name_of(path)}: feature gate {gate!r} is not one KubeVirt knows "
                f"(names are case-sensitive); did you mean {meant!r}?",
                err=True,
            )
    return frozenset(gates)


def load_cpu_model(path: Path) -> str:
    """``spec.configuration.cpuModel`` of the KubeVirt CR in ``path`` ("" when unset)."""
    documents = [doc for doc in read_documents(path) if doc.get("kind") == "KubeVirt"]
    if len(documents) != 1:
        raise InputError(str(path), f"expected one KubeVirt object, found {len(documents)}")
    configuration = (documents[0].get("spec") or {}).get("configuration") or {}
    model = configuration.get("cpuModel") if isinstance(configuration, Mapping) else None
    if model is None:
        return ""
    if not isinstance(model, str):
        raise InputError(f"{path}: spec.configuration.cpuModel", "expected a string")
    return model


def _paths(group: Path | Iterable[Path] | None) -> list[Path]:
    if group is None:
        return []
    if isinstance(group, Path):
        return [group]
    return list(group)


def _names_any(documents: Sequence[tuple[str, Mapping[str, Any]]]) -> bool:
    return any(str(doc.get("kind", "")).startswith("VirtualMachine") for _, doc in documents)
