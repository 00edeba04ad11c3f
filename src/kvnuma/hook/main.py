"""The hook's process: KubeVirt's ``onDefineDomain --vmi <JSON> --domain <XML>`` contract.

The complete new domain XML goes to stdout, explanations to stderr. Exit codes:

    0  placed, or nothing to do, or an internal failure with the domain returned unchanged
    1  strict mode and the placement failed (KubeVirt then fails the domain definition)
    2  bad input: malformed arguments, VMI JSON or domain XML (nothing is printed on stdout)

Strict mode: ``--strict``, the environment variable ``KVNUMA_PCI_NUMA_STRICT=1``, or the VMI
annotation ``kvnuma.io/pci-numa: strict``. The annotation value ``off`` opts a VMI out.
``KVNUMA_SYSFS_ROOT`` (or ``--sysfs``) points at another sysfs root (default ``/sys``).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kvnuma.errors import InputError, KvnumaError
from kvnuma.names import PCI_NUMA_ANNOTATION
from kvnuma.pci.domain_facts import hostdevs
from kvnuma.pci.place import place_in_doc
from kvnuma.pci.sysfs import read_host_pci
from kvnuma.xmldoc import parse_document

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["HookOutcome", "main", "on_define_domain"]

HOOK_VERSIONS = ("v1alpha1", "v1alpha2", "v1alpha3")
_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class HookOutcome:
    stdout: str
    stderr: list[str] = field(default_factory=list)
    exit_code: int = 0


def _annotations(vmi_json: str) -> dict[str, str]:
    try:
        vmi = json.loads(vmi_json)
    except ValueError as error:
        raise InputError("--vmi", f"not valid JSON: {error}") from None
    except RecursionError:
        raise InputError("--vmi", "not valid JSON: nested too deeply") from None
    if not isinstance(vmi, dict):
        raise InputError("--vmi", "not a JSON object (a VirtualMachineInstance)")
    metadata = vmi.get("metadata") or {}
    annotations = metadata.get("annotations") or {} if isinstance(metadata, dict) else {}
    return {str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, dict) else {}


def on_define_domain(
    vmi_json: str, domain_xml: str, *, sysfs_root: str = "/sys", strict: bool = False
) -> HookOutcome:
    """The hook's answer for one call; never raises."""
    try:
        annotations = _annotations(vmi_json)
        setting = annotations.get(PCI_NUMA_ANNOTATION, "").strip().lower()
        doc = parse_document(domain_xml, source="--domain", root="domain")
    except InputError as error:
        return HookOutcome("", [f"kvnuma hook: error: {error.one_line()}"], 2)
    if setting in ("off", "false", "disabled"):
        return HookOutcome(
            domain_xml, [f"kvnuma hook: {PCI_NUMA_ANNOTATION}={setting}: domain left unchanged"]
        )
    strict = strict or setting == "strict"
    try:
        addresses = [str(device.source) for device in hostdevs(doc.root)]
        facts = read_host_pci(sysfs_root, addresses)
        result = place_in_doc(
            doc,
            facts.numa_node,
            strict=strict,
            groups=facts.root_complex,
            host_cpu_nodes=facts.cpu_nodes,
        )
    except KvnumaError as error:
        problem = error.one_line()
    except Exception as error:  # an internal failure must not stop the VM from starting
        problem = f"internal error: {type(error).__name__}: {error}"
    else:
        return HookOutcome(result.xml, [f"kvnuma hook: {line}" for line in result.summary()])
    if strict:
        return HookOutcome("", [f"kvnuma hook: error (strict): {problem}"], 1)
    return HookOutcome(domain_xml, [f"kvnuma hook: domain left unchanged: {problem}"])


USAGE = (
    "usage: onDefineDomain [--version v1alpha1|v1alpha2|v1alpha3] --vmi JSON --domain XML "
    "[--strict] [--sysfs ROOT]"
)
_VALUED = ("--vmi", "--domain", "--version", "--sysfs")


def parse_arguments(arguments: Sequence[str]) -> dict[str, str]:
    """The hook's few options, parsed by hand so that every mistake is one line naming the option."""
    options: dict[str, str] = {}
    rest = list(arguments)
    if rest and rest[0] == "onDefineDomain":
        rest.pop(0)
    while rest:
        flag = rest.pop(0)
        name, equals, value = flag.partition("=")
        if name == "--strict" and not equals:
            options["strict"] = "1"
        elif name in _VALUED:
            if not equals:
                if not rest:
                    raise InputError(name, "needs a value")
                value = rest.pop(0)
            options[name[2:]] = value
        else:
            raise InputError(flag[:40], f"unknown argument; {USAGE}")
    for required in ("vmi", "domain"):
        if required not in options:
            raise InputError(f"--{required}", f"missing; {USAGE}")
    if options.get("version", HOOK_VERSIONS[-1]) not in HOOK_VERSIONS:
        raise InputError("--version", f"{options['version']!r} is not one of {', '.join(HOOK_VERSIONS)}")
    return options


def run(arguments: Sequence[str], environ: Mapping[str, str]) -> HookOutcome:
    try:
        options = parse_arguments(arguments)
    except InputError as error:
        return HookOutcome("", [f"kvnuma hook: error: {error.one_line()}"], 2)
    return on_define_domain(
        options["vmi"],
        options["domain"],
        sysfs_root=options.get("sysfs") or environ.get("KVNUMA_SYSFS_ROOT") or "/sys",
        strict="strict" in options or environ.get("KVNUMA_PCI_NUMA_STRICT", "").lower() in _TRUE,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Process entry point: ``argv`` includes the program name, as ``sys.argv`` does."""
    outcome = run(list(argv if argv is not None else sys.argv)[1:], os.environ)
    sys.stdout.write(outcome.stdout)
    sys.stdout.flush()
    for line in outcome.stderr:
        sys.stderr.write(line + "\n")
    return outcome.exit_code
