"""The hook's process: KubeVirt's ``onDefineDomain --vmi <JSON> --domain <XML>`` contract.

The complete new domain XML goes to stdout, explanations to stderr (which KubeVirt records).
KubeVirt's sidecar-shim fails the VM's start when the hook exits non-zero, so the hook's one
error boundary (``run``) turns every failure — bad arguments, VMI JSON or domain XML (malformed,
too deep, not UTF-8), unreadable sysfs, an internal error — into the domain returned unchanged,
byte for byte, with one line on stderr saying why. Exit codes:

    0  placed, or nothing to do, or any failure with the domain returned unchanged
    1  strict mode and the placement (or the input) failed: KubeVirt then fails the definition
    2  no domain to return: the arguments have no ``--domain`` at all (nothing on stdout)
    3  the VMI's ``kvnuma.io/pci-numa-affinity-policy`` (``required`` or ``socket``) refused a
       device: nothing on stdout, KubeVirt fails the definition (the VMI's ``SyncFailed``
       event says ``exit status 3``; the sidecar's log has the line naming the devices)

Strict mode: ``--strict``, the environment variable ``KVNUMA_PCI_NUMA_STRICT=1``, or the VMI
annotation ``kvnuma.io/pci-numa: strict``. The annotation value ``off`` opts a VMI out.
``KVNUMA_SYSFS_ROOT`` (or ``--sysfs``) points at another sysfs root (default ``/sys``).

``kvnuma.io/cpuless-device-cells: "on"`` gives each device on a CPU-less host node a CPU-less
guest cell (``kvnuma.pci.cpuless``), tied to it by an ACPI Generic Initiator when the domain's
QEMU (``<emulator> --version``, or ``KVNUMA_QEMU_VERSION`` such as ``10.0``) is 9.0 or newer.

Before the PCI step, ``kvnuma.io/guest-numa`` / ``kvnuma.io/memory-policy`` add guest NUMA cells
and the memory policy (``kvnuma.hook.guest_numa``, one stderr line), and
``kvnuma.io/iothread-placement: cell`` pins each IOThread inside one host node
(``kvnuma.hook.iothread_cells``, one stderr line); a bad value leaves the whole domain unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kvnuma.errors import InputError, KvnumaError, RuleError
from kvnuma.hook.guest_numa import apply_guest_numa, wanted
from kvnuma.hook.iothread_cells import apply_iothread_cells
from kvnuma.names import PCI_NUMA_ANNOTATION, PCI_NUMA_POLICY_ANNOTATION, cpuless_cells_wanted
from kvnuma.pci.cpuless import has_generic_initiator
from kvnuma.pci.domain_facts import hostdevs
from kvnuma.pci.place import CpulessCells, place_in_doc
from kvnuma.pci.policy import POLICY_RULE, parse_policy
from kvnuma.pci.sysfs import read_cpu_nodes, read_host_pci, read_node_distances
from kvnuma.xmldoc import parse_document, to_text

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET
    from collections.abc import Mapping, Sequence

__all__ = ["HookOutcome", "main", "on_define_domain"]

HOOK_VERSIONS = ("v1alpha1", "v1alpha2", "v1alpha3")
REFUSED = 3
"""The exit code of a definition the PCI NUMA affinity policy refuses."""
_TRUE = ("1", "true", "yes", "on")
_DEFAULT_EMULATOR = "/usr/bin/qemu-system-x86_64"


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
    vmi_json: str,
    domain_xml: str,
    *,
    sysfs_root: str = "/sys",
    strict: bool = False,
    qemu_version: str | None = None,
) -> HookOutcome:
    """The hook's answer for one call; never raises."""
    try:
        annotations = _annotations(vmi_json)
        setting = annotations.get(PCI_NUMA_ANNOTATION, "").strip().lower()
        policy = parse_policy(
            annotations.get(PCI_NUMA_POLICY_ANNOTATION, ""),
            source=f"VMI annotation {PCI_NUMA_POLICY_ANNOTATION}",
        )
        cpuless = cpuless_cells_wanted(annotations)
        doc = parse_document(_domain_bytes(domain_xml), source="--domain", root="domain")
        numa_line = (
            apply_guest_numa(
                doc.root, annotations, read_cpu_nodes(sysfs_root), read_node_distances(sysfs_root)
            )
            if wanted(annotations)
            else None
        )
        io_line = apply_iothread_cells(doc.root, annotations, read_cpu_nodes(sysfs_root))
    except KvnumaError as error:
        return _unchanged(domain_xml, f"error: {error.one_line()}", strict)
    except Exception as error:  # RecursionError, MemoryError...: the VM must still start
        return _unchanged(domain_xml, f"error: --domain: {_internal(error)}", strict)
    numa = [f"kvnuma hook: {line}" for line in (numa_line, io_line) if line]
    if setting in ("off", "false", "disabled"):
        if numa:
            return HookOutcome(
                to_text(doc), [*numa, f"kvnuma hook: {PCI_NUMA_ANNOTATION}={setting}: no PCI placement"]
            )
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
            policy=policy,
            node_sockets=facts.node_sockets,
            problems=facts.problems,
            cpuless=CpulessCells(facts.node_distances, _has_generic_initiator(doc.root, qemu_version))
            if cpuless
            else None,
        )
    except RuleError as error:
        if error.rule == POLICY_RULE:
            return HookOutcome("", [f"kvnuma hook: refused: {error.one_line()}"], REFUSED)
        problem = error.one_line()
    except KvnumaError as error:
        problem = error.one_line()
    except Exception as error:  # an internal failure must not stop the VM from starting
        problem = _internal(error)
    else:
        return HookOutcome(result.xml, [*numa, *(f"kvnuma hook: {line}" for line in result.summary())])
    if strict:
        return HookOutcome("", [*numa, f"kvnuma hook: error (strict): {problem}"], 1)
    if numa:  # the guest NUMA edit stands; only the PCI placement failed
        return HookOutcome(to_text(doc), [*numa, f"kvnuma hook: error: {problem}; PCI devices left in place"])
    return HookOutcome(domain_xml, [f"kvnuma hook: error: {problem}; domain left unchanged"])


