"""Broken sysfs trees and capabilities documents, shared by tests/topology and the bad-input
table (tests/badinput): each case names the file (or element) the error must name and a fragment
of the problem. ``deny`` is a fixture making the one sysfs reader see EACCES (root reads any mode)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.hostbuilder import render_sysfs, synthetic_host

__all__ = ["CAPS_CASES", "SYSFS_CASES", "deny", "good_tree"]

NODE = "devices/system/node"
CPU = "devices/system/cpu"
GIB_KB = 1 << 20


def good_tree(root: Path) -> Path:
    render_sysfs(synthetic_host(cells=2, cores_per_cell=2, threads=2, memory_per_cell=4 << 30), root)
    return root


def _write(relpath: str, text: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        (root / relpath).write_text(text)

    return mutate


def _remove(relpath: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        target = root / relpath
        shutil.rmtree(target) if target.is_dir() else target.unlink()

    return mutate


_DENIED: list[str] = []


def _unreadable(relpath: str) -> Callable[[Path], None]:
    """chmod 0, and (root reads any mode) the same EACCES from the one file reader's os calls."""

    def mutate(root: Path) -> None:
        (root / relpath).chmod(0)
        _DENIED.append(str(root / relpath))

    return mutate


@pytest.fixture
def deny(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:

    real_open, real_listdir = os.open, os.listdir
    _DENIED.clear()

    def check(path: str) -> None:
        if any(path == denied or path.startswith(denied + "/") for denied in _DENIED):
            raise PermissionError(13, "Permission denied", path)

    def fake_open(path: str, flags: int, *args: int, **options: object) -> int:
        check(str(path))
        return real_open(path, flags, *args, **options)  # type: ignore[arg-type]

    def fake_listdir(path: str = ".") -> list[str]:
        check(str(path))
        return real_listdir(path)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "listdir", fake_listdir)
    yield
    _DENIED.clear()


def _fifo(relpath: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        (root / relpath).unlink()
        os.mkfifo(root / relpath)

    return mutate


def _folder(relpath: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        (root / relpath).unlink()
        (root / relpath).mkdir()

    return mutate


def _loop(relpath: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        (root / relpath).unlink()
        (root / relpath).symlink_to(root / relpath)

    return mutate


SYSFS_CASES = [
    # (id, mutation, file named, problem fragment)
    ("node-folder-unreadable", _unreadable(NODE), NODE, "Permission denied"),
    (
        "meminfo-unreadable",
        _unreadable(f"{NODE}/node1/meminfo"),
        f"{NODE}/node1/meminfo",
        "Permission denied",
    ),
    ("meminfo-missing", _remove(f"{NODE}/node1/meminfo"), f"{NODE}/node1/meminfo", "missing"),
    ("meminfo-loop", _loop(f"{NODE}/node1/meminfo"), f"{NODE}/node1/meminfo", "symbolic links"),
    ("meminfo-empty", _write(f"{NODE}/node1/meminfo", ""), f"{NODE}/node1/meminfo", "no MemTotal"),
    (
        "meminfo-absurd",
        _write(f"{NODE}/node1/meminfo", "Node 1 MemTotal: 99999999999999999999999 kB\n"),
        f"{NODE}/node1/meminfo",
        "beyond any real NUMA node",
    ),
    (
        "topology-unreadable",
        _unreadable(f"{CPU}/cpu2/topology"),
        f"{CPU}/cpu2/topology/thread_siblings_list",
        "Permission denied",
    ),
    (
        "siblings-contradict",
        _write(f"{CPU}/cpu0/topology/thread_siblings_list", "0,2\n"),
        f"{CPU}/cpu2/topology/thread_siblings_list",
        "lists 2,6, but CPU 0's list says 0,2",
    ),
    (
        "siblings-name-missing-cpu",
        _write(f"{CPU}/cpu0/topology/thread_siblings_list", "0,99\n"),
        f"{CPU}/cpu0/topology/thread_siblings_list",
        "names CPU 99",
    ),
    (
        "siblings-huge",
        _write(f"{CPU}/cpu0/topology/thread_siblings_list", "0-999999\n"),
        f"{CPU}/cpu0/topology/thread_siblings_list",
        "limit",
    ),
    (
        "cpulist-overlap",
        _write(f"{NODE}/node1/cpulist", "0,4-7\n"),
        f"{NODE}/node1/cpulist",
        "also in cell 0",
    ),
    (
        "cpulist-out-of-range",
        _write(f"{NODE}/node1/cpulist", "4-9\n"),
        f"{NODE}/node1/cpulist",
        "names CPU 8",
    ),
    ("cpulist-huge", _write(f"{NODE}/node1/cpulist", "0-999999\n"), f"{NODE}/node1/cpulist", "limit"),
    ("cpulist-folder", _folder(f"{NODE}/node1/cpulist"), f"{NODE}/node1/cpulist", "a folder"),
    ("cpulist-fifo", _fifo(f"{NODE}/node1/cpulist"), f"{NODE}/node1/cpulist", "a FIFO"),
    ("cpulist-binary", _write(f"{NODE}/node1/cpulist", "\xff\xfe"), f"{NODE}/node1/cpulist", "not text"),
    ("node-folder-missing", _remove(f"{NODE}/node1"), f"{NODE}/online", "no node<N> folder"),
    (
        "distance-local-above-remote",
        _write(f"{NODE}/node0/distance", "21 10\n"),
        f"{NODE}/node0/distance",
        "to itself",
    ),
    ("distance-4096", _write(f"{NODE}/node0/distance", "10 4096\n"), f"{NODE}/node0/distance", "4096"),
    ("distance-zero", _write(f"{NODE}/node0/distance", "0 0\n"), f"{NODE}/node0/distance", "to itself"),
    (
        "distance-not-square",
        _write(f"{NODE}/node0/distance", "10\n"),
        f"{NODE}/node0/distance",
        "1 distances",
    ),
    (
        "free-pages-above-total",
        _write(f"{NODE}/node0/hugepages/hugepages-2048kB/free_hugepages", "999\n"),
        f"{NODE}/node0/hugepages",
        "999 free",
    ),
    (
        "pages-beyond-memory",
        _write(f"{NODE}/node0/hugepages/hugepages-1048576kB/nr_hugepages", "64\n"),
        f"{NODE}/node0/hugepages",
        "do not fit",
    ),
    (
        "pages-absurd",
        _write(f"{NODE}/node0/hugepages/hugepages-2048kB/nr_hugepages", "99999999999999999999999\n"),
        f"{NODE}/node0/hugepages",
        "do not fit",
    ),
]


CAPS_CASES = [
    ("one-cpu-in-two-cells", lambda x: x.replace('<cpu id="2"', '<cpu id="0"', 1), "also in cell 0"),
    ("siblings-4M", lambda x: x.replace('siblings="0,4"', 'siblings="0-4000000"', 1), "limit"),
    ("memory-absurd", lambda x: x.replace(">4194304</memory>", ">99999999999999999</memory>", 1), "beyond"),
    ("distance-zero", lambda x: x.replace('value="10"', 'value="0"', 1), "to itself"),
    ("pages-absurd", lambda x: x.replace(">2</pages>", ">999999999999</pages>", 1), "do not fit"),
    (
        "many-cells",
        lambda x: x.replace('<cells num="2">', '<cells num="2">' + '<cell id="9"/>' * 20000, 1),
        "limit",
    ),
]
