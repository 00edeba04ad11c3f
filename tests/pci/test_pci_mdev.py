"""Mediated devices (vGPUs) placed by their parent PCI device: ``/sys/bus/mdev/devices/<uuid>``
-> parent BDF -> ``numa_node`` and root complex, then behind the guest cell's expander like a
PCI hostdev. Bad links: one line, the device left in place."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kvnuma.errors import InputError
from kvnuma.pci import place_pci_devices
from kvnuma.pci.address import MdevUuid, PciAddress
from kvnuma.pci.sysfs import read_host_pci
from pci.pci_domains import numa_domain
from pci.pci_sysfs_tree import (
    GPU_HOST,
    GPU_HOST_MDEVS,
    GPU_HOST_NODES,
    VGPU0,
    VGPU1,
    FakeMdev,
    add_mdevs,
    build_sysfs,
)
from support.libvirt import Libvirtd, assert_libvirt_accepts, validate_domain

GPU0 = "0000:3b:00.0"


@pytest.fixture
def host(tmp_path: Path) -> Path:
    return add_mdevs(build_sysfs(tmp_path / "sys", GPU_HOST, GPU_HOST_NODES), GPU_HOST_MDEVS)


def mdev_cells(xml: str) -> dict[str, str | None]:
    """uuid -> the guest cell of the expander above its root port (None: not behind one)."""
    root = ET.fromstring(xml)
    controllers = {c.get("index"): c for c in root.iter("controller") if c.get("type") == "pci"}

    def parent(element: ET.Element | None) -> ET.Element | None:
        address = None if element is None else element.find("address")
        return None if address is None else controllers.get(str(int(address.get("bus", "0"), 0)))

    found = {}
    for hostdev in root.iter("hostdev"):
        if hostdev.get("type") == "mdev":
            source = hostdev.find("source/address")
            assert source is not None
            expander = parent(parent(hostdev))
            found[source.get("uuid", "")] = None if expander is None else expander.findtext("target/node")
    return found


def test_sysfs_gives_an_mdev_its_parents_node_and_root_complex(host: Path) -> None:
    facts = read_host_pci(host, [VGPU0, VGPU1, GPU0])
    assert facts.numa_node == {VGPU0: 0, VGPU1: 1, GPU0: 0}
    assert facts.root_complex[VGPU0] == facts.root_complex[GPU0] == "pci0000:3a"
    assert facts.root_complex[VGPU1] == "pci0000:ae"
    assert facts.problems == {}


@pytest.mark.parametrize(
    ("link", "fragment"),
    [
        pytest.param(
            "../../../devices/virtual/" + VGPU0, "does not end in <parent BDF>/<uuid>", id="no-parent"
        ),
        pytest.param(
            "../../../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0/other", "does not end", id="other-name"
        ),
        pytest.param(
            "../../../devices/pci0000:77/0000:77:00.0/" + VGPU0,
            "parent 0000:77:00.0 is not in sysfs",
            id="dangling",
        ),
        pytest.param("x" * 300 + "/" + VGPU0, "does not end", id="long"),
    ],
)
def test_a_bad_link_is_one_bounded_line_and_the_mdev_left_in_place(
    tmp_path: Path, link: str, fragment: str
) -> None:
    root = add_mdevs(build_sysfs(tmp_path / "sys", GPU_HOST, GPU_HOST_NODES), [FakeMdev(VGPU0, GPU0, link)])
    facts = read_host_pci(root, [VGPU0])
    assert VGPU0 not in facts.numa_node
    problem = facts.problems[VGPU0]
    assert fragment in problem
    assert len(problem) < 300
    assert "\n" not in problem
    result = place_pci_devices(
        numa_domain(2, [GPU0], mdevs=[VGPU0]), facts.numa_node | {GPU0: 0}, problems=facts.problems
    )
    assert mdev_cells(result.xml) == {VGPU0: None}
    assert [(str(s.device), s.rule) for s in result.skipped] == [(VGPU0, "pci-host-facts")]
    assert f"left in place: {problem}" in result.summary()


def test_an_mdev_without_a_sysfs_entry_is_not_on_the_host(tmp_path: Path) -> None:
    root = build_sysfs(tmp_path / "sys", GPU_HOST, GPU_HOST_NODES)
    facts = read_host_pci(root, [VGPU0])
    assert facts.numa_node == {}
    assert facts.problems == {}
    result = place_pci_devices(numa_domain(1, [], mdevs=[VGPU0]), facts.numa_node)
    assert [s.reason for s in result.skipped] == [f"{VGPU0} is not present on this host"]


def test_mdevs_go_behind_their_parents_cell_and_share_its_expander(host: Path) -> None:
    domain = numa_domain(2, [GPU0], mdevs=[VGPU0, VGPU1])
    facts = read_host_pci(host, [GPU0, VGPU0, VGPU1])
    result = place_pci_devices(
        domain, facts.numa_node, groups=facts.root_complex, host_cpu_nodes=facts.cpu_nodes
    )
    assert mdev_cells(result.xml) == {VGPU0: "0", VGPU1: "1"}
    assert result.summary()[:2] == [
        f"guest cell 0: pcie-expander-bus index 3 busNr 253 host pci0000:3a: {GPU0}, {VGPU0}",
        f"guest cell 1: pcie-expander-bus index 6 busNr 251 host pci0000:ae: {VGPU1}",
    ]
    assert f"ua-kvnuma-rp-mdev-{VGPU0}" in result.xml
    # a second run over its own output changes nothing
    again = place_pci_devices(result.xml, facts.numa_node, groups=facts.root_complex)
    assert again.xml == result.xml
    validate_domain(result.xml)


def test_the_policy_decides_mdevs_by_their_parent(host: Path) -> None:
    # one guest cell on host node 0: VGPU1's parent is on node 1
    facts = read_host_pci(host, [VGPU0, VGPU1])
    result = place_pci_devices(
        numa_domain(1, [], mdevs=[VGPU0, VGPU1], memnodes={0: 0}), facts.numa_node, policy="preferred"
    )
    assert [(v.device, v.locality, v.outcome) for v in result.verdicts] == [
        (VGPU1, "other socket", "placed"),
        (VGPU0, "pod node", "placed"),
    ]
    assert mdev_cells(result.xml) == {VGPU0: "0", VGPU1: "0"}


def test_s390_mediated_devices_are_not_pci_and_are_left_alone() -> None:
    domain = numa_domain(1, [GPU0]).replace(
        "</devices>",
        f"<hostdev mode='subsystem' type='mdev' model='vfio-ccw'><source><address uuid='{VGPU0}'/></source>"
        "</hostdev></devices>",
    )
    result = place_pci_devices(domain, {GPU0: 0, VGPU0: 0})
    assert [v.device for v in result.verdicts] == [GPU0]


@pytest.mark.parametrize("uuid", ["", "4b20d080", VGPU0 + "0", "zb20d080-1b54-4048-85b3-a6a62d165c01"])
def test_a_malformed_uuid_in_the_domain_is_one_input_error(uuid: str) -> None:
    with pytest.raises(InputError, match="is not a uuid"):
        place_pci_devices(numa_domain(1, [], mdevs=[uuid]), {})


def test_mdev_ids_sort_after_pci_addresses_and_print_as_uuids() -> None:
    mdev = MdevUuid.parse(VGPU0.upper(), source="test")
    assert str(mdev) == VGPU0
    assert mdev > PciAddress(0xFFFF, 0xFF, 0x1F, 7)
    assert mdev == MdevUuid.parse(VGPU0, source="test")
    assert mdev.alias_part == f"mdev-{VGPU0}"


@pytest.mark.libvirt
def test_libvirt_defines_placed_mdevs(libvirtd: Libvirtd, host: Path) -> None:
    facts = read_host_pci(host, [GPU0, VGPU0, VGPU1])
    result = place_pci_devices(
        numa_domain(2, [GPU0], mdevs=[VGPU0, VGPU1]), facts.numa_node, groups=facts.root_complex
    )
    assert_libvirt_accepts(libvirtd, result.xml)
