"""Boot a tiny Linux guest (TCG) from a kvnuma domain and report what it and the host see.

Typical use::

    xml, pcpu_map = project_onto_this_host(rendered_xml, this_host_cpus())
    report = boot_and_report(libvirtd, make_bootable(xml, "my-case"))
    assert report.nodes[1][0] == CpuSet.parse("2-3")

Boots run one at a time across every test session on the machine (a file lock): two cores and
TCG leave no room for parallel guests.
"""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kvnuma.model import CpuSet
from support.guest_initrd import build_initrd
from support.guest_xml import (
    EmulatedModel,
    memory_kib,
    project_onto_this_host,
    replace_hostdevs_with,
    set_console_log,
    vcpu_count,
)
from support.guest_xml import make_bootable as _make_bootable
from support.libvirt import Libvirtd, claim_name, define_domain, undefine_domain

__all__ = [
    "GUEST_DIR",
    "EmulatedModel",
    "GuestReport",
    "PciFunction",
    "boot_and_report",
    "make_bootable",
    "parse_console",
    "parse_emulatorpin",
    "parse_vcpuinfo",
    "parse_vcpupin",
    "project_onto_this_host",
    "replace_hostdevs_with",
    "this_host_cpus",
]

GUEST_DIR = Path(__file__).resolve().parents[2] / ".cache" / "guest"
RUN_DIR = GUEST_DIR / "run"
KERNEL = GUEST_DIR / "vmlinuz"
QEMU_LOG_DIR = Path("/var/log/libvirt/qemu")
MAX_VCPUS = 4
MAX_MEMORY_KIB = 1 << 20  # 1 GiB: TCG on two shared cores

_NPROC = re.compile(r"E2E nproc=(\d+)")
_NODE = re.compile(r"E2E node=(\d+) cpulist=(\S*) MemTotal: (\d+) kB")
_PCI = re.compile(r"E2E pci=(\S+) vendor=(\S+) device=(\S+) class=(\S+) numa_node=(-?\d+)")


@dataclass(frozen=True)
class PciFunction:
    address: str  # 0000:81:00.0
    vendor: str  # 0x8086
    device: str
    pci_class: str  # 0x020000
    numa_node: int  # -1: no affinity


@dataclass(frozen=True)
class GuestReport:
    name: str
    nproc: int
    nodes: Mapping[int, tuple[CpuSet, int]]  # guest node id -> (cpus, MemTotal KiB)
    pci: tuple[PciFunction, ...]
    vcpu_affinity: Mapping[int, CpuSet]  # virsh vcpuinfo: where each vCPU thread may run
    vcpu_pins: Mapping[int, CpuSet]  # virsh vcpupin
    emulator_affinity: CpuSet  # virsh emulatorpin
    qemu_command_line: str  # as libvirt logged it (shell-quoted, environment first)
    qemu_args: tuple[str, ...]  # split as a shell would: (..., "-object", '{"qom-type":...}', ...)
    boot_seconds: float  # virsh start -> "E2E done" on the console (last attempt)
    attempts: int


def this_host_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def make_bootable(domain_xml: str, name: str) -> str:
    """See ``support.guest_xml.make_bootable``; uses the cached kernel and initramfs."""
    if not KERNEL.is_file():
        raise AssertionError(f"no guest kernel at {KERNEL}: run scripts/setup-system.sh (as root)")
    console = RUN_DIR / f"{name}.console.log"
    return _make_bootable(
        domain_xml, name, kernel=KERNEL, initrd=build_initrd(GUEST_DIR), console_log=console
    )


def parse_console(text: str) -> tuple[int, dict[int, tuple[CpuSet, int]], tuple[PciFunction, ...]]:
    """nproc, nodes and PCI functions from the guest's ``E2E`` lines."""
    nproc = _NPROC.search(text)
    if nproc is None:
        raise AssertionError(f"guest printed no 'E2E nproc=' line:\n{text[-2000:]}")
    nodes = {
        int(m[1]): (CpuSet.parse(m[2], source="guest node cpulist"), int(m[3])) for m in _NODE.finditer(text)
    }
    pci = tuple(PciFunction(m[1], m[2], m[3], m[4], int(m[5])) for m in _PCI.finditer(text))
    return int(nproc[1]), nodes, pci


def parse_vcpuinfo(text: str) -> dict[int, CpuSet]:
    """``virsh vcpuinfo``: vCPU -> the pCPUs marked ``y`` in its affinity mask."""
    result: dict[int, CpuSet] = {}
    vcpu = -1
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "VCPU":
            vcpu = int(value)
        elif key.strip() == "CPU Affinity" and vcpu >= 0:
            result[vcpu] = CpuSet.of(i for i, flag in enumerate(value.strip()) if flag == "y")
    return result


def parse_vcpupin(text: str) -> dict[int, CpuSet]:
    rows = (re.match(r"^\s*(\d+)\s+(\S+)\s*$", line) for line in text.splitlines())
    return {int(m[1]): CpuSet.parse(m[2], source="virsh vcpupin") for m in rows if m}


def parse_emulatorpin(text: str) -> CpuSet:
    """``virsh emulatorpin`` (``*: 0-1`` under a header, or just ``0-1`` with ``virsh -q``)."""
    match = re.search(r"^\s*(?:\*:\s*)?(\d[\d,^-]*)\s*$", text, re.MULTILINE)
    if match is None:
        raise AssertionError(f"unexpected virsh emulatorpin output: {text!r}")
    return CpuSet.parse(match[1], source="virsh emulatorpin")


