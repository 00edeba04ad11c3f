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

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kvnuma.errors import InputError, KvnumaError
from kvnuma.pci.domain_facts import hostdevs
from kvnuma.pci.place import place_in_doc
from kvnuma.pci.sysfs import read_host_pci
from kvnuma.pci.xmltree import parse_domain

__all__ = ["ANNOTATION", "HookOutcome", "main", "on_define_domain"]

ANNOTATION = "kvnuma.io/pci-numa"
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
        setting = annotations.get(ANNOTATION, "").strip().lower()
        doc = parse_domain(domain_xml, source="--domain")
    except InputError as error:
        return HookOutcome("", [f"kvnuma hook: error: {error.one_line()}"], 2)
    if setting in ("off", "false", "disabled"):
        return HookOutcome(domain_xml, [f"kvnuma hook: {ANNOTATION}={setting}: domain left unchanged"])
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="onDefineDomain",
        description="kvnuma PCI NUMA placement (KubeVirt hook sidecar)",
        allow_abbrev=False,
    )
    parser.add_argument("point", nargs="?", choices=["onDefineDomain"], help="the hook point")
    parser.add_argument("--version", choices=HOOK_VERSIONS, help="hook API version (as the shim takes it)")
    parser.add_argument("--vmi", required=True, help="the VirtualMachineInstance as JSON")
    parser.add_argument("--domain", required=True, help="the libvirt domain XML")
    parser.add_argument("--strict", action="store_true", help="fail instead of leaving devices in place")
    parser.add_argument("--sysfs", help="sysfs root (default $KVNUMA_SYSFS_ROOT or /sys)")
    return parser


def run(arguments: Sequence[str], environ: Mapping[str, str]) -> HookOutcome:
    options = _parser().parse_args(list(arguments))
    return on_define_domain(
        options.vmi,
        options.domain,
        sysfs_root=options.sysfs or environ.get("KVNUMA_SYSFS_ROOT") or "/sys",
        strict=options.strict or environ.get("KVNUMA_PCI_NUMA_STRICT", "").lower() in _TRUE,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Process entry point: ``argv`` includes the program name, as ``sys.argv`` does."""
    outcome = run(list(argv if argv is not None else sys.argv)[1:], os.environ)
    sys.stdout.write(outcome.stdout)
    sys.stdout.flush()
    for line in outcome.stderr:
        sys.stderr.write(line + "\n")
    return outcome.exit_code
