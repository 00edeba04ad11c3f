"""Host topology from a running libvirt.

Uses the libvirt Python module when it can be imported (``pip install kvnuma[libvirt]``, or the
distribution's python3-libvirt for the system Python), else runs ``virsh -c URI capabilities``.
Either way the answer is libvirt's capabilities XML, read by ``parse_capabilities``; a
connection failure is an InputError naming the URI. Capabilities carry no PCI devices: take
those from sysfs.
"""

from __future__ import annotations

import shutil
import subprocess
from types import ModuleType

from kvnuma.errors import InputError
from kvnuma.model import HostTopology
from kvnuma.topology.capabilities import parse_capabilities

__all__ = ["VIRSH_TIMEOUT_SECONDS", "capabilities_xml", "read_libvirt"]

VIRSH_TIMEOUT_SECONDS = 60.0
"""The first call after libvirtd starts probes QEMU and can take ~10 s on a small machine."""


def read_libvirt(uri: str) -> HostTopology:
    """The topology libvirt at ``uri`` reports."""
    return parse_capabilities(capabilities_xml(uri), source=uri)


def capabilities_xml(uri: str) -> str:
    """The ``virsh capabilities`` document of libvirt at ``uri``."""
    module = _libvirt_module()
    if module is not None:
        return _from_module(module, uri)
    return _from_virsh(uri)


def _libvirt_module() -> ModuleType | None:
    try:
        import libvirt
    except ImportError:
        return None
    module: ModuleType = libvirt
    return module


def _from_module(libvirt: ModuleType, uri: str) -> str:
    # Without a handler libvirt prints every error on stderr as well as raising it.
    libvirt.registerErrorHandler(lambda _context, _error: None, None)
    try:
        connection = libvirt.openReadOnly(uri)
        try:
            text = connection.getCapabilities()
        finally:
            connection.close()
    except libvirt.libvirtError as error:
        raise InputError(uri, f"cannot read libvirt capabilities: {error}") from None
    if not isinstance(text, str):
        raise InputError(uri, "libvirt returned no capabilities document")
    return text


def _from_virsh(uri: str) -> str:
    virsh = shutil.which("virsh")
    if virsh is None:
        raise InputError(uri, "neither the libvirt Python module nor virsh is installed")
    try:
        done = subprocess.run(
            [virsh, "-c", uri, "capabilities"],
            capture_output=True,
            text=True,
            timeout=VIRSH_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise InputError(uri, f"virsh capabilities did not answer in {VIRSH_TIMEOUT_SECONDS:.0f} s") from None
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        reason = "; ".join(lines[:2]) or f"exit code {done.returncode}"
        raise InputError(uri, f"virsh capabilities failed: {reason}")
    return done.stdout
