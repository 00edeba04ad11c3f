"""The sysfs and capabilities readers against the model that made their inputs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kvnuma.model import CpuSet, HostTopology, PciDevice
from kvnuma.topology.capabilities import parse_capabilities, write_capabilities
from kvnuma.topology.sysfs import DirectoryReader, parse_sysfs, read_sysfs
from support.hostbuilder import capabilities_view, render_capabilities, render_sysfs, synthetic_host

MiB = 1 << 20
GiB = 1 << 30


def _small(**kwargs: Any) -> HostTopology:
    shape: dict[str, Any] = {
        "cells": 2,
        "sockets": 2,
        "cores_per_cell": 3,
        "threads": 2,
        "memory_per_cell": 4 * GiB,
    }
    shape.update(kwargs)
    host: HostTopology = synthetic_host(**shape)
    return host


def _one_cell_without_numa() -> HostTopology:
    host = synthetic_host(cells=1, sockets=1, cores_per_cell=4, threads=2, memory_per_cell=8 * GiB)
    return HostTopology(cells=(dataclasses.replace(host.cells[0], distances=()),))


_GPU = PciDevice("0000:3b:00.0", "0x10de", "0x20b5", "0x030200", 1)
_NIC = PciDevice("0000:00:03.0", "0x1af4", "0x1041", "0x020000", -1)

# (id, model factory, render_sysfs knobs)
CASES: list[tuple[str, Callable[[], HostTopology], dict[str, Any]]] = [
    ("benchmark-shape-448-cpus", synthetic_host, {}),
    ("smt2-split-numbering", _small, {}),
    ("no-smt", lambda: _small(threads=1), {}),
    ("smt4", lambda: _small(threads=4), {}),
    ("non-contiguous-node-ids", lambda: _small(cells=4, cell_ids=(0, 1, 16, 17)), {}),
    ("memory-only-nodes", lambda: _small(memory_only_cells=2), {}),
    ("offline-cpus", lambda: _small(offline=(1, 7)), {}),
    ("offline-whole-core", lambda: _small(offline=(2, 8)), {}),
    ("dies-core-ids-repeat", lambda: _small(cells=4, dies_per_socket=2), {}),
    ("nul-padding", _small, {"nul_padding": True}),
    ("range-siblings", lambda: _small(adjacent_threads=True), {"range_siblings": True}),
    ("comma-siblings", lambda: _small(adjacent_threads=True), {"range_siblings": False}),
    ("socket-ids-in-thousands", lambda: _small(socket_ids=(1000, 8191)), {}),
    ("minus-one-die-and-cluster", _small, {"minus_one_ids": True}),
    ("no-group-lists", lambda: _small(cells=4, dies_per_socket=2), {"group_lists": False}),
    ("no-node-dir", _one_cell_without_numa, {"no_node_dir": True}),
    ("no-hugepages", lambda: _small(hugepages={}), {}),
    ("pci-devices", lambda: _small(pci_devices=(_GPU, _NIC)), {}),
]


@pytest.mark.parametrize(
    ("make", "knobs"), [pytest.param(make, knobs, id=name) for name, make, knobs in CASES]
)
def test_sysfs_reader_returns_the_model(
    make: Callable[[], HostTopology], knobs: dict[str, Any], tmp_path: Path
) -> None:
    model = make()
    meminfo = render_sysfs(model, tmp_path, **knobs)
    assert parse_sysfs(DirectoryReader(tmp_path), meminfo=meminfo) == model


@pytest.mark.parametrize("range_siblings", [True, False], ids=["ranges", "commas"])
@pytest.mark.parametrize("make", [pytest.param(make, id=name) for name, make, _ in CASES])
def test_capabilities_reader_returns_the_model(
    make: Callable[[], HostTopology], range_siblings: bool
) -> None:
    model = make()
    parsed = parse_capabilities(render_capabilities(model, range_siblings=range_siblings), source="caps.xml")
    assert parsed == capabilities_view(model)


@pytest.mark.parametrize("make", [pytest.param(make, id=name) for name, make, _ in CASES])
def test_written_capabilities_read_back(make: Callable[[], HostTopology]) -> None:
    model = make()
    assert parse_capabilities(write_capabilities(model), source="written") == capabilities_view(model)


def test_facts_of_the_benchmark_shape(tmp_path: Path) -> None:
    render_sysfs(synthetic_host(), tmp_path)
    host = read_sysfs(tmp_path)
    assert (len(host.cells), host.cpu_count, host.max_single_numa_cpus) == (8, 448, 56)
    assert host.smt_enabled
    first = host.cells[0].cpus[0]
    assert first.siblings == CpuSet.of([0, 224])
    assert host.max_single_numa_hugepages_bytes() == {2 * MiB: 512 * 2 * MiB, GiB: 2 * GiB}


def test_core_ids_repeat_per_die_but_cores_stay_distinct(tmp_path: Path) -> None:
    model = _small(cells=2, sockets=1, dies_per_socket=2)
    render_sysfs(model, tmp_path)
    cpus = [cpu for cpu in read_sysfs(tmp_path).cpus if cpu.online]
    assert len({cpu.core_id for cpu in cpus}) == 3
    assert len({cpu.core_key for cpu in cpus}) == 6


def test_memory_only_nodes_do_not_count_as_smallest(tmp_path: Path) -> None:
    render_sysfs(_small(memory_only_cells=1, memory_per_cell=4 * GiB), tmp_path)
    host = read_sysfs(tmp_path)
    assert host.cells[-1].cpus == ()
    assert host.min_single_numa_cpus == 6


def test_missing_optional_files_default_like_libvirt(tmp_path: Path) -> None:
    render_sysfs(_small(), tmp_path)
    topology = tmp_path / "devices/system/cpu/cpu0/topology"
    # thread_siblings_list stays: without it CPU 0's sibling would name a CPU that disowns it,
    # which the host checks rightly refuse (tests/badinput)
    siblings = CpuSet.parse((topology / "thread_siblings_list").read_text())
    for name in ("die_id", "cluster_id", "die_cpus_list", "cluster_cpus_list"):
        (topology / name).unlink()
    (tmp_path / "devices/system/node/node0/distance").unlink()
    host = read_sysfs(tmp_path)
    cpu0 = host.cells[0].cpus[0]
    assert (cpu0.die_id, cpu0.cluster_id, cpu0.siblings) == (0, 0, siblings)
    assert host.cells[0].distances == ()


def test_node_ids_come_from_folders_when_online_is_missing(tmp_path: Path) -> None:
    model = _small(cells=4, cell_ids=(0, 1, 16, 17))
    render_sysfs(model, tmp_path)
    (tmp_path / "devices/system/node/online").unlink()
    assert read_sysfs(tmp_path).cell_ids == (0, 1, 16, 17)


def test_this_machine() -> None:
    host = read_sysfs()
    online = CpuSet.parse(Path("/sys/devices/system/cpu/online").read_text())
    assert host.cpu_count == len(online)
    assert host.cells
    assert host.cells[0].memory_bytes > 0
