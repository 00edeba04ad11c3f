"""The real libvirt daemon for tests: start it without systemd, talk to it with virsh, define domains.

Every domain a test defines is renamed ``kvnuma-test-<base>-<pid>-<n>`` so concurrent test sessions
never collide and a later session can recognise (and remove) what a crashed one left behind.
The daemon is shared between concurrent sessions through a lock file: each session holds a shared
lock while it runs; the last one out stops the daemon if a test session started it, and never
stops a daemon somebody else started.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

__all__ = [
    "DOMAIN_PREFIX",
    "URI",
    "Libvirtd",
    "LibvirtdDaemon",
    "assert_libvirt_accepts",
    "claim_name",
    "define_domain",
    "undefine_domain",
    "validate_domain",
]

URI = "qemu:///system"
DOMAIN_PREFIX = "kvnuma-test-"
SOCKET = Path("/run/libvirt/libvirt-sock")
LIBVIRTD = "/usr/sbin/libvirtd"
_VIRSH_TIMEOUT = 120.0
_READY_TIMEOUT = 90.0  # the first connection probes QEMU's capabilities (~8 s here)
_OUR_NAME = re.compile(rf"^{DOMAIN_PREFIX}.*-(\d+)-\d+$")
# start-up complaints of a systemd-less, DMI-less machine that do not stop libvirtd
_HARMLESS = ("dnsmasq", "system bus", "DBus", "dmi", "dmidecode", "/dev/mem", "libvirt version", "hostname")
_counter = itertools.count(1)
_claimed: set[str] = set()


def _virsh(uri: str, args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["virsh", "-q", "-c", uri, *args], capture_output=True, text=True, timeout=_VIRSH_TIMEOUT, check=False
    )


@dataclass
class Libvirtd:
    """A running libvirtd as the tests see it; ``defined`` holds what this session defined."""

    uri: str = URI
    defined: set[str] = field(default_factory=set)

    def virsh(self, *args: str) -> str:
        done = _virsh(self.uri, args)
        if done.returncode != 0:
            raise AssertionError(f"virsh {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def domain_names(self) -> list[str]:
        return [n for n in self.virsh("list", "--all", "--name").split() if n]

    def undefine_all(self) -> None:
        for name in sorted(self.defined):
            undefine_domain(self, name)

    def remove_stale_domains(self) -> list[str]:
        """Undefine ``kvnuma-test-*`` domains whose defining process is gone."""
        removed = []
        for name in self.domain_names():
            match = _OUR_NAME.match(name)
            if match and not _alive(int(match.group(1))):
                undefine_domain(self, name)
                removed.append(name)
        return removed


def _alive(pid: int) -> bool:
    if pid <= 0:  # os.kill(-1, 0) would ask about every process
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _socket_answers() -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(SOCKET))
        except OSError:
            return False
    return True


@dataclass
class LibvirtdDaemon:
    """Start (or join) libvirtd; ``release`` stops it when this is the last session and tests started it."""

    state_dir: Path
    started_here: bool = False
    _lock: IO[bytes] | None = None

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "libvirtd.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "libvirtd.log"

    def acquire(self) -> Libvirtd:
        """Make sure a daemon answers on ``URI``; RuntimeError with the reason if it cannot."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._lock = (self.state_dir / "sessions.lock").open("ab")
        fcntl.flock(self._lock, fcntl.LOCK_EX)  # one session at a time decides whether to start it
        try:
            if not _socket_answers():
                self._start()
            self._wait_ready()
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_SH)
        return Libvirtd(URI)

    def _start(self) -> None:
        if not Path(LIBVIRTD).exists():
            raise RuntimeError(f"{LIBVIRTD} is missing: run scripts/setup-system.sh (as root)")
        self.log_file.write_text("")
        env = {**os.environ, "LIBVIRT_LOG_OUTPUTS": f"3:file:{self.log_file}"}
        cmd = [LIBVIRTD, "--daemon", f"--pid-file={self.pid_file}"]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.strip()}{self._log_tail()}"
            )
        self.started_here = True

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT
        last = ""
        while time.monotonic() < deadline:
            done = _virsh(URI, ("version",))
            if done.returncode == 0:
                return
            last = done.stderr.strip()
            if self.started_here and not _alive(self._daemon_pid()):
                raise RuntimeError(f"libvirtd exited during start: {last}{self._log_tail()}")
            time.sleep(0.5)
        raise RuntimeError(
            f"libvirtd did not answer on {URI} in {_READY_TIMEOUT:.0f} s: {last}{self._log_tail()}"
        )

    def _daemon_pid(self) -> int:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return -1

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        lines = [line for line in lines if line.strip() and not any(noise in line for noise in _HARMLESS)]
        return ("\nlibvirtd log:\n" + "\n".join(lines[-8:])) if lines else ""

    def release(self) -> None:
        """Leave; stop the daemon if no other session holds it and a test session started it."""
        if self._lock is None:
            return
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()  # another session still uses the daemon; it stops it when it leaves
            self._lock = None
            return
        try:
            pid = self._daemon_pid()
            if pid > 0 and _alive(pid) and Path(f"/proc/{pid}/comm").read_text().strip() == "libvirtd":
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):
                    if not _alive(pid):
                        break
                    time.sleep(0.1)
            self.pid_file.unlink(missing_ok=True)
        finally:
            self._lock.close()
            self._lock = None


