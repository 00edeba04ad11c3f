"""libvirt capabilities XML: a real libvirt 9.0 document, units, the round trip, bad documents."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from topology_strategies import topologies

from kvnuma.errors import InputError
from kvnuma.model import CpuSet, HostTopology
from kvnuma.topology.capabilities import parse_capabilities, scale, write_capabilities

DATA = Path(__file__).parent / "data"


def test_reads_a_real_libvirt_9_document() -> None:
    host = parse_capabilities((DATA / "libvirt9-capabilities.xml").read_text(), source="caps")
    (cell,) = host.cells
    assert cell.id == 0
    assert cell.memory_bytes == 4810528 * 1024
    assert [(pool.page_size_bytes, pool.total, pool.free) for pool in cell.hugepages] == [
        (2 << 20, 0, None),
        (1 << 30, 0, None),
    ]
    assert cell.distances == ((0, 10),)
    assert [(cpu.id, cpu.core_id, cpu.siblings) for cpu in cell.cpus] == [
        (0, 0, CpuSet.of([0])),
        (1, 1, CpuSet.of([1])),
    ]
    assert host.pci_devices == ()


@given(topologies())
@settings(max_examples=150, deadline=None)
def test_write_then_parse_is_the_identity(topology: HostTopology) -> None:
    assert parse_capabilities(write_capabilities(topology), source="written") == topology


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        pytest.param("4", None, 4096, id="default-KiB"),
        pytest.param("4", "KiB", 4096, id="KiB"),
        pytest.param("4", "k", 4096, id="k"),
        pytest.param("4", "KB", 4000, id="KB-is-decimal"),
        pytest.param("3", "MiB", 3 << 20, id="MiB"),
        pytest.param("1", "G", 1 << 30, id="G"),
        pytest.param("1", "GB", 10**9, id="GB"),
        pytest.param("7", "bytes", 7, id="bytes"),
        pytest.param("7", "b", 7, id="b"),
    ],
)
def test_units_follow_libvirt(value: str, unit: str | None, expected: int) -> None:
    assert scale(value, unit, "memory") == expected


def _doc(cell: str) -> str:
    return f"<capabilities><host><topology><cells num='1'>{cell}</cells></topology></host></capabilities>"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(
            "<capabilities><host", "malformed XML: unclosed token at line 1, column 15", id="truncated"
        ),
        pytest.param(
            "<capabilities>\n  <host></capabilities>", "mismatched tag at line 2, column 11", id="mismatch"
        ),
        pytest.param("<domain/>", "expected a <capabilities> document, got <domain>", id="wrong-root"),
        pytest.param("<capabilities><host/></capabilities>", "no <host><topology><cells>", id="no-topology"),
        pytest.param(_doc(""), "<cells> holds no <cell>", id="no-cells"),
        pytest.param(_doc("<cell id='x'/>"), "<cell id='x'> is not an integer", id="cell-id"),
        pytest.param(_doc("<cell id='0'/><cell id='0'/>"), "duplicate cell ids", id="duplicate-cells"),
        pytest.param(
            _doc("<cell id='0'><memory unit='parsec'>1</memory></cell>"), "unknown unit 'parsec'", id="unit"
        ),
        pytest.param(
            _doc("<cell id='0'><memory>lots</memory></cell>"), "expected a whole number", id="memory"
        ),
        pytest.param(
            _doc("<cell id='0'><pages size='2048'>-1</pages></cell>"), "negative number", id="pages"
        ),
        pytest.param(
            _doc("<cell id='0'><cpus num='1'><cpu id='0' socket_id='0' siblings='0-x'/></cpus></cell>"),
            "malformed cpu list item",
            id="siblings",
        ),
        pytest.param(
            _doc("<cell id='0'><distances><sibling id='0'/></distances></cell>"),
            "has no value attribute",
            id="dist",
        ),
    ],
)
def test_bad_documents_name_the_source_and_the_problem(text: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_capabilities(text, source="host.xml")
    assert caught.value.source.startswith("host.xml")
    assert problem in str(caught.value)


def test_offline_cpu_is_a_bare_row() -> None:
    host = parse_capabilities(
        _doc("<cell id='0'><cpus num='2'><cpu id='0' socket_id='0' die_id='0' core_id='0' siblings='0'/>"
             "<cpu id='1'/></cpus></cell>"),
        source="caps",
    )  # fmt: skip
    assert [cpu.online for cpu in host.cells[0].cpus] == [True, False]


@pytest.mark.skipif(shutil.which("virt-xml-validate") is None, reason="libvirt-clients is not installed")
def test_written_document_passes_libvirts_schema(tmp_path: Path) -> None:
    from support.hostbuilder import synthetic_host

    path = tmp_path / "caps.xml"
    path.write_text(write_capabilities(synthetic_host(memory_only_cells=1, offline=[3])))
    done = subprocess.run(
        ["virt-xml-validate", str(path), "capability"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
