"""The hook imports nothing outside the standard library (KubeVirt's sidecar-shim has nothing else)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pci.pci_domains import fixture
from pci.pci_sysfs_tree import GPU_HOST, GPU_HOST_NODES, build_sysfs

SRC = Path(__file__).resolve().parents[2] / "src"

PROBE = """
import json, sys
sys.path.insert(0, {src!r})
before = set(sys.modules)
import kvnuma.hook, kvnuma.hook.main, kvnuma.pci, kvnuma.pci.sysfs
loaded = sorted(set(sys.modules) - before)
tops = {{m.split(".")[0] for m in loaded}}
outside = sorted(t for t in tops if t not in sys.stdlib_module_names and t != "kvnuma")
print(json.dumps({{"loaded": loaded, "outside": outside, "path": sys.path}}))
"""


def test_hook_imports_only_the_standard_library() -> None:
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE.format(src=str(SRC))],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(done.stdout)
    assert report["outside"] == []
    kvnuma_modules = {m for m in report["loaded"] if m.startswith("kvnuma")}
    assert "kvnuma.errors" in kvnuma_modules
    assert not any(m.startswith(("kvnuma.model", "kvnuma.cli", "kvnuma.topology")) for m in kvnuma_modules)
    assert not any("site-packages" in entry for entry in report["path"])


SLOW_IMPORTS = ("re", "json", "dataclasses", "inspect", "pathlib", "typing", "xml.etree", "argparse", "copy")

RUN = """
import sys
sys.path.insert(0, {src!r})
from kvnuma.hook.main import run
outcome = run(["--vmi", {vmi!r}, "--domain", {domain!r}, "--sysfs", {sysfs!r}], {{}})
assert outcome.exit_code == 0 and "pcie-expander-bus" in outcome.stdout, outcome.stderr
print("\\n".join(sorted(sys.modules)))
"""


def test_a_hook_call_loads_no_slow_module(tmp_path: Path) -> None:
    # what makes the hook process start in about its interpreter's own time (bench/pci_bench.py)
    sysfs = build_sysfs(tmp_path / "sys", GPU_HOST, GPU_HOST_NODES)
    vmi = json.dumps({"metadata": {"annotations": {"kvnuma.io/pci-numa": "on"}}})
    code = RUN.format(src=str(SRC), vmi=vmi, domain=fixture("kubevirt-gpu-2cell.xml"), sysfs=str(sysfs))
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = done.stdout.split()
    assert "kvnuma.xmldoc" in loaded
    assert [
        m for m in loaded if m in SLOW_IMPORTS or m.startswith(tuple(f"{s}." for s in SLOW_IMPORTS))
    ] == []
