"""``kvnuma discover`` end to end: every source and output, and one-line failures with exit 2."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from kvnuma.cli import cli, main
from kvnuma.cli.discover import plain_options
from kvnuma.cli.output import dumps_json
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
    assert err == f"kvnuma: error: {host_tree}: {relpath}: expected an integer, got 'zero'\n"


def test_two_sources_are_a_usage_error(host_tree: Path) -> None:
    code, _, err = _run("--sysfs", str(host_tree), "--capabilities", "x.xml")
    assert code == 2
    assert "give at most one source, not --sysfs and --capabilities" in err


def test_real_process_has_no_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "kvnuma"), "discover", "--sysfs", str(tmp_path / "nothing")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "not a sysfs tree" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param([], {"output": "table"}, id="none"),
        pytest.param(["-o", "json"], {"output": "json"}, id="short"),
        pytest.param(["-ojson"], {"output": "json"}, id="short-joined"),
        pytest.param(["--output=yaml", "--sysfs", "/s"], {"output": "yaml", "sysfs": "/s"}, id="long-equals"),
        pytest.param(
            ["--libvirt=qemu:///system"], {"libvirt_uri": "qemu:///system", "output": "table"}, id="uri"
        ),
        pytest.param(
            ["--capabilities", "c.xml", "-o", "capabilities"],
            {"capabilities": "c.xml", "output": "capabilities"},
            id="caps",
        ),
        pytest.param(["--help"], None, id="help"),
        pytest.param(["-h"], None, id="short-help"),
        pytest.param(["-o", "nope"], None, id="bad-choice"),
        pytest.param(["-o=json"], None, id="short-equals-is-click's"),
        pytest.param(["-o"], None, id="missing-value"),
        pytest.param(["--sysfs"], None, id="missing-path"),
        pytest.param(["--sysfs="], None, id="empty-path"),
        pytest.param(["--sysfs", "-o", "json"], None, id="option-as-value"),
        pytest.param(["-o", "json", "-o", "yaml"], None, id="twice"),
        pytest.param(["--sysfs", "/s", "--libvirt", "x"], None, id="two-sources"),
        pytest.param(["--sys", "/s"], None, id="abbreviation"),
        pytest.param(["extra"], None, id="positional"),
        pytest.param(["--", "-o", "json"], None, id="double-dash"),
    ],
)
def test_plain_options_or_leave_it_to_click(args: list[str], expected: dict[str, str] | None) -> None:
    assert plain_options(args) == expected


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as ended:
        main(["discover", *args])
    captured = capsys.readouterr()
    code = ended.value.code
    return (code if isinstance(code, int) else 0 if code is None else 1), captured.out, captured.err


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["-o", "json"], id="json"),
        pytest.param(["-oyaml"], id="yaml"),
        pytest.param(["--output=capabilities"], id="capabilities"),
        pytest.param([], id="table"),
        pytest.param(["-o", "nope"], id="bad-choice-via-click"),
        pytest.param(["--libvirt", "test:///default"], id="two-sources-via-click"),
    ],
)
def test_main_without_click_prints_what_click_prints(
    host_tree: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    full = ["--sysfs", str(host_tree), *args]
    assert _main(capsys, *full) == _run(*full)


def test_main_without_click_maps_bad_input_in_the_same_place(
    host_tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (host_tree / "devices/system/node/node1/distance").write_text("10 x\n")
    code, out, err = _main(capsys, "--sysfs", str(host_tree), "-o", "json")
    assert (code, out) == (2, "")
    assert err.startswith(f"kvnuma: error: {host_tree}: devices/system/node/node1/distance: expected")
    assert (code, out, err) == _run("--sysfs", str(host_tree), "-o", "json")


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(1 << 70), max_value=1 << 70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=8)
)
_KEYS = st.text(max_size=6) | st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=6)
_DOCUMENTS = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(_KEYS, inner, max_size=4)
    ),
    max_leaves=20,
)


def _orjson_text(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"


def _answer(dumps: Callable[[object], str], value: object) -> str:
    try:
        return dumps(value)
    except orjson.JSONEncodeError as error:
        return f"error: {type(error).__name__}"


@given(_DOCUMENTS)
def test_dumps_json_writes_orjsons_bytes(value: object) -> None:
    assert _answer(dumps_json, value) == _answer(_orjson_text, value)


@pytest.mark.parametrize("depth", [pytest.param(100, id="plain"), pytest.param(300, id="orjson-limit")])
def test_dumps_json_deep_nesting_is_orjsons_too(depth: int) -> None:
    value: object = [1]
    for _ in range(depth):
        value = {"a": value}
    assert _answer(dumps_json, value) == _answer(_orjson_text, value)


def test_dumps_json_of_a_large_host_is_orjsons() -> None:
    data = to_json(synthetic_host())
    assert dumps_json(data) == _orjson_text(data)