def _has_generic_initiator(root: ET.Element, stated: str | None) -> bool:
    """Whether the domain's QEMU has ``acpi-generic-initiator`` (9.0+): from ``stated``
    (``KVNUMA_QEMU_VERSION``) or ``<emulator> --version``; unknown counts as no."""
    text = stated
    if text is None:
        emulator = (root.findtext("devices/emulator") or "").strip() or _DEFAULT_EMULATOR
        try:
            done = subprocess.run(
                [emulator, "--version"],
                capture_output=True,
                timeout=10,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.SubprocessError):
            return False
        text = done.stdout[:4096].decode("ascii", "replace").partition("version ")[2]
    return has_generic_initiator(text)


def _internal(error: BaseException) -> str:
    if isinstance(error, RecursionError):
        return "nested too deeply"
    text = " ".join(str(error).split())[:200]
    return f"internal error: {type(error).__name__}: {text}"


def _domain_bytes(domain_xml: str) -> bytes:
    """The domain as the bytes KubeVirt passed (arguments that are not UTF-8 arrive with
    surrogate escapes; expat then names the bad byte)."""
    return domain_xml.encode("utf-8", "surrogateescape")


def _unchanged(domain_xml: str, problem: str, strict: bool) -> HookOutcome:
    if strict:
        return HookOutcome("", [f"kvnuma hook: {problem} (strict: the domain is not defined)"], 1)
    return HookOutcome(domain_xml, [f"kvnuma hook: {problem}; domain left unchanged"])


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


def _given_domain(arguments: Sequence[str]) -> str | None:
    """The ``--domain`` value, found without trusting the rest of the arguments."""
    for index, flag in enumerate(arguments):
        if flag.startswith("--domain="):
            return flag[len("--domain=") :]
        if flag == "--domain" and index + 1 < len(arguments):
            return arguments[index + 1]
    return None


def run(arguments: Sequence[str], environ: Mapping[str, str]) -> HookOutcome:
    """The hook's one error boundary: never raises (see the module text)."""
    strict_env = environ.get("KVNUMA_PCI_NUMA_STRICT", "").lower() in _TRUE
    try:
        options = parse_arguments(arguments)
    except InputError as error:
        domain = _given_domain(arguments)
        if domain is None:
            return HookOutcome("", [f"kvnuma hook: error: {error.one_line()}"], 2)
        return _unchanged(domain, f"error: {error.one_line()}", strict_env or "--strict" in arguments)
    try:
        return on_define_domain(
            options["vmi"],
            options["domain"],
            sysfs_root=options.get("sysfs") or environ.get("KVNUMA_SYSFS_ROOT") or "/sys",
            strict="strict" in options or strict_env,
            qemu_version=environ.get("KVNUMA_QEMU_VERSION"),
        )
    except BaseException as error:  # the last resort: the VM must still start
        if not isinstance(error, Exception):
            raise
        return _unchanged(options["domain"], f"error: {_internal(error)}", "strict" in options or strict_env)


def main(argv: Sequence[str] | None = None) -> int:
    """Process entry point: ``argv`` includes the program name, as ``sys.argv`` does."""
    outcome = run(list(argv if argv is not None else sys.argv)[1:], os.environ)
    write(outcome)
    return outcome.exit_code


def write(outcome: HookOutcome) -> None:
    """stdout gets the domain's own bytes (surrogate escapes undone), stderr one line each."""
    out = getattr(sys.stdout, "buffer", None)
    data = outcome.stdout.encode("utf-8", "surrogateescape")
    if out is not None:
        out.write(data)
        out.flush()
    else:
        sys.stdout.write(outcome.stdout)
        sys.stdout.flush()
    for line in outcome.stderr:
        sys.stderr.write(line.encode("utf-8", "backslashreplace").decode("utf-8") + "\n")
