"""The image scripts/build-image makes, with its components run inside it (buildah run, host network).

Each command runs the same way outside the image (this venv) and the outputs are compared: the
image must behave exactly like the package it carries.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pci.pci_domains import fixture
from pci.pci_sysfs_tree import GPU_HOST, GPU_HOST_NODES, build_sysfs
from support.hostbuilder import render_sysfs, synthetic_host
from support.image import IMAGE_USER, ROOT, Container, built_image, inspect, readable_by_the_image_user
from support.kustomize import image_reference

pytestmark = pytest.mark.image

KVNUMA = Path(sys.executable).parent / "kvnuma"
GiB = 1 << 30


@pytest.fixture(scope="module")
def image() -> str:
    return built_image()


@pytest.fixture(scope="module")
def container(image: str) -> Iterator[Container]:
    made = Container(image)
    try:
        yield made
    finally:
        made.remove()


def host_run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(KVNUMA), *argv], capture_output=True, text=True, timeout=120, check=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_image_is_the_one_the_manifests_name(image: str) -> None:
    assert image == image_reference()
    digest_line = (ROOT / "build" / "image" / "digest").read_text()
    assert digest_line.startswith(f"{image} sha256:")
    assert digest_line.split()[1] == inspect(image, "{{.Digest}}")


def test_labels_user_and_contents(image: str, container: Container) -> None:
    labels = json.loads(inspect(image, "{{json .Labels}}"))
    assert labels["org.opencontainers.image.version"] == host_run("--version").stdout.split()[1]
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.source"].startswith("https://")
    assert labels["org.opencontainers.image.revision"] not in ("", "unknown")
    assert inspect(image, "{{.User}}") == f"{IMAGE_USER}:{IMAGE_USER}"
    found = container.run(["sh", "-c", "id -u; command -v gcc cc pip pip3 apt-get; ls /root/.cache /wheels"])
    assert found.stdout.split() == [str(IMAGE_USER)], found  # no compiler, pip, apt, cache or wheels
    size = int(inspect(image, "{{.Size}}"))
    assert size < 160_000_000, f"{size / 1e6:.0f} MB"  # the goal is 150 MB; build/image/size.txt says


def test_version_names_the_revision_it_was_built_from(image: str, container: Container) -> None:
    done = container.run(["kvnuma", "--version"])
    assert done.returncode == 0, done.stderr
    revision = json.loads(inspect(image, "{{json .Labels}}"))["org.opencontainers.image.revision"]
    assert done.stdout == f"kvnuma {host_run('--version').stdout.split()[1]} (revision {revision})\n"


def sysfs_fixture(tmp_path: Path) -> Path:
    tree = tmp_path / "sys"
    host = synthetic_host(
        cells=2, cores_per_cell=4, threads=2, memory_per_cell=64 * GiB, hugepages={2 << 20: 512}
    )
    render_sysfs(host, tree)
    readable_by_the_image_user(tree)
    return tree


def test_discover_against_a_mounted_sysfs_tree(container: Container, tmp_path: Path) -> None:
    tree = sysfs_fixture(tmp_path)
    inside = container.run(["kvnuma", "discover", "--sysfs", "/host/sys", "-o", "json"], {tree: "/host/sys"})
    outside = host_run("discover", "--sysfs", str(tree), "-o", "json")
    assert inside.returncode == outside.returncode == 0, inside.stderr + outside.stderr
    assert json.loads(inside.stdout) == json.loads(outside.stdout)
    assert len(json.loads(inside.stdout)["cells"]) == 2


def test_agent_once_dry_run_against_a_fixture(container: Container, tmp_path: Path) -> None:
    tree = sysfs_fixture(tmp_path)
    proc = tmp_path / "proc"
    (proc / "sys" / "kernel").mkdir(parents=True)
    (proc / "sys" / "kernel" / "sched_rt_runtime_us").write_text("-1\n")
    readable_by_the_image_user(proc)
    common = ["agent", "--once", "--dry-run", "--node-name", "worker-1"]
    inside = container.run(
        ["kvnuma", *common, "--sysfs", "/host/sys", "--proc", "/host/proc"],
        {tree: "/host/sys", proc: "/host/proc"},
    )
    outside = host_run(*common, "--sysfs", str(tree), "--proc", str(proc))
    assert inside.returncode == outside.returncode == 0, inside.stderr + outside.stderr
    assert json.loads(inside.stdout) == json.loads(outside.stdout)
    assert json.loads(inside.stdout)["metadata"]["labels"] == {"kubevirt.io/realtime": "true"}


def wait_ready(url: str, context: ssl.SSLContext, process: subprocess.Popen[str], seconds: float = 60) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"the webhook exited {process.returncode}: {process.communicate()[1][-2000:]}"
            )
        try:
            with urllib.request.urlopen(url, context=context, timeout=2) as response:
                return int(response.status)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    raise AssertionError(f"{url} never answered")


def test_webhook_serves_tls_with_mounted_certificates(container: Container, tmp_path: Path) -> None:
    certs = tmp_path / "tls"
    made = host_run("webhook", "gen-certs", "--out", str(certs), "--service", "localhost")
    assert made.returncode == 0, made.stderr
    readable_by_the_image_user(certs)
    cluster = tmp_path / "cluster"
    shutil.copytree(ROOT / "examples" / "cluster", cluster)
    readable_by_the_image_user(cluster)
    port = free_port()
    argv = ["kvnuma", "webhook", "--cert", "/tls/tls.crt", "--key", "/tls/tls.key", "--host", "127.0.0.1",
            "--port", str(port), "--source", "file:/cluster"]  # fmt: skip
    context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    review = (ROOT / "examples" / "reviews" / "large-vmi.json").read_bytes()
    with container.background(argv, {certs: "/tls", cluster: "/cluster"}) as process:
        assert wait_ready(f"https://localhost:{port}/readyz", context, process) == 200
        request = urllib.request.Request(
            f"https://localhost:{port}/mutate-virtualmachineinstances",
            data=review,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            answer = json.loads(response.read())
    offline = host_run("admit", "--review", str(ROOT / "examples" / "reviews" / "large-vmi.json"),
                       "--source", f"file:{ROOT / 'examples' / 'cluster'}")  # fmt: skip
    assert offline.returncode == 0, offline.stderr
    expected = json.loads(offline.stdout)["response"]
    assert answer["response"]["uid"] == json.loads(review)["request"]["uid"]
    assert (answer["response"]["allowed"], answer["response"].get("patch")) == (True, expected.get("patch"))
    assert answer["response"]["auditAnnotations"]["auto-numa-decision"] == "mutated"


def test_the_hook_bundle_from_the_image_runs_on_the_sidecars_python(
    container: Container, tmp_path: Path
) -> None:
    bundle = tmp_path / "onDefineDomain"
    done = container.run(["cat", "/opt/kvnuma/share/hook/onDefineDomain"])
    assert done.returncode == 0, done.stderr
    bundle.write_text(done.stdout)
    assert done.stdout == (ROOT / "deploy" / "hook" / "onDefineDomain").read_text()
    sysfs = build_sysfs(tmp_path / "sys", GPU_HOST, GPU_HOST_NODES)
    arguments = ["--vmi", "{}", "--domain", fixture("kubevirt-gpu-2cell.xml")]
    env = {"KVNUMA_SYSFS_ROOT": str(sysfs), "PATH": "/usr/bin:/bin"}
    older = sorted(Path.home().glob(".pyenv/versions/3.9*/bin/python3.9"))[:1]  # the sidecar-shim's
    pythons = [p for p in (shutil.which("python3", path="/usr/bin"), *older) if p]
    assert pythons, "no system Python to run the hook bundle on"
    reference = subprocess.run(
        [str(KVNUMA), "hook", "onDefineDomain", "--version", "v1alpha3", *arguments],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    for python in pythons:
        ran = subprocess.run(
            [str(python), "-I", "-S", str(bundle), *arguments],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
        assert (ran.returncode, ran.stdout, ran.stderr) == (0, reference.stdout, reference.stderr), python
    assert "pcie-expander-bus" in reference.stdout
