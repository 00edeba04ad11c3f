"""CPU-less guest cells for devices on CPU-less host nodes (``kvnuma.pci.cpuless``): the cells,
their memory and distances, the Generic Initiator entry, idempotency, what stays in place and
why, the host's distance matrix from sysfs, and libvirt's schemas (both lanes) and daemon."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kvnuma.errors import InputError
from kvnuma.pci import place_pci_devices
from kvnuma.pci.cpuless import QEMU_NS
from kvnuma.pci.place import CpulessCells
from kvnuma.pci.sysfs import read_host_pci, read_node_distances
from pci.pci_domains import numa_domain
from pci.pci_sysfs_tree import FakePciDevice, build_sysfs
from support.libvirt import Libvirtd, assert_libvirt_accepts, validate_domain

# host nodes 0 and 1 have CPUs (the pod's); 2 and 3 are CPU-less GPU nodes, 2 nearer node 1
DISTANCES = {
    0: {0: 10, 1: 21, 2: 40, 3: 30},
    1: {0: 21, 1: 10, 2: 30, 3: 40},
    2: {0: 40, 1: 30, 2: 10, 3: 80},
    3: {0: 30, 1: 40, 2: 80, 3: 10},
}
CPU_NODES = {0: 0, 1: 1}  # host CPU -> host node (the domain's vCPU pins use CPUs 0 and 1)
GPU2, GPU3, NIC0 = "0000:3b:00.0", "0000:af:00.0", "0000:5e:00.0"
NODES = {GPU2: 2, GPU3: 3, NIC0: 0}


def domain(*devices: str, hugepage_kib: int | None = None, cell_mib: int = 256) -> str:
    xml = numa_domain(2, list(devices), vcpupins={0: 0, 1: 1}, cell_mib=cell_mib, name="cpuless")
    if hugepage_kib is None:
        return xml
    root = ET.fromstring(xml)
    backing = ET.SubElement(root, "memoryBacking")
    ET.SubElement(ET.SubElement(backing, "hugepages"), "page", size=str(hugepage_kib), unit="KiB")
    return ET.tostring(root, encoding="unicode")


def place(
    xml: str, *, generic_initiator: bool = False, distances: object = DISTANCES
) -> tuple[str, list[str]]:
    result = place_pci_devices(
        xml,
        NODES,
        host_cpu_nodes=CPU_NODES,
        cpuless=CpulessCells(distances, generic_initiator),  # type: ignore[arg-type]
    )
    return result.xml, result.summary()


def cells(xml: str) -> list[tuple[str, str | None, int]]:
    """(id, cpus, memory KiB) of each guest cell."""
    return [
        (c.get("id", ""), c.get("cpus"), int(c.get("memory", "0"))) for c in ET.fromstring(xml).iter("cell")
    ]


def distances(xml: str) -> dict[str, dict[str, int]]:
    return {
        c.get("id", ""): {s.get("id", ""): int(s.get("value", "0")) for s in c.iter("sibling")}
        for c in ET.fromstring(xml).iter("cell")
    }


def expander_cell_of(xml: str, address: str) -> str | None:
    """The guest cell of the expander the hostdev with host ``address`` sits behind."""
    root = ET.fromstring(xml)
    controllers = {c.get("index"): c for c in root.iter("controller")}
    for hostdev in root.iter("hostdev"):
        source = hostdev.find("source/address")
        assert source is not None
        if f"0000:{source.get('bus', '')[2:]}:00.0" != address:
            continue
        guest = hostdev.find("address")
        if guest is None:
            return None
        port = controllers[str(int(guest.get("bus", "0"), 16))]
        port_address = port.find("address")
        assert port_address is not None
        return controllers[str(int(port_address.get("bus", "0"), 16))].findtext("target/node")
    raise AssertionError(f"no hostdev {address}")


CASES = [
    # (id, devices, hugepage KiB, cells after, device -> its expander's guest cell)
    (
        "one-cpuless-gpu-nearest-donor",
        (GPU2,),
        None,
        [("0", "0", 262144), ("1", "1", 262144 - 2048), ("2", None, 2048)],
        {GPU2: "2"},
    ),
    (
        "two-cpuless-nodes-two-cells",
        (GPU2, GPU3),
        None,
        [("0", "0", 262144 - 2048), ("1", "1", 262144 - 2048), ("2", None, 2048), ("3", None, 2048)],
        {GPU2: "2", GPU3: "3"},
    ),
    (
        "hugepages-slice-is-one-page",
        (GPU3,),
        2048 * 16,
        [("0", "0", 262144 - 32768), ("1", "1", 262144), ("2", None, 32768)],
        {GPU3: "2"},
    ),
    (
        "device-on-a-pod-node-is-untouched",
        (NIC0, GPU2),
        None,
        [("0", "0", 262144), ("1", "1", 262144 - 2048), ("2", None, 2048)],
        {NIC0: "0", GPU2: "2"},
    ),
]


@pytest.mark.parametrize(
    ("devices", "hugepage_kib", "expected_cells", "placed"), [pytest.param(*c[1:], id=c[0]) for c in CASES]
)
def test_cpuless_cells(
    devices: tuple[str, ...],
    hugepage_kib: int | None,
    expected_cells: list[tuple[str, str | None, int]],
    placed: dict[str, str],
) -> None:
    original = domain(*devices, hugepage_kib=hugepage_kib)
    xml, summary = place(original)
    assert cells(xml) == expected_cells
    assert sum(memory for _id, _cpus, memory in cells(xml)) == sum(m for _i, _c, m in cells(original))
    assert {address: expander_cell_of(xml, address) for address in devices} == placed
    assert sum("CPU-less, for host node" in line for line in summary) == len(expected_cells) - 2
    # the guest's distance matrix is the host's, over the cells' host nodes
    host_node = {"0": 0, "1": 1, **{cell: NODES[a] for a, cell in placed.items() if a != NIC0}}
    assert distances(xml) == {
        cell: {other: DISTANCES[host_node[cell]][host_node[other]] for other in host_node}
        for cell in host_node
    }
    validate_domain(xml)


def test_off_by_default_the_device_stays_in_place_as_in_kubevirt() -> None:
    result = place_pci_devices(domain(GPU2), NODES, host_cpu_nodes=CPU_NODES)
    assert len(cells(result.xml)) == 2
    assert expander_cell_of(result.xml, GPU2) is None
    assert [s.rule for s in result.skipped] == ["pci-guest-cell"]


def test_generic_initiator_ties_the_device_to_its_cell() -> None:
    xml, summary = place(domain(GPU2), generic_initiator=True)
    root = ET.fromstring(xml)
    args = [a.get("value") for a in root.iter(f"{{{QEMU_NS}}}arg")]
    alias = next(root.iter("hostdev")).find("alias")
    assert alias is not None
    assert args == [
        "-object",
        f"acpi-generic-initiator,id=kvnuma-gi-0000-3b-00-0,pci-dev={alias.get('name')},node=2",
    ]
    assert "ACPI generic initiator" in " ".join(summary)
    validate_domain(xml)


def test_a_second_run_over_its_own_output_changes_nothing() -> None:
    once, _ = place(domain(GPU2, GPU3), generic_initiator=True)
    twice, _ = place(once, generic_initiator=True)
    assert twice == once


@pytest.mark.parametrize(
    ("case", "xml", "matrix", "why"),
    [
        pytest.param("no-distances", domain(GPU2), {}, "reports no distances", id="no-distances"),
        pytest.param(
            "donor-too-small",
            domain(GPU2, hugepage_kib=1 << 20, cell_mib=1024),
            DISTANCES,
            "too little",
            id="donor-too-small",
        ),
    ],
)
def test_what_cannot_get_a_cell_stays_in_place_and_says_why(
    case: str, xml: str, matrix: dict[int, dict[int, int]], why: str
) -> None:
    placed, summary = place(xml, distances=matrix)
    assert len(cells(placed)) == 2, case
    assert expander_cell_of(placed, GPU2) is None
    assert any(why in line and "host node 2" in line for line in summary), summary


def test_a_bad_cell_memory_is_named() -> None:
    bad = domain(GPU2).replace("memory='262144' unit='KiB'", "memory='lots' unit='KiB'")
    with pytest.raises(InputError, match=r"<cpu><numa><cell>.*'lots'"):
        place(bad)


def write_distances(root: Path, rows: dict[int, str]) -> None:
    for node, row in rows.items():
        node_dir = root / "devices" / "system" / "node" / f"node{node}"
        node_dir.mkdir(parents=True, exist_ok=True)
        (node_dir / "distance").write_text(row + "\n")


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param({0: "10 21", 1: "21 10"}, {0: {0: 10, 1: 21}, 1: {0: 21, 1: 10}}, id="two-nodes"),
        pytest.param({0: "10 21", 1: "21"}, {}, id="short-row"),
        pytest.param({0: "10 x", 1: "21 10"}, {}, id="not-a-number"),
        pytest.param({0: "10 0", 1: "0 10"}, {}, id="zero"),
    ],
)
def test_host_distances_from_sysfs_are_whole_or_absent(
    tmp_path: Path, rows: dict[int, str], expected: dict[int, dict[int, int]]
) -> None:
    write_distances(tmp_path, rows)
    assert read_node_distances(tmp_path) == expected


def test_read_host_pci_carries_the_distances(tmp_path: Path) -> None:
    root = build_sysfs(
        tmp_path, [FakePciDevice(GPU2, 2, "pci0000:3a", ("0000:3a:00.0",))], {0: "0", 1: "1", 2: ""}
    )
    write_distances(root, {0: "10 21 40", 1: "21 10 30", 2: "40 30 10"})
    facts = read_host_pci(root, [GPU2])
    assert facts.numa_node == {GPU2: 2}
    assert facts.node_distances[2] == {0: 40, 1: 30, 2: 10}
    assert set(facts.cpu_nodes.values()) == {0, 1}


def test_libvirt_defines_the_cpuless_domain(libvirtd: Libvirtd) -> None:
    xml, _ = place(domain(GPU2, GPU3), generic_initiator=True)
    assert_libvirt_accepts(libvirtd, xml)
