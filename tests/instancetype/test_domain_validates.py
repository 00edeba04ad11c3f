"""Expanded VMIs render (with kvnuma's engine) into domains the installed libvirt accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kvnuma.cli.sources import load_vmi
from kvnuma.model import CpuSet
from kvnuma.placement import plan_guest
from kvnuma.render.domain import render_domain
from kvnuma.vmi import VmiSpec
from support.hostbuilder import synthetic_host
from support.libvirt import validate_domain

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "instancetypes"
MiB = 1 << 20


@pytest.mark.parametrize(
    ("with_preference", "hotplug_factor"),
    [
        pytest.param(False, 1, id="sockets-no-hotplug"),
        # spread 2 cores per socket: maxSockets 8 x 2 cores = 16 maxvcpus for 8 vCPUs
        pytest.param(True, 2, id="spread-keeps-hotplug-slots"),
    ],
)
def test_expanded_cx1_vm_renders_a_valid_domain(
    tmp_path: Path, with_preference: bool, hotplug_factor: int
) -> None:
    vm = yaml.safe_load((EXAMPLES / "vm-cx1.yaml").read_text())
    if not with_preference:
        del vm["spec"]["preference"]
    path = tmp_path / "vm.yaml"
    path.write_text(yaml.safe_dump(vm))
    obj = load_vmi(
        path,
        instancetype=EXAMPLES / "cx1-numa-instancetype.yaml",
        preference=EXAMPLES / "spread-preference.yaml",
    )
    vmi = VmiSpec.from_object(obj)
    host = synthetic_host(cells=2, sockets=2, cores_per_cell=8, threads=2, hugepages={2 * MiB: 8192})
    pod = CpuSet.of([*range(8), 16])  # 8 vCPUs + the isolated emulator thread, all in cell 0
    plan = plan_guest(vmi, pod, host)
    validate_domain(render_domain(plan))
    assert len(plan.cells) == 1
    assert plan.max_vcpus == plan.enabled_vcpus * hotplug_factor
