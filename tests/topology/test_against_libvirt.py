"""Real peer: ``kvnuma discover`` (sysfs and libvirt sources) agrees with ``virsh capabilities``.

virsh's document is read here with plain ElementTree, not with kvnuma's parser. This machine's
memory can change while the test runs (ballooning, huge page reservations by other tests), so a
comparison counts only when virsh said the same thing before and after kvnuma ran.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import orjson
import pytest

from support.libvirt import Libvirtd

pytestmark = pytest.mark.libvirt

KVNUMA = str(Path(sys.executable).parent / "kvnuma")
SRC = Path(__file__).resolve().parents[2] / "src"
SYSTEM_PYTHON = "/usr/bin/python3"
ATTEMPTS = 5

Facts = list[dict[str, Any]]


def _expand(cpulist: str) -> list[int]:
    ids: list[int] = []
    for item in cpulist.split(","):
        first, _, last = item.partition("-")
        ids.extend(range(int(first), int(last or first) + 1))
    return sorted(ids)


def _virsh_facts(libvirtd: Libvirtd) -> Facts:
    """Per cell: id, CPUs (id, socket, die, core, siblings), memory bytes, huge page totals."""
    host = ET.fromstring(libvirtd.virsh("capabilities")).find("host/topology/cells")
    assert host is not None
    cells = []
    for cell in host.findall("cell"):
        memory = cell.find("memory")
        assert memory is not None
        assert memory.get("unit") == "KiB"
        cells.append(
            {
                "id": int(cell.get("id", "-1")),
                "cpus": [
                    (
                        int(cpu.get("id", "-1")),
                        int(cpu.get("socket_id", "0")),
                        int(cpu.get("die_id", "0")),
                        int(cpu.get("core_id", "0")),
                        _expand(cpu.get("siblings", cpu.get("id", ""))),
                    )
                    for cpu in cell.findall("cpus/cpu")
                ],
                "memoryBytes": int(memory.text or "0") * 1024,
                "hugepages": {
                    int(pages.get("size", "0")) * 1024: int(pages.text or "0")
                    for pages in cell.findall("pages")
                    if pages.get("unit") == "KiB" and pages.get("size") != "4"
                },
            }
        )
    return cells


def _kvnuma_facts(document: dict[str, Any]) -> Facts:
    return [
        {
            "id": cell["id"],
            "cpus": [
                (cpu["id"], cpu["socketId"], cpu["dieId"], cpu["coreId"], cpu["siblings"])
                for cpu in cell["cpus"]
            ],
            "memoryBytes": cell["memoryBytes"],
            "hugepages": {pool["pageSizeBytes"]: pool["total"] for pool in cell["hugepages"]},
        }
        for cell in document["cells"]
    ]


def _kvnuma(*args: str) -> dict[str, Any]:
    done = subprocess.run([KVNUMA, "discover", *args, "-o", "json"], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    document: dict[str, Any] = orjson.loads(done.stdout)
    return document


def _agree(libvirtd: Libvirtd, read: Any) -> tuple[Facts, Facts]:
    """(virsh, kvnuma) facts from a moment when virsh's answer did not change around kvnuma's."""
    for _ in range(ATTEMPTS):
        before = _virsh_facts(libvirtd)
        ours = read()
        if _virsh_facts(libvirtd) == before:
            return before, ours
    pytest.fail(f"the host's topology kept changing over {ATTEMPTS} attempts", pytrace=False)


def test_sysfs_discovery_matches_virsh(libvirtd: Libvirtd) -> None:
    virsh, ours = _agree(libvirtd, lambda: _kvnuma_facts(_kvnuma("--sysfs", "/sys")))
    assert ours == virsh


def test_libvirt_discovery_matches_virsh(libvirtd: Libvirtd) -> None:
    virsh, ours = _agree(libvirtd, lambda: _kvnuma_facts(_kvnuma("--libvirt", libvirtd.uri)))
    assert ours == virsh


@pytest.mark.skipif(shutil.which(SYSTEM_PYTHON) is None, reason="no system Python")
def test_libvirt_python_module_path_matches_virsh(libvirtd: Libvirtd) -> None:
    """The libvirt-python path (Debian's python3-libvirt lives in the system Python only; the
    reader needs nothing outside the standard library)."""
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import libvirt"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("python3-libvirt is not installed for the system Python")
    script = (
        "import sys, json\n"
        "from kvnuma.topology.libvirt_host import read_libvirt, _libvirt_module\n"
        "from kvnuma.topology.jsonform import to_json\n"
        "assert _libvirt_module() is not None\n"
        "json.dump(to_json(read_libvirt(sys.argv[1])), sys.stdout)\n"
    )

    def read() -> Facts:
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        done = subprocess.run(
            [SYSTEM_PYTHON, "-c", script, libvirtd.uri], capture_output=True, env=env, check=False
        )
        assert done.returncode == 0, done.stderr.decode()
        return _kvnuma_facts(orjson.loads(done.stdout))

    virsh, ours = _agree(libvirtd, read)
    assert ours == virsh


def test_unreachable_libvirt_is_one_line_exit_2() -> None:
    done = subprocess.run(
        [KVNUMA, "discover", "--libvirt", "qemu+unix:///system?socket=/nonexistent/sock"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("kvnuma: error: qemu+unix:///system?socket=/nonexistent/sock: ")
    assert done.stderr.count("\n") == 1
