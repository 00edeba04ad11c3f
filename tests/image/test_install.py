"""The README's install section, run as far as our machines allow: its commands in order on a copy
of the repository's deploy/ tree (no cluster, no registry here), then the rendered workloads'
containers started from the built image with the manifests' own command, arguments, user, mounts
and probes, against the Kubernetes API test server.

What cannot run here and is stood in for: `kubectl apply -k` renders (`kubectl kustomize`, the
same kustomize) and validates; `podman push` is not run; the pods' service-account credentials are
a kubeconfig for the API test server (``KUBECONFIG``); host paths are fixture trees.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shlex
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from kubeapi.server import KubeApiServer
from support.hostbuilder import render_sysfs, synthetic_host
from support.image import IMAGE_USER, ROOT, Container, built_image, readable_by_the_image_user
from support.kustomize import DEPLOY, containers, render

pytestmark = pytest.mark.image

KVNUMA = Path(sys.executable).parent / "kvnuma"
REGISTRY_NAME = "registry.example.com/kvnuma"


def install_commands() -> list[list[str]]:
    """The first ```sh block of the README's "Install on a cluster", one command per entry."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Install on a cluster", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "README: no sh block in Install on a cluster"
    lines = [line.split(" #", 1)[0].strip() for line in block.group(1).splitlines()]
    return [shlex.split(line) for line in lines if line and not line.startswith("#")]


def test_the_readme_install_commands_are_the_ones_run_here() -> None:
    assert [" ".join(argv[:3]) for argv in install_commands()] == [
        "apt-get install podman",
        "sed -i s|newName: localhost/kvnuma|newName: registry.example.com/kvnuma|",
        "bash scripts/build-image",
        "podman push $(bash scripts/build-image --print-image)",
        "kubectl apply -k",
        "bash scripts/kvnuma webhook",
        "kubectl apply -k",
        "kubectl annotate kubevirt",
    ]


ON_THE_CLUSTER: list[list[str]] = []  # README commands that need the API: run in the containers test


def run_install(tree: Path) -> dict[str, list[dict[str, Any]]]:
    """The README's commands on ``tree`` (a copy of the repository's deploy files)."""
    rendered: dict[str, list[dict[str, Any]]] = {}
    ON_THE_CLUSTER.clear()
    for argv in install_commands():
        if argv[:2] == ["apt-get", "install"]:
            for package in argv[2:]:
                status = subprocess.run(
                    ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
                )
                assert status.stdout == "install ok installed", (
                    f"{package} is not installed: apt-get install {package}"
                )
        elif argv[0] == "sed":
            subprocess.run(argv, cwd=tree, check=True)
        elif argv[:2] == ["bash", "scripts/build-image"]:
            built_image()  # in the repository itself (the tag it makes is the default name's)
        elif argv[:2] == ["podman", "push"]:
            continue  # no registry on our machines
        elif argv[:3] == ["kubectl", "apply", "-k"]:
            rendered[Path(argv[3]).name] = render(tree / argv[3])
        elif argv[:2] == ["kubectl", "annotate"]:
            ON_THE_CLUSTER.append(argv)
        elif argv[:4] == ["bash", "scripts/kvnuma", "webhook", "gen-certs"]:
            done = subprocess.run(
                [str(KVNUMA), *argv[2:]], cwd=tree, capture_output=True, text=True, check=False
            )
            assert done.returncode == 0, done.stderr
        else:
            raise AssertionError(f"README install step not known to this test: {shlex.join(argv)}")
    return rendered


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    tree = tmp_path_factory.mktemp("repo")
    subprocess.run(["cp", "-r", str(DEPLOY), str(tree / "deploy")], check=True)
    subprocess.run(
        ["rm", "-rf", str(tree / "deploy" / "overlays" / "self-managed-certs" / "certs")], check=True
    )
    return run_install(tree)


def test_every_overlay_the_readme_applies_renders_validates_and_names_the_pushed_image(
    installed: dict[str, list[dict[str, Any]]],
) -> None:
    assert set(installed) == {"cert-manager", "self-managed-certs"}
    for docs in installed.values():
        for doc in docs:
            if doc["apiVersion"] != "cert-manager.io/v1":
                kubernetes_validate.validate(doc, "1.33.0", strict=True)
        images = {c["image"] for doc in docs for c in containers(doc)}
        assert images == {f"{REGISTRY_NAME}:{built_image().rsplit(':', 1)[1]}"}


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind]
    return found


def free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def kubeconfig(path: Path, server: str) -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {"server": server}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
        "users": [{"name": "test", "user": {"token": "test"}}],
        "current-context": "test",
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def probe(url: str, context: ssl.SSLContext | None) -> int:
    try:
        with urllib.request.urlopen(url, context=context, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0


def body(url: str, context: ssl.SSLContext | None) -> str:
    with urllib.request.urlopen(url, context=context, timeout=5) as response:
        return str(response.read().decode())


async def until_status(url: str, context: ssl.SSLContext | None, process: subprocess.Popen[str]) -> int:
    for _ in range(600):
        if process.poll() is not None:
            _, err = process.communicate()
            raise AssertionError(f"the container exited {process.returncode}: {err[-2000:]}")
        status = await asyncio.to_thread(probe, url, context)
        if status == 200:
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered 200")


def argv_of(container: dict[str, Any]) -> list[str]:
    command = container.get("command") or ["kvnuma"]  # the image's ENTRYPOINT
    return [*command, *container.get("args", [])]


def http_path(container: dict[str, Any], probe_name: str) -> tuple[str, int]:
    get = container[probe_name]["httpGet"]
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    return get["path"], int(ports.get(get["port"], get["port"]))


async def test_the_rendered_workloads_start_from_the_image(
    installed: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    docs = installed["self-managed-certs"]
    image = built_image()
    secret = one(docs, "Secret")
    webhook_pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    agent_pod = one(docs, "DaemonSet")["spec"]["template"]["spec"]
    (webhook,) = webhook_pod["containers"]
    (agent,) = agent_pod["containers"]

    # the Secret volume's files, as the kubelet would mount them
    tls = tmp_path / "tls"
    tls.mkdir()
    for name, value in secret["data"].items():
        (tls / name).write_bytes(base64.b64decode("".join(value.split())))
    readable_by_the_image_user(tls)
    # the agent's host paths: fixture trees, and a writable output folder
    sysfs, proc, output = tmp_path / "sys", tmp_path / "proc", tmp_path / "var-lib-kvnuma"
    render_sysfs(synthetic_host(cells=2, cores_per_cell=2, threads=2, memory_per_cell=64 << 30), sysfs)
    (proc / "sys" / "kernel").mkdir(parents=True)
    (proc / "sys" / "kernel" / "sched_rt_runtime_us").write_text("950000\n")
    output.mkdir()
    host_path = {"sys": sysfs, "proc": proc, "output": output}

    webhook_path, webhook_port = http_path(webhook, "readinessProbe")
    agent_path, agent_port = http_path(agent, "readinessProbe")
    for port in (webhook_port, agent_port):  # the manifests' ports, on the host network
        for _ in range(300):
            if free(port):
                break
            await asyncio.sleep(0.1)
        assert free(port), f"port {port} (from the manifests) is in use on this machine"
    async with KubeApiServer() as api:
        api.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-1"}})
        kubevirt = {"name": "kubevirt", "namespace": "kubevirt"}
        api.put_object({"apiVersion": "kubevirt.io/v1", "kind": "KubeVirt", "metadata": kubevirt, "spec": {}})
        config = kubeconfig(tmp_path / "kubeconfig", api.url)
        readable_by_the_image_user(config)
        box = Container(image)
        try:
            (tls_mount,) = webhook["volumeMounts"]
            webhook_mounts = {tls: tls_mount["mountPath"]}
            agent_mounts = {host_path[m["name"]]: m["mountPath"] for m in agent["volumeMounts"]}
            env = ["-e", "KUBECONFIG=/kubeconfig"]
            webhook_argv = argv_of(webhook)
            agent_argv = argv_of(agent)
            assert webhook_pod["securityContext"]["runAsUser"] == IMAGE_USER
            user = str(agent_pod["securityContext"]["runAsUser"])
            agent_extra = [*env, "-e", "NODE_NAME=worker-1", "--user", user]
            with (
                box.background(
                    webhook_argv, {**webhook_mounts, config: "/kubeconfig"}, env
                ) as webhook_process,
                box.background(
                    agent_argv, {**agent_mounts, config: "/kubeconfig"}, agent_extra, writable={output}
                ) as agent_process,
            ):
                context = ssl.create_default_context(cafile=str(tls / "ca.crt"))
                context.check_hostname = False  # the certificate names the Service; we call 127.0.0.1
                url = f"https://127.0.0.1:{webhook_port}{webhook_path}"
                assert await until_status(url, context, webhook_process) == 200
                url = f"http://127.0.0.1:{agent_port}{agent_path}"
                assert await until_status(url, None, agent_process) == 200
                # the README's last step, with the real kubectl against the API test server
                readyz = f"https://127.0.0.1:{webhook_port}/readyz"
                assert "auto-NUMA off" in await asyncio.to_thread(body, readyz, context)
                assert ON_THE_CLUSTER, "the README's install section has no kubectl annotate step"
                for argv in ON_THE_CLUSTER:
                    done = await asyncio.to_thread(
                        subprocess.run,
                        [argv[0], "--server", api.url, "--cache-dir", str(tmp_path / "kubectl"), *argv[1:]],
                        capture_output=True, text=True, timeout=60, check=False,
                    )  # fmt: skip
                    assert done.returncode == 0, done.stderr
                for _ in range(300):
                    if "auto-NUMA on" in await asyncio.to_thread(body, readyz, context):
                        break
                    await asyncio.sleep(0.1)
                assert "auto-NUMA on (annotation" in await asyncio.to_thread(body, readyz, context)
                node = api.get_object("Node/worker-1")
        finally:
            box.remove()
    assert node["metadata"]["annotations"]["kubevirt.io/max-single-numa-cpus"] == "4"
    assert "<capabilities>" in (output / "capabilities.xml").read_text()
    assert json.dumps(agent_argv).count("/host/sys") == 1
