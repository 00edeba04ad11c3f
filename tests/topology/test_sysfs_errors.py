"""Garbage in a sysfs tree: one InputError naming the file (under the root) and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from kvnuma.errors import InputError
from kvnuma.model import PciDevice
from kvnuma.topology.sysfs import read_sysfs
from support.hostbuilder import render_sysfs, synthetic_host

CPU0 = "devices/system/cpu/cpu0/topology"
NODE0 = "devices/system/node/node0"
PCI = "bus/pci/devices/0000:00:03.0"


@pytest.mark.parametrize(
    ("relpath", "content", "problem"),
    [
        pytest.param(f"{CPU0}/core_id", "abc", "expected an integer id or -1, got 'abc'", id="core-id-word"),
        pytest.param(f"{CPU0}/physical_package_id", "1.5", "expected an integer", id="socket-fraction"),
        pytest.param(f"{CPU0}/thread_siblings_list", "0-x", "malformed cpu list item", id="siblings-item"),
        pytest.param(f"{CPU0}/thread_siblings_list", "5-2", "ends before it starts", id="siblings-backwards"),
        pytest.param("devices/system/cpu/online", "0-3,zz", "malformed cpu list item", id="cpu-online"),
        pytest.param("devices/system/node/online", "zero", "malformed cpu list item", id="node-online"),
        pytest.param(f"{NODE0}/cpulist", "0-1-2", "malformed cpu list item", id="node-cpulist"),
        pytest.param(
            f"{NODE0}/meminfo", "Node 0 MemTotal: lots kB", "malformed MemTotal", id="meminfo-value"
        ),
        pytest.param(f"{NODE0}/meminfo", "Node 0 MemFree: 1 kB", "no MemTotal line", id="meminfo-no-total"),
        pytest.param(f"{NODE0}/distance", "10 x", "expected blank-separated integers", id="distance-word"),
        pytest.param(f"{NODE0}/distance", "10 21 21", "3 distances for 2 online nodes", id="distance-count"),
        pytest.param(f"{NODE0}/distance", "", "expected non-negative distances", id="distance-empty"),
        pytest.param(
            f"{NODE0}/hugepages/hugepages-2048kB/nr_hugepages",
            "-5",
            "negative page count",
            id="pages-negative",
        ),
        pytest.param(
            f"{NODE0}/hugepages/hugepages-2048kB/free_hugepages",
            "many",
            "expected an integer",
            id="pages-word",
        ),
        pytest.param(f"{PCI}/numa_node", "near", "expected an integer", id="pci-node-word"),
        pytest.param(f"{PCI}/numa_node", "-7", "expected an integer id or -1", id="pci-node-negative"),
        pytest.param(f"{PCI}/vendor", "0xzz", "expected a hexadecimal number", id="pci-vendor"),
    ],
)
def test_garbage_names_the_file_and_the_problem(
    relpath: str, content: str, problem: str, tmp_path: Path
) -> None:
    nic = PciDevice("0000:00:03.0", "0x1af4", "0x1041", "0x020000", 0)
    host = synthetic_host(cells=2, cores_per_cell=2, pci_devices=[nic])
    render_sysfs(host, tmp_path)
    (tmp_path / relpath).write_text(content + "\n")
    with pytest.raises(InputError) as caught:
        read_sysfs(tmp_path)
    assert caught.value.source == f"{tmp_path}: {relpath}"
    assert problem in caught.value.problem
    assert "\n" not in caught.value.one_line()


@pytest.mark.parametrize("kind", ["missing", "empty", "a-file"])
def test_unreadable_or_empty_root(kind: str, tmp_path: Path) -> None:
    root = tmp_path if kind == "empty" else tmp_path / kind
    if kind == "a-file":
        root.write_text("not a folder")
    with pytest.raises(InputError) as caught:
        read_sysfs(root)
    if kind == "empty":
        assert caught.value.source == f"{root}: devices/system/cpu"
        assert "not a sysfs tree" in caught.value.problem
    else:
        assert caught.value.source == str(root)
        assert caught.value.problem == ("no such folder" if kind == "missing" else "not a folder")