OTHER_SCHEMAS = Path(__file__).resolve().parents[2] / ".cache" / "libvirt-schemas"


def other_lane_schemas() -> list[Path]:
    """The other libvirt lane's schema folders (scripts/setup-system.sh step 5), one per version."""
    return sorted(path for path in OTHER_SCHEMAS.glob("*") if (path / "domain.rng").is_file())


def validate_against(schemas: Path, xml: str, kind: str = "domain") -> str:
    """``xmllint --relaxng SCHEMAS/<kind>.rng``: "" when valid, else xmllint's message."""
    with tempfile.NamedTemporaryFile("w", suffix=".xml", prefix="kvnuma-validate-") as handle:
        handle.write(xml)
        handle.flush()
        done = subprocess.run(
            ["xmllint", "--noout", "--relaxng", str(schemas / f"{kind}.rng"), handle.name],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    return (
        "" if done.returncode == 0 else (done.stderr + done.stdout).replace(handle.name, f"<{kind}>").strip()
    )


def validate_domain(xml: str) -> None:
    """``virt-xml-validate <file> domain`` (the installed libvirt), then the other lane's libvirt
    schemas where setup-system.sh put them; AssertionError with the validator's message on failure."""
    with tempfile.NamedTemporaryFile("w", suffix=".xml", prefix="kvnuma-validate-") as handle:
        handle.write(xml)
        handle.flush()
        done = subprocess.run(
            ["virt-xml-validate", handle.name, "domain"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    if done.returncode != 0:
        message = (done.stderr + done.stdout).replace(handle.name, "<domain>").strip()
        raise AssertionError(f"virt-xml-validate rejects the domain: {message}")
    for schemas in other_lane_schemas():
        problem = validate_against(schemas, xml)
        if problem:
            raise AssertionError(f"libvirt {schemas.name}'s schema rejects the domain: {problem}")


def claim_name(base: str) -> str:
    """A fresh ``kvnuma-test-<base>-<pid>-<n>`` name owned by this process."""
    if base.startswith(DOMAIN_PREFIX):
        base = base[len(DOMAIN_PREFIX) :]
    base = _OWN_SUFFIX.sub("", base)
    slug = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:32] or "domain"
    name = f"{DOMAIN_PREFIX}{slug}-{os.getpid()}-{next(_counter)}"
    _claimed.add(name)
    return name


_OWN_SUFFIX = re.compile(r"-\d+-\d+$")


def define_domain(libvirtd: Libvirtd, xml: str) -> str:
    """Define ``xml`` under a unique test name (kept if already claimed here); returns the name."""
    root = ET.fromstring(xml)
    name_el = root.find("name")
    if name_el is None:
        name_el = ET.SubElement(root, "name")
    if name_el.text not in _claimed:
        name_el.text = claim_name(name_el.text or "domain")
    name = name_el.text
    uuid = root.find("uuid")
    if uuid is not None:
        root.remove(uuid)  # a fixed uuid would clash with the same domain defined under another name
    if name in libvirtd.domain_names():
        undefine_domain(libvirtd, name)
    with tempfile.NamedTemporaryFile("w", suffix=".xml", prefix="kvnuma-define-") as handle:
        handle.write(ET.tostring(root, encoding="unicode"))
        handle.flush()
        libvirtd.virsh("define", handle.name)
    libvirtd.defined.add(name)
    return name


def undefine_domain(libvirtd: Libvirtd, name: str) -> None:
    """Destroy (if running) and undefine ``name``; quiet if it is already gone."""
    _virsh(libvirtd.uri, ("destroy", name))
    done = _virsh(libvirtd.uri, ("undefine", name))
    if done.returncode != 0 and "failed to get domain" not in done.stderr:
        raise AssertionError(f"virsh undefine {name} failed: {done.stderr.strip()}")
    libvirtd.defined.discard(name)


def assert_libvirt_accepts(libvirtd: Libvirtd, xml: str) -> None:
    """The schema validates ``xml`` and libvirtd defines it (it is undefined again right away)."""
    validate_domain(xml)
    name = define_domain(libvirtd, xml)
    undefine_domain(libvirtd, name)
