"""The single-file hook: checked-in deploy files are current, and the file runs on a bare Python.

The bundle's one real constraint (KubeVirt's stock sidecar-shim has Python 3.9 and only its standard
library) is tested by running it: on the sidecar's Python where one is installed, with ``-I -S`` so
no site-packages are on the path.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kvnuma.hook.bundle import CONFIGMAP_KEY, bundle_source, deploy_files
from pci.pci_domains import fixture
from pci.pci_sysfs_tree import GPU_HOST, GPU_HOST_NODES, build_sysfs

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "hook"
KVNUMA = Path(sys.executable).parent / "kvnuma"


def test_deploy_files_are_up_to_date() -> None:
    for name, content in deploy_files().items():
        assert (DEPLOY / name).read_text() == content, (
            f"regenerate: kvnuma hook bundle --deploy deploy/hook ({name})"
        )
    assert os.access(DEPLOY / "onDefineDomain", os.X_OK)


def test_configmap_and_annotation() -> None:
    configmap = yaml.safe_load((DEPLOY / "configmap.yaml").read_text())
    assert configmap["kind"] == "ConfigMap"
    assert configmap["data"][CONFIGMAP_KEY] == bundle_source()
    vm = yaml.safe_load((DEPLOY / "vm-example.yaml").read_text())
    annotations = vm["spec"]["template"]["metadata"]["annotations"]
    sidecars = yaml.safe_load(annotations["hooks.kubevirt.io/hookSidecars"])
    assert sidecars == [
        {
            "args": ["--version", "v1alpha3"],
            "configMap": {
                "name": configmap["metadata"]["name"],
                "key": CONFIGMAP_KEY,
                "hookPath": "/usr/bin/onDefineDomain",
            },
        }
    ]


def test_bundled_sources_are_python_3_9_syntax() -> None:
    namespace: dict[str, object] = {}
    exec(bundle_source().split("\nimport sys\n")[0], namespace)  # only the _SOURCES literal
    sources = namespace["_SOURCES"]
    assert isinstance(sources, dict)
    assert "kvnuma.pci.place" in sources
    for filename, source in sources.values():
        ast.parse(source, filename, feature_version=(3, 9))


def interpreters() -> list[str]:
    """This venv's Python, the system's, and a Python 3.9 (the sidecar-shim's) where one exists."""
    found = [sys.executable]
    system = shutil.which("python3", path="/usr/bin")
    if system:
        found.append(system)
    found.extend(str(p) for p in sorted(Path.home().glob(".pyenv/versions/3.9*/bin/python3.9"))[:1])
    return found


@pytest.mark.parametrize("python", interpreters())
def test_bundle_gives_the_same_output_as_kvnuma_hook(python: str, tmp_path: Path) -> None:
    sysfs = build_sysfs(tmp_path / "sys", GPU_HOST, GPU_HOST_NODES)
    env = {**os.environ, "KVNUMA_SYSFS_ROOT": str(sysfs)}
    domain = fixture("kubevirt-gpu-2cell.xml")
    arguments = ["--vmi", "{}", "--domain", domain]
    bundled = subprocess.run(
        [python, "-I", "-S", str(DEPLOY / "onDefineDomain"), *arguments],  # -S: standard library only
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    cli = subprocess.run(
        [str(KVNUMA), "hook", "onDefineDomain", "--version", "v1alpha3", *arguments],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert bundled.returncode == cli.returncode == 0, bundled.stderr + cli.stderr
    assert bundled.stdout == cli.stdout
    assert bundled.stderr == cli.stderr
    assert "pcie-expander-bus" in bundled.stdout


def test_the_bundle_keeps_no_code_cache_in_tmp(tmp_path: Path) -> None:
    before = set(Path("/tmp").glob("kvnuma-hook-*"))
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(DEPLOY / "onDefineDomain"), "--vmi", "{}", "--domain", "<domain/>"],
        capture_output=True,
        text=True,
        check=False,
        env={"TMPDIR": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    assert set(Path("/tmp").glob("kvnuma-hook-*")) == before
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("domain", "fragment"),
    [
        pytest.param(b"<domain>\xff\xfe</domain>", "not well-formed (invalid token)", id="not-utf8"),
        pytest.param(b"<domain>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</domain>", "nested deeper", id="deep"),
    ],
)
def test_the_bundle_returns_a_bad_domain_unchanged(domain: bytes, fragment: str) -> None:
    done = subprocess.run(
        [
            sys.executable.encode(),
            b"-I",
            b"-S",
            bytes(DEPLOY / "onDefineDomain"),
            b"--vmi",
            b"{}",
            b"--domain",
            domain,
        ],
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout == domain
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1
    assert fragment in lines[0]
    assert lines[0].endswith("domain left unchanged")
