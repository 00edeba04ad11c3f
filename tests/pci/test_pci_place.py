"""place_pci_devices on whole domains: what it adds, what it keeps, idempotency, real libvirt."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvnuma.errors import InputError, RuleError
from kvnuma.pci import place_pci_devices
from kvnuma.xmldoc import parse_document, to_text
from pci.pci_domains import fixture, numa_domain
from support.libvirt import Libvirtd, assert_libvirt_accepts, validate_domain

GPU_NODES = {"0000:3b:00.0": 0, "0000:3c:00.1": 0, "0000:af:00.0": 1, "0000:5e:00.0": -1}
GPU_GROUPS = {"0000:3b:00.0": "pci0000:3a", "0000:3c:00.1": "pci0000:3a", "0000:af:00.0": "pci0000:ae"}


def controllers(xml: str) -> list[tuple[str, str, str | None, str | None]]:
    """(index, model, guest cell, busNr) of every PCI controller."""
    found = []
    for controller in ET.fromstring(xml).iter("controller"):
        if controller.get("type") != "pci":
            continue
        target = controller.find("target")
        bus_nr = target.get("busNr") if target is not None else None
        cell = controller.findtext("target/node")
        found.append((controller.get("index", ""), controller.get("model", ""), cell, bus_nr))
    return found


def hostdev_buses(xml: str) -> dict[str, str | None]:
    root = ET.fromstring(xml)
    found = {}
    for hostdev in root.iter("hostdev"):
        source = hostdev.find("source/address")
        assert source is not None
        guest = hostdev.find("address")
        found[source.get("bus", "")] = guest.get("bus") if guest is not None else None
    return found


def test_kubevirt_domain_gets_expanders_and_keeps_everything_else() -> None:
    original = fixture("kubevirt-gpu-2cell.xml")
    result = place_pci_devices(original, GPU_NODES, groups=GPU_GROUPS)
    xml = result.xml
    assert controllers(xml)[4:] == [
        ("4", "pcie-expander-bus", "0", "253"),
        ("5", "pcie-root-port", None, None),
        ("6", "pcie-root-port", None, None),
        ("7", "pcie-expander-bus", "1", "251"),
        ("8", "pcie-root-port", None, None),
    ]
    assert hostdev_buses(xml) == {"0x3b": "0x05", "0x3c": "0x06", "0xaf": "0x08", "0x5e": None}
    assert [s.rule for s in result.skipped] == ["pci-numa-affinity"]
    # only additions: every original line is still there, in order
    added = [line for line in xml.splitlines() if line not in original.splitlines()]
    kept = [line for line in xml.splitlines() if line in original.splitlines()]
    assert kept == original.splitlines()
    assert all("ua-kvnuma" in line or "<" in line for line in added)
    assert '<qemu:arg value="device.ua-gpu-gpu0.x-pci-vendor-id=0x10de"></qemu:arg>' in xml
    assert '<kubevirt xmlns="http://kubevirt.io">' in xml
    assert xml.startswith('<domain type="kvm" xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0">')
    assert "/>" not in xml  # Go encoding/xml style kept: <x></x>
    validate_domain(xml)


def test_applying_twice_equals_applying_once_on_the_fixture() -> None:
    once = place_pci_devices(fixture("kubevirt-gpu-2cell.xml"), GPU_NODES, groups=GPU_GROUPS).xml
    assert place_pci_devices(once, GPU_NODES, groups=GPU_GROUPS).xml == once


def test_without_guest_numa_nothing_changes() -> None:
    xml = numa_domain(0, ["0000:3b:00.0"])
    result = place_pci_devices(xml, {"0000:3b:00.0": 0})
    assert result.plan is None
    assert "no guest NUMA cells" in result.note
    assert ET.fromstring(result.xml).find("devices/controller[@model='pcie-expander-bus']") is None


def test_foreign_numa_expanders_are_left_alone() -> None:
    xml = numa_domain(2, ["0000:3b:00.0"]).replace(
        "</devices>",
        "<controller type='pci' index='9' model='pcie-expander-bus'><target busNr='254'><node>0</node>"
        "</target></controller></devices>",
    )
    result = place_pci_devices(xml, {"0000:3b:00.0": 0})
    assert result.plan is None
    assert "PCINUMAAwareTopology" in result.note


def test_vcpu_pins_bind_cells_that_numatune_does_not() -> None:
    xml = numa_domain(2, ["0000:3b:00.0", "0000:af:00.0"], memnodes={}, vcpupins={0: 4, 1: 20})
    result = place_pci_devices(
        xml, {"0000:3b:00.0": 1, "0000:af:00.0": 0}, host_cpu_nodes={**dict.fromkeys(range(16), 0), 20: 1}
    )
    assert result.plan is not None
    assert [(e.cell, str(e.ports[0].device)) for e in result.plan.expanders] == [
        (0, "0000:af:00.0"),
        (1, "0000:3b:00.0"),
    ]


def test_a_host_node_backing_two_cells_is_ambiguous() -> None:
    xml = numa_domain(2, ["0000:3b:00.0"], memnodes={0: 0, 1: 0})
    result = place_pci_devices(xml, {"0000:3b:00.0": 0})
    assert [s.rule for s in result.skipped] == ["pci-guest-cell"]
    assert "ambiguous" in result.skipped[0].reason
    with pytest.raises(RuleError, match="ambiguous"):
        place_pci_devices(xml, {"0000:3b:00.0": 0}, strict=True)


def test_an_element_input_is_not_modified() -> None:
    root = ET.fromstring(numa_domain(2, ["0000:3b:00.0"]))
    before = ET.tostring(root)
    result = place_pci_devices(root, {"0000:3b:00.0": 1})
    assert ET.tostring(root) == before
    assert result.doc.root.find("devices/controller[@model='pcie-expander-bus']/target/node") is not None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("<domain><devices>", "malformed XML", id="truncated"),
        pytest.param(
            '<!DOCTYPE d [<!ENTITY x "y">]><domain>&x;</domain>',
            "XML with a DOCTYPE declaration at line 1, column 13 is refused",
            id="doctype",
        ),
        pytest.param("<network/>", "expected a <domain> document, found <network>", id="not-a-domain"),
    ],
)
def test_bad_domain_xml_is_one_clear_input_error(text: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        place_pci_devices(text, {})
    assert problem in caught.value.one_line()
    assert "\n" not in caught.value.one_line()


def test_comments_and_libvirt_style_survive() -> None:
    xml = numa_domain(2, ["0000:3b:00.0"]).replace("<devices>", "<devices><!-- keep me -->")
    out = place_pci_devices(xml, {"0000:3b:00.0": 1}).xml
    assert "<!-- keep me -->" in out
    assert "<controller type='pci'" not in out  # ElementTree writes double quotes
    assert '<controller type="pci" index="0" model="pcie-root"/>' in out


@st.composite
def domains(draw: st.DrawFn) -> tuple[str, dict[str, int], dict[str, str]]:
    cells = draw(st.integers(1, 8))
    buses = draw(st.lists(st.integers(1, 254), min_size=1, max_size=12, unique=True))
    addresses = [f"0000:{bus:02x}:00.0" for bus in buses]
    nodes = {a: draw(st.integers(-1, cells)) for a in addresses if draw(st.booleans()) or True}
    groups = {a: draw(st.sampled_from(["pci0000:00", "pci0000:80"])) for a in addresses}
    return numa_domain(cells, addresses, root_ports=draw(st.integers(0, 6))), nodes, groups


@settings(max_examples=60, deadline=None)
@given(case=domains())
def test_idempotent(case: tuple[str, dict[str, int], dict[str, str]]) -> None:
    xml, nodes, groups = case
    once = place_pci_devices(xml, nodes, groups=groups).xml
    assert place_pci_devices(once, nodes, groups=groups).xml == once
    assert to_text(parse_document(once, source="placed")) == once


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("one-per-node", id="one-per-node"),
        pytest.param("eight-on-eight", id="eight-on-eight"),
        pytest.param("kubevirt", id="kubevirt-fixture"),
    ],
)
def test_libvirt_accepts_placed_domains(libvirtd: Libvirtd, name: str) -> None:
    if name == "kubevirt":
        xml = place_pci_devices(fixture("kubevirt-gpu-2cell.xml"), GPU_NODES, groups=GPU_GROUPS).xml
    elif name == "one-per-node":
        xml = place_pci_devices(
            numa_domain(2, ["0000:3b:00.0", "0000:af:00.0"]), {"0000:3b:00.0": 0, "0000:af:00.0": 1}
        ).xml
    else:
        addresses = [f"0000:{0x10 * (n + 1):02x}:00.0" for n in range(8)]
        xml = place_pci_devices(numa_domain(8, addresses), {a: n for n, a in enumerate(addresses)}).xml
    assert_libvirt_accepts(libvirtd, xml)
