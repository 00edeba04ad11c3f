"""Host reading is all or error: broken and absurd trees and capabilities documents are one
InputError naming the file (or element) and the problem; what real kernels write still reads."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from kvnuma.errors import InputError
from kvnuma.topology.capabilities import parse_capabilities
from kvnuma.topology.sysfs import read_sysfs
from support.broken_hosts import CAPS_CASES, SYSFS_CASES, deny, good_tree  # noqa: F401  (deny: a fixture)
from support.hostbuilder import render_capabilities, synthetic_host

NODE = "devices/system/node"
CPU = "devices/system/cpu"


pytestmark = pytest.mark.usefixtures("deny")  # EACCES for the cases that chmod 0


@pytest.mark.parametrize(
    ("mutate", "named", "fragment"), [pytest.param(*case[1:], id=case[0]) for case in SYSFS_CASES]
)
def test_broken_trees_are_one_error_naming_the_file(
    mutate: Callable[[Path], None], named: str, fragment: str, tmp_path: Path
) -> None:
    root = good_tree(tmp_path / "sys")
    mutate(root)
    with pytest.raises(InputError) as caught:
        read_sysfs(root)
    assert caught.value.source == f"{root}: {named}"
    assert fragment in caught.value.problem
    assert "\n" not in caught.value.one_line()


def test_real_kernel_cases_read_right_with_a_warning_where_assumed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = good_tree(tmp_path / "sys")
    for cpu in (3, 7):  # a core whose online threads have no topology files
        shutil.rmtree(root / CPU / f"cpu{cpu}/topology")
    with caplog.at_level(logging.WARNING, logger="kvnuma.topology"):
        host = read_sysfs(root)
    assert [len(cell.cpus) for cell in host.cells] == [4, 4]
    assert [cpu.siblings.format() for cpu in host.cells[1].cpus] == ["2,6", "3", "2,6", "7"]
    assert "online CPUs 3,7 have no topology files" in caplog.text


@pytest.mark.parametrize(("mutate", "fragment"), [pytest.param(*case[1:], id=case[0]) for case in CAPS_CASES])
def test_broken_capabilities_are_one_error(mutate: Callable[[str], str], fragment: str) -> None:
    text = render_capabilities(synthetic_host(cells=2, cores_per_cell=2, threads=2, memory_per_cell=4 << 30))
    changed = mutate(text)
    assert changed != text
    with pytest.raises(InputError) as caught:
        parse_capabilities(changed, source="caps.xml")
    assert caught.value.source.startswith("caps.xml")
    assert fragment in caught.value.problem
