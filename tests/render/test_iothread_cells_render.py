"""IOThreads pinned per cell (``kvnuma.io/iothread-placement: cell``): the ``<iothreadpin>``
shape passes both libvirt lanes' schemas and the real libvirtd's ``virsh define``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kvnuma.model import CpuSet
from kvnuma.names import IOTHREAD_PLACEMENT_ANNOTATION
from kvnuma.placement import GuestPlan, plan_guest
from kvnuma.render import merge_into, render_domain
from placement.engine_inputs import smt_host, vmi
from support.libvirt import Libvirtd, assert_libvirt_accepts, validate_domain

BASE = (Path(__file__).parent / "kubevirt_base_domain.xml").read_text()
HOST = smt_host(2, 4, smt=False)
DISKS: list[dict[str, Any]] = [
    {"name": "root", "disk": {"bus": "virtio"}},
    {"name": "data", "disk": {"bus": "virtio"}, "dedicatedIOThread": True},
]


def plan_for(policy: str, emulator: bool) -> GuestPlan:
    threads = {"supplemental": 2} if policy == "supplementalPool" else {"io_policy": policy}
    spec = vmi(
        cores=4,
        emulator=emulator,
        disks=DISKS,
        annotations={IOTHREAD_PLACEMENT_ANNOTATION: "cell"},
        **threads,
    )
    return plan_guest(spec, CpuSet.parse("1-7"), HOST, check_hugepages=False, disk_cells={"data": 1})


CASES = [
    pytest.param(policy, emulator, id=f"{policy}-{'isolated' if emulator else 'shared'}-emulator")
    for policy in ("shared", "auto", "supplementalPool")
    for emulator in (False, True)
]


@pytest.mark.parametrize(("policy", "emulator"), CASES)
def test_both_schemas_accept(policy: str, emulator: bool) -> None:
    plan = plan_for(policy, emulator)
    assert plan.iothread_cells
    assert plan.iothread_pins
    for xml in (render_domain(plan), merge_into(BASE, plan)):
        for thread, cpus in plan.iothread_pins:
            assert f'<iothreadpin iothread="{thread}" cpuset="{cpus.format(ranges=False)}"' in xml
        validate_domain(xml)


@pytest.mark.parametrize(("policy", "emulator"), CASES)
def test_libvirt_defines_it(libvirtd: Libvirtd, policy: str, emulator: bool) -> None:
    assert_libvirt_accepts(libvirtd, merge_into(BASE, plan_for(policy, emulator)))
