"""The hook imports nothing outside the standard library (KubeVirt's sidecar-shim has nothing else)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
