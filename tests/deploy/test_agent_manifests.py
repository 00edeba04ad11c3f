"""The agent's manifests as kustomize renders them: valid against the Kubernetes schemas (offline),
a ClusterRole allowing exactly the requests the agent makes, requests without a CPU limit, host
paths as the agent expects them."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from kubeapi.server import KubeApiServer
from support.hostbuilder import render_sysfs, synthetic_host
from support.kustomize import DEPLOY, render

AGENT = "kvnuma-agent"
DOCS = [
    doc
    for doc in render(DEPLOY / "base")
    if AGENT in (doc["metadata"]["name"], doc.get("roleRef", {}).get("name"))
]


def one(kind: str) -> dict[str, Any]:
    (found,) = [doc for doc in DOCS if doc["kind"] == kind]
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: f"{d['kind']}-{d['metadata']['name']}")
def test_valid_against_the_kubernetes_schema(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_cluster_role_allows_only_get_and_patch_on_nodes() -> None:
    rules = one("ClusterRole")["rules"]
    assert rules == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "patch"]}]


async def test_the_cluster_role_is_exactly_what_the_agent_uses(tmp_path: Path) -> None:
    """The agent process, with the DaemonSet's arguments, publishes twice against the API test
    server (a first write, then nothing to change); every request it made is allowed by the
    ClusterRole, on its own Node only, and every verb the role grants was used."""
    (container,) = one("DaemonSet")["spec"]["template"]["spec"]["containers"]
    sysfs = tmp_path / "sys"
    render_sysfs(synthetic_host(cells=2, cores_per_cell=2, threads=2, memory_per_cell=64 << 30), sysfs)
    (tmp_path / "proc" / "sys" / "kernel").mkdir(parents=True)
    (tmp_path / "proc" / "sys" / "kernel" / "sched_rt_runtime_us").write_text("950000\n")
    paths = {
        "--sysfs": str(sysfs),
        "--proc": str(tmp_path / "proc"),
        "--capabilities-out": str(tmp_path / "caps.xml"),
    }
    args = [
        f"{name}={paths.get(name, value)}" for name, _, value in (a.partition("=") for a in container["args"])
    ]
    args = [a for a in args if not a.startswith(("--listen", "--interval"))]
    async with KubeApiServer() as api:
        api.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-1"}})
        for _ in range(2):
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", "from kvnuma.cli import main; main()", *container["command"][1:], *args,
                "--once", "--node-name", "worker-1", "--server", api.url, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _, err = await asyncio.wait_for(process.communicate(), 60)
            assert process.returncode == 0, err.decode()
        used = {(r.verb, r.path) for r in api.requests}
    rules = one("ClusterRole")["rules"]
    granted = {(verb, res) for rule in rules for res in rule["resources"] for verb in rule["verbs"]}
    assert {path for _, path in used} == {"/api/v1/nodes/worker-1"}, used
    assert {(verb, "nodes") for verb, _ in used} == granted
    assert one("ClusterRole")["rules"][0]["apiGroups"] == [""]


def test_binding_ties_the_role_to_the_daemonsets_account() -> None:
    binding, pod = one("ClusterRoleBinding"), one("DaemonSet")["spec"]["template"]["spec"]
    account = one("ServiceAccount")
    assert binding["roleRef"]["name"] == one("ClusterRole")["metadata"]["name"]
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": account["metadata"]["name"],
            "namespace": account["metadata"]["namespace"],
        }
    ]
    assert pod["serviceAccountName"] == account["metadata"]["name"]


def test_requests_are_set_and_there_is_no_cpu_limit() -> None:
    (container,) = one("DaemonSet")["spec"]["template"]["spec"]["containers"]
    resources = container["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys()
    assert "cpu" not in resources.get("limits", {})


def test_node_name_from_the_downward_api_and_host_paths_mounted() -> None:
    spec = one("DaemonSet")["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    host_paths = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"]}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert host_paths == {"sys": "/sys", "proc": "/proc", "output": "/var/lib/kvnuma"}
    assert mounts["sys"]["readOnly"] is True
    assert mounts["proc"]["readOnly"] is True
    assert not mounts["output"].get("readOnly", False)
    args = dict(arg.removeprefix("--").split("=", 1) for arg in container["args"])
    assert args["sysfs"] == mounts["sys"]["mountPath"]
    assert args["proc"] == mounts["proc"]["mountPath"]
    assert Path(args["capabilities-out"]).parent == Path(mounts["output"]["mountPath"])
