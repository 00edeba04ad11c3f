"""Domain XML builders for PCI placement tests (libvirt style, schema-valid, defineable)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "domains"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def numa_domain(
    cells: int,
    hostdevs: Sequence[str],
    *,
    memnodes: dict[int, int] | None = None,
    vcpupins: dict[int, int] | None = None,
    root_ports: int = 2,
    name: str = "kvnuma-pci",
    cell_mib: int = 128,
    mdevs: Sequence[str] = (),
) -> str:
    """A q35 domain with ``cells`` guest cells (one vCPU each) and PCI hostdevs by host address.

    ``memnodes``: guest cell -> host node (default: cell n on host node n); ``vcpupins``: vCPU ->
    host CPU (default none); ``mdevs``: mediated devices (vGPUs) by uuid, as KubeVirt writes them.
    """
    memnodes = {c: c for c in range(cells)} if memnodes is None else memnodes
    cell_xml = "".join(
        f"<cell id='{c}' cpus='{c}' memory='{cell_mib * 1024}' unit='KiB'/>" for c in range(cells)
    )
    numa = f"<numa>{cell_xml}</numa>" if cells else ""
    pins = "".join(f"<vcpupin vcpu='{v}' cpuset='{cpu}'/>" for v, cpu in sorted((vcpupins or {}).items()))
    memnode_xml = "".join(
        f"<memnode cellid='{c}' mode='strict' nodeset='{n}'/>" for c, n in sorted(memnodes.items())
    )
    numatune = f"<numatune>{memnode_xml}</numatune>" if memnode_xml and cells else ""
    ports = "".join(
        f"<controller type='pci' index='{i}' model='pcie-root-port'/>" for i in range(1, root_ports + 1)
    )
    devices = "".join(
        "<hostdev mode='subsystem' type='pci' managed='no'><source>"
        f"<address domain='0x{a[0:4]}' bus='0x{a[5:7]}' slot='0x{a[8:10]}' function='0x{a[11]}'/>"
        "</source></hostdev>"
        for a in hostdevs
    ) + "".join(
        "<hostdev mode='subsystem' type='mdev' model='vfio-pci'>"
        f"<source><address uuid='{uuid}'/></source><alias name='ua-gpu-vgpu{n}'/></hostdev>"
        for n, uuid in enumerate(mdevs)
    )
    return (
        f"<domain type='qemu'><name>{name}</name>"
        f"<memory unit='KiB'>{max(cells, 1) * cell_mib * 1024}</memory>"
        f"<vcpu placement='static'>{max(cells, 1)}</vcpu>"
        f"{'<cputune>' + pins + '</cputune>' if pins else ''}{numatune}"
        "<os><type arch='x86_64' machine='q35'>hvm</type></os>"
        f"<cpu>{numa}</cpu><devices><controller type='pci' index='0' model='pcie-root'/>{ports}"
        f"{devices}</devices></domain>"
    )
