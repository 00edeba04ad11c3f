"""``kvnuma discover`` end to end: every source and output, and one-line failures with exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import yaml
from click.testing import CliRunner

from kvnuma.cli import cli
from kvnuma.model import PciDevice
from kvnuma.topology.capabilities import parse_capabilities
from kvnuma.topology.jsonform import from_json, to_json
from support.hostbuilder import capabilities_view, render_capabilities, render_sysfs, synthetic_host

GPU = PciDevice("0000:3b:00.0", "0x10de", "0x20b5", "0x030200", 1)


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["discover", *args], prog_name="kvnuma")
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def host_tree(tmp_path: Path) -> Path:
    render_sysfs(synthetic_host(cells=4, cores_per_cell=4, offline=[5], pci_devices=[GPU]), tmp_path / "sys")
    return tmp_path / "sys"


def test_json_from_sysfs_is_the_model(host_tree: Path) -> None:
    code, out, _ = _run("--sysfs", str(host_tree), "-o", "json")
    assert code == 0
    model = synthetic_host(cells=4, cores_per_cell=4, offline=[5], pci_devices=[GPU])
    assert orjson.loads(out) == to_json(model)
    assert from_json(orjson.loads(out), source="out") == model


def test_json_is_stable_text(host_tree: Path) -> None:
    first = _run("--sysfs", str(host_tree), "-o", "json")[1]
    assert first == _run("--sysfs", str(host_tree), "-o", "json")[1]
    assert first.endswith("}\n")


def test_yaml_matches_json(host_tree: Path) -> None:
    assert yaml.safe_load(_run("--sysfs", str(host_tree), "-o", "yaml")[1]) == orjson.loads(
        _run("--sysfs", str(host_tree), "-o", "json")[1]
    )


def test_capabilities_output_reads_back(host_tree: Path) -> None:
    code, out, _ = _run("--sysfs", str(host_tree), "-o", "capabilities")
    assert code == 0
    model = synthetic_host(cells=4, cores_per_cell=4, offline=[5], pci_devices=[GPU])
    assert parse_capabilities(out, source="out") == capabilities_view(model)


def test_capabilities_file_source(tmp_path: Path) -> None:
    model = synthetic_host(cells=2, cores_per_cell=2, cell_ids=(0, 16))
    path = tmp_path / "caps.xml"
    path.write_text(render_capabilities(model))
    code, out, _ = _run("--capabilities", str(path), "-o", "json")
    assert code == 0
    assert orjson.loads(out) == to_json(capabilities_view(model))


def test_table_shows_cells_summary_and_placed_devices(host_tree: Path) -> None:
    code, out, _ = _run("--sysfs", str(host_tree))
    assert code == 0
    assert "NUMA cells" in out
    assert "4,6-7,20-23 (offline 5)" in out  # cell 1: cores 4-7, threads 4-7 and 20-23
    assert "online CPUs: 31 (1 offline)" in out
    assert "SMT: on" in out
    assert "0000:3b:00.0" in out
    assert "0x10de:0x20b5" in out


def test_bad_xml_is_one_line_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "caps.xml"
    path.write_text("<capabilities>\n<host>\n")
    code, out, err = _run("--capabilities", str(path))
    assert code == 2
    assert out == ""
    assert err == f"kvnuma: error: {path}: malformed XML: no element found at line 3, column 1\n"


def test_garbage_sysfs_file_is_one_line_exit_2(host_tree: Path) -> None:
    (host_tree / "devices/system/cpu/cpu0/topology/core_id").write_text("zero\n")
    code, _, err = _run("--sysfs", str(host_tree))
    assert code == 2
    relpath = "devices/system/cpu/cpu0/topology/core_id"
    assert err == f"kvnuma: error: {host_tree}: {relpath}: expected an integer id or -1, got 'zero'\n"


def test_two_sources_are_a_usage_error(host_tree: Path) -> None:
    code, _, err = _run("--sysfs", str(host_tree), "--capabilities", "x.xml")
    assert code == 2
    assert "give at most one host source, not --sysfs and --capabilities" in err


def test_real_process_has_no_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "kvnuma"), "discover", "--sysfs", str(tmp_path / "nothing")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "nothing: no such folder" in done.stderr
    assert "Traceback" not in done.stderr