def _qemu_command_line(name: str) -> str:
    """The last command line libvirt logged for ``name`` (continuation lines joined)."""
    try:
        lines = (QEMU_LOG_DIR / f"{name}.log").read_text(errors="replace").splitlines()
    except OSError:
        return ""
    starts = [i for i, line in enumerate(lines) if line.startswith("LC_ALL=")]
    if not starts:
        return ""
    parts = []
    for line in lines[starts[-1] :]:
        parts.append(line.rstrip("\\").strip())
        if not line.endswith("\\"):
            break
    return " ".join(parts)


@contextmanager
def _boot_lock() -> Iterator[None]:
    GUEST_DIR.mkdir(parents=True, exist_ok=True)
    with (GUEST_DIR / "boot.lock").open("ab") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _wait_for_done(libvirtd: Libvirtd, name: str, console: Path, timeout: float) -> str:
    """'done' when the guest reported, 'stopped' if it died first, 'timeout' otherwise."""
    deadline = time.monotonic() + timeout
    polls = 0
    while time.monotonic() < deadline:
        if console.exists() and "E2E done" in console.read_text(errors="replace"):
            return "done"
        polls += 1
        if polls % 4 == 0 and libvirtd.virsh("domstate", name).strip() != "running":
            return "stopped"
        time.sleep(0.25)
    return "timeout"


def _failure(name: str, console: Path, why: str) -> AssertionError:
    text = console.read_text(errors="replace")[-1500:] if console.exists() else "(no console log)"
    qemu = _qemu_log_tail(name)
    return AssertionError(f"guest {name}: {why}\n--- console {console}:\n{text}\n--- qemu log:\n{qemu}")


# QEMU's multi-threaded TCG can trip over its own memory map update while a vCPU runs
# (system/physmem.c iotlb_to_section, seen once in CI on the CPU-less-cell guest, which had
# booted before and did after): an emulator race, not the domain's fault, so boot_and_report
# retries it once.
_TCG_CRASH = "iotlb_to_section: Assertion"


def _tcg_crashed(name: str) -> bool:
    try:
        return _TCG_CRASH in (QEMU_LOG_DIR / f"{name}.log").read_text(errors="replace")
    except OSError:
        return False


def _qemu_log_tail(name: str) -> str:
    try:
        return "\n".join((QEMU_LOG_DIR / f"{name}.log").read_text(errors="replace").splitlines()[-8:])
    except OSError:
        return "(none)"


def _start(libvirtd: Libvirtd, name: str) -> None:
    try:
        libvirtd.virsh("start", name)
    except AssertionError as error:
        if "hugetlbfs filesystem is not mounted" in str(error):
            hint = (
                "libvirtd looks for hugetlbfs only when it starts: this one started before"
                " /dev/hugepages was mounted (scripts/setup-system.sh mounts it); restart libvirtd"
            )
            raise AssertionError(f"{error}\n{hint}") from None
        raise


def boot_and_report(libvirtd: Libvirtd, xml: str, *, timeout: float = 240) -> GuestReport:
    """Define, start, wait for ``E2E done``, collect host-side facts, destroy, undefine."""
    if vcpu_count(xml) > MAX_VCPUS or memory_kib(xml) > MAX_MEMORY_KIB:
        raise AssertionError(f"test guests stay small: at most {MAX_VCPUS} vCPUs and 1 GiB")
    root = ET.fromstring(xml)
    name_el = root.find("name")
    if name_el is None:
        name_el = ET.SubElement(root, "name")
    name = claim_name(name_el.text or "guest")
    name_el.text = name
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    console = RUN_DIR / f"{name}.console.log"
    xml = set_console_log(ET.tostring(root, encoding="unicode"), console)
    with _boot_lock():
        define_domain(libvirtd, xml)
        try:
            attempts = 0
            for _ in range(2):  # TCG's own races (a livelock, a crash) were seen here: retry once
                attempts += 1
                console.unlink(missing_ok=True)
                started = time.monotonic()
                _start(libvirtd, name)
                outcome = _wait_for_done(libvirtd, name, console, timeout)
                if outcome == "done":
                    break
                if outcome == "stopped":
                    if attempts == 1 and _tcg_crashed(name):
                        continue
                    raise _failure(name, console, "stopped before reporting")
                libvirtd.virsh("destroy", name)
            else:
                raise _failure(name, console, f"no 'E2E done' within {timeout:.0f} s, twice")
            boot_seconds = time.monotonic() - started
            vcpu_affinity = parse_vcpuinfo(libvirtd.virsh("vcpuinfo", name))
            vcpu_pins = parse_vcpupin(libvirtd.virsh("vcpupin", name))
            emulator = parse_emulatorpin(libvirtd.virsh("emulatorpin", name))
            command_line = _qemu_command_line(name)
            text = console.read_text(errors="replace")
        finally:
            undefine_domain(libvirtd, name)
    nproc, nodes, pci = parse_console(text)
    console.unlink(missing_ok=True)
    (QEMU_LOG_DIR / f"{name}.log").unlink(missing_ok=True)
    return GuestReport(
        name,
        nproc,
        nodes,
        pci,
        vcpu_affinity,
        vcpu_pins,
        emulator,
        command_line,
        tuple(shlex.split(command_line)),
        boot_seconds,
        attempts=attempts,
    )
