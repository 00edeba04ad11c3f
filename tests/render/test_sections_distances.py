"""``<cell><distances>`` in the rendered domain: shapes, virt-xml-validate, and libvirt keeps them."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kvnuma.model import CpuSet, HostTopology
from kvnuma.placement import GuestPlan, plan_guest
from kvnuma.render import merge_into, render_domain
from placement.engine_inputs import HOST_4, renumber_ids, vmi, with_distances
from support.libvirt import Libvirtd, define_domain, undefine_domain, validate_domain

BASE = (Path(__file__).parent / "kubevirt_base_domain.xml").read_text()

CASES = [
    # (id, host, cpuset, expected siblings per guest cell)
    ("cells-1-3", HOST_4, "2,3,6,7", [[("0", "10"), ("1", "22")], [("0", "22"), ("1", "10")]]),
    ("all-four", HOST_4, "0-7", [[("0", "10"), ("1", "16"), ("2", "22"), ("3", "22")]]),
    ("sparse-ids", renumber_ids(HOST_4, [0, 1, 16, 17]), "0,1,6,7", [[("0", "10"), ("1", "22")]]),
    ("one-cell", HOST_4, "4,5", [[("0", "10")]]),
]


def plan_for(host: HostTopology, cpuset: str) -> GuestPlan:
    cores = len(CpuSet.parse(cpuset))
    return plan_guest(vmi(cores=cores, memory="128Mi"), CpuSet.parse(cpuset), host, check_hugepages=False)


def siblings(xml: str) -> list[list[tuple[str | None, str | None]]]:
    root = ET.fromstring(xml)
    return [
        [(s.get("id"), s.get("value")) for s in cell.iterfind("distances/sibling")]
        for cell in root.iterfind("cpu/numa/cell")
    ]


@pytest.mark.parametrize(
    ("host", "cpuset", "expected"), [pytest.param(h, c, e, id=i) for i, h, c, e in CASES]
)
def test_rendered_distances(host: HostTopology, cpuset: str, expected: list[list[tuple[str, str]]]) -> None:
    plan = plan_for(host, cpuset)
    for xml in (render_domain(plan), merge_into(BASE, plan)):
        assert siblings(xml)[: len(expected)] == expected
        assert len(siblings(xml)) == len(plan.cells)
        validate_domain(xml)


def test_no_distances_element_when_the_host_reports_none() -> None:
    plan = plan_for(with_distances(HOST_4, {}), "2,3,6,7")
    root = ET.fromstring(render_domain(plan))
    assert len(root.findall("cpu/numa/cell")) == 2
    assert root.find("cpu/numa/cell/distances") is None


def test_merge_replaces_old_distances() -> None:
    plan = plan_for(HOST_4, "2,3,6,7")
    once = merge_into(BASE, plan)
    bare = dataclasses.replace(plan, cells=tuple(dataclasses.replace(c, distances=()) for c in plan.cells))
    assert ET.fromstring(merge_into(once, bare)).find("cpu/numa/cell/distances") is None


@pytest.mark.parametrize(("host", "cpuset"), [pytest.param(h, c, id=i) for i, h, c, _ in CASES])
def test_libvirt_defines_and_keeps_distances(libvirtd: Libvirtd, host: HostTopology, cpuset: str) -> None:
    xml = render_domain(plan_for(host, cpuset))
    name = define_domain(libvirtd, xml)
    try:
        assert siblings(libvirtd.virsh("dumpxml", "--inactive", name)) == siblings(xml)
    finally:
        undefine_domain(libvirtd, name)
