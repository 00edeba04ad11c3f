"""Which topology reader the agent uses, imported only when called (sysfs by default,
libvirt when ``--libvirt URI`` is given), and the capabilities XML writer if available."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import cast

from kvnuma.model.topology import HostTopology

__all__ = ["capabilities_renderer", "make_discovery"]

Discover = Callable[[], HostTopology]


def make_discovery(sysfs_root: Path, libvirt_uri: str | None = None) -> Discover:
    def discover() -> HostTopology:
        if libvirt_uri:
            module = importlib.import_module("kvnuma.topology.libvirt_host")
            return cast(HostTopology, module.read_libvirt(libvirt_uri))
        module = importlib.import_module("kvnuma.topology.sysfs")
        return cast(HostTopology, module.read_sysfs(sysfs_root))

    return discover


def capabilities_renderer() -> Callable[[HostTopology], str] | None:
    """``kvnuma.topology.capabilities.write_capabilities`` when that module is installed."""
    try:
        module = importlib.import_module("kvnuma.topology.capabilities")
    except ImportError:
        return None
    return cast(Callable[[HostTopology], str], module.write_capabilities)
