"""The guest NUMA / memory policy shapes pass both libvirt lanes' schemas and libvirt's own checks
(``virsh define``: e.g. ``restrictive`` must be in ``<memory>`` and every ``<memnode>`` alike)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kvnuma.model import CpuSet
from kvnuma.names import GUEST_NUMA_ANNOTATION, MEMORY_POLICIES, MEMORY_POLICY_ANNOTATION
from kvnuma.placement import GuestPlan, plan_guest
from kvnuma.render import merge_into, render_domain
from placement.engine_inputs import HOST_4, vmi
from support.libvirt import Libvirtd, assert_libvirt_accepts, validate_domain

BASE = (Path(__file__).parent / "kubevirt_base_domain.xml").read_text()
SHAPES = ("host-cells", "passthrough")


def plan_for(shape: str, policy: str) -> GuestPlan:
    annotations = {MEMORY_POLICY_ANNOTATION: policy}
    if shape == "host-cells":
        annotations[GUEST_NUMA_ANNOTATION] = "host-cells"
    spec = vmi(
        cores=3,
        memory="130Mi",
        page="2Mi" if shape == "passthrough" else None,
        passthrough=shape == "passthrough",
        emulator=True,
        annotations=annotations,
    )
    return plan_guest(spec, CpuSet.parse("2,3,4,5"), HOST_4, check_hugepages=False)


CASES = [
    pytest.param(shape, policy, id=f"{shape}-{policy}") for shape in SHAPES for policy in MEMORY_POLICIES
]


@pytest.mark.parametrize(("shape", "policy"), CASES)
def test_both_schemas_accept(shape: str, policy: str) -> None:
    plan = plan_for(shape, policy)
    assert len(plan.cells) == 2
    assert plan.memory_policy == policy
    for xml in (render_domain(plan), merge_into(BASE, plan)):
        assert f'<memnode cellid="1" mode="{policy}" nodeset="2"' in xml
        validate_domain(xml)


@pytest.mark.parametrize("policy", MEMORY_POLICIES)
def test_libvirt_defines_the_default_memory_cells(libvirtd: Libvirtd, policy: str) -> None:
    assert_libvirt_accepts(libvirtd, merge_into(BASE, plan_for("host-cells", policy)))


def test_libvirt_refuses_a_mixed_restrictive_numatune(libvirtd: Libvirtd) -> None:
    """Why the policy goes to <memory> and every <memnode> alike: libvirt's own rule."""
    xml = merge_into(BASE, plan_for("host-cells", "restrictive")).replace(
        '<memnode cellid="1" mode="restrictive"', '<memnode cellid="1" mode="strict"'
    )
    with pytest.raises(AssertionError, match="restrictive"):
        assert_libvirt_accepts(libvirtd, xml)
