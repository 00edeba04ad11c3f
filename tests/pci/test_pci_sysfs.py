"""Reading device NUMA nodes, root complexes and CPU -> node maps from a sysfs root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kvnuma.errors import InputError
from kvnuma.pci.sysfs import read_host_pci
from pci.pci_sysfs_tree import GPU_HOST, GPU_HOST_NODES, FakePciDevice, build_sysfs


def test_nodes_root_complexes_and_bridges(tmp_path: Path) -> None:
    root = build_sysfs(tmp_path, GPU_HOST, GPU_HOST_NODES)
    facts = read_host_pci(
        root, ["0000:3b:00.0", "0000:3c:00.1", "0000:af:00.0", "0000:5e:00.0", "0000:99:00.0"]
    )
    assert facts.numa_node == {"0000:3b:00.0": 0, "0000:3c:00.1": 0, "0000:af:00.0": 1, "0000:5e:00.0": -1}
    assert facts.root_complex["0000:3b:00.0"] == facts.root_complex["0000:3c:00.1"] == "pci0000:3a"
    assert facts.root_complex["0000:af:00.0"] == "pci0000:ae"
    assert facts.bridges["0000:3c:00.1"] == ("0000:3a:00.0",)
    assert facts.cpu_nodes[15] == 0
    assert facts.cpu_nodes[16] == 1


def test_a_device_behind_a_switch(tmp_path: Path) -> None:
    chain = ("0000:16:00.0", "0000:17:00.0", "0000:18:08.0")
    root = build_sysfs(tmp_path, [FakePciDevice("0000:19:00.0", 1, "pci0000:16", chain)], {})
    facts = read_host_pci(root, ["0000:19:00.0"])
    assert facts.root_complex == {"0000:19:00.0": "pci0000:16"}
    assert facts.bridges == {"0000:19:00.0": chain}


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        pytest.param(FakePciDevice("0000:01:00.0", None), -1, id="no-numa_node-file"),
        pytest.param(FakePciDevice("0000:01:00.0", 0, numa_node_text="1\x00\x00\n"), 1, id="nul-padded"),
        pytest.param(FakePciDevice("0000:01:00.0", -1), -1, id="minus-one"),
    ],
)
def test_numa_node_values(tmp_path: Path, device: FakePciDevice, expected: int) -> None:
    facts = read_host_pci(build_sysfs(tmp_path, [device], {}), [device.address])
    assert facts.numa_node == {device.address: expected}
    assert facts.root_complex == {}


def test_garbage_numa_node_names_the_file(tmp_path: Path) -> None:
    device = FakePciDevice("0000:01:00.0", 0, numa_node_text="zero")
    with pytest.raises(InputError) as caught:
        read_host_pci(build_sysfs(tmp_path, [device], {}), [device.address])
    assert caught.value.source.endswith("bus/pci/devices/0000:01:00.0/numa_node")
    assert "'zero'" in caught.value.problem


def test_a_link_through_another_link_is_resolved_inside_the_root(tmp_path: Path) -> None:
    chain = ("0000:16:00.0", "0000:17:00.0")
    root = build_sysfs(tmp_path, [FakePciDevice("0000:19:00.0", 1, "pci0000:16", chain)], {})
    link = root / "bus" / "pci" / "devices" / "0000:19:00.0"
    (root / "hop").symlink_to(link.resolve())
    link.unlink()
    link.symlink_to(os.path.relpath(root / "hop", link.parent))
    facts = read_host_pci(root, ["0000:19:00.0"])
    assert facts.root_complex == {"0000:19:00.0": "pci0000:16"}
    assert facts.bridges == {"0000:19:00.0": chain}
