"""Build fake sysfs trees (as the kernel lays them out) for PCI placement tests."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FakePciDevice:
    """``numa_node`` None = no numa_node file; ``root_complex`` None = a plain folder, no symlink."""

    address: str
    numa_node: int | None
    root_complex: str | None = None
    bridges: tuple[str, ...] = ()
    numa_node_text: str | None = None


def build_sysfs(
    root: Path,
    devices: Iterable[FakePciDevice],
    node_cpus: Mapping[int, str],
    node_sockets: Mapping[int, int] | None = None,
) -> Path:
    """Write ``devices`` and ``node<N>/cpulist`` files under ``root`` (and, for ``node_sockets``,
    ``cpu<N>/topology/physical_package_id`` of each node's CPUs); returns ``root``."""
    bus_dir = root / "bus" / "pci" / "devices"
    bus_dir.mkdir(parents=True, exist_ok=True)
    for device in devices:
        if device.root_complex is None:
            device_dir = bus_dir / device.address
            device_dir.mkdir(parents=True)
        else:
            device_dir = root.joinpath("devices", device.root_complex, *device.bridges, device.address)
            device_dir.mkdir(parents=True)
            (bus_dir / device.address).symlink_to(os.path.relpath(device_dir, bus_dir))
        if device.numa_node_text is not None:
            (device_dir / "numa_node").write_text(device.numa_node_text)
        elif device.numa_node is not None:
            (device_dir / "numa_node").write_text(f"{device.numa_node}\n")
    for node, cpulist in node_cpus.items():
        node_dir = root / "devices" / "system" / "node" / f"node{node}"
        node_dir.mkdir(parents=True, exist_ok=True)
        (node_dir / "cpulist").write_text(cpulist + "\n")
        if node_sockets is not None and node in node_sockets and cpulist:
            first, _, last = cpulist.split(",")[0].partition("-")
            for cpu in range(int(first), int(last or first) + 1):
                topology = root / "devices" / "system" / "cpu" / f"cpu{cpu}" / "topology"
                topology.mkdir(parents=True, exist_ok=True)
                (topology / "physical_package_id").write_text(f"{node_sockets[node]}\n")
    return root


GPU_HOST = (
    FakePciDevice("0000:3b:00.0", 0, "pci0000:3a", ("0000:3a:00.0",)),
    FakePciDevice("0000:3c:00.1", 0, "pci0000:3a", ("0000:3a:00.0",)),
    FakePciDevice("0000:af:00.0", 1, "pci0000:ae", ("0000:ae:00.0",)),
    FakePciDevice("0000:5e:00.0", -1, "pci0000:5d", ("0000:5d:00.0",)),
)
"""The host of ``kubevirt-gpu-2cell.xml``: a GPU and an RDMA NIC on node 0's root complex 3a,
a GPU on node 1, an NVMe drive without NUMA affinity."""

GPU_HOST_NODES = {0: "0-15", 1: "16-31"}


TWO_SOCKET_HOST = (
    FakePciDevice("0000:3b:00.0", 0, "pci0000:3a", ("0000:3a:00.0",)),
    FakePciDevice("0000:5e:00.0", 1, "pci0000:5d", ("0000:5d:00.0",)),
    FakePciDevice("0000:af:00.0", 2, "pci0000:ae", ("0000:ae:00.0",)),
)
"""A device on node 0, one on node 1 (socket 0 too) and one on node 2 (socket 1)."""

TWO_SOCKET_NODES = {0: "0-3", 1: "4-7", 2: "8-11", 3: "12-15"}
TWO_SOCKET_SOCKETS = {0: 0, 1: 0, 2: 1, 3: 1}


@dataclass(frozen=True)
class FakeMdev:
    """A mediated device under ``parent`` (a FakePciDevice address in the same tree).
    ``link``: write this symlink target instead of the kernel's (a bad link)."""

    uuid: str
    parent: str
    link: str | None = None


def add_mdevs(root: Path, mdevs: Iterable[FakeMdev]) -> Path:
    """Write each mediated device as the kernel does: a folder ``<uuid>`` in its parent's device
    folder and ``bus/mdev/devices/<uuid>`` linking to it."""
    bus_dir = root / "bus" / "mdev" / "devices"
    bus_dir.mkdir(parents=True, exist_ok=True)
    for mdev in mdevs:
        parent_dir = (root / "bus" / "pci" / "devices" / mdev.parent).resolve()
        (parent_dir / mdev.uuid).mkdir()
        target = mdev.link if mdev.link is not None else os.path.relpath(parent_dir / mdev.uuid, bus_dir)
        (bus_dir / mdev.uuid).symlink_to(target)
    return root


VGPU0, VGPU1 = "4b20d080-1b54-4048-85b3-a6a62d165c01", "0f6e8b47-3d2c-4b8e-9a51-7c0e2d9f1a22"
GPU_HOST_MDEVS = (FakeMdev(VGPU0, "0000:3b:00.0"), FakeMdev(VGPU1, "0000:af:00.0"))
"""A vGPU on the node-0 GPU and one on the node-1 GPU of ``GPU_HOST``."""
