"""The agent's manifests as kustomize renders them: valid against the Kubernetes schemas (offline),
a ClusterRole allowing exactly the requests the agent makes (with and without the NRT component,
deploy/components/nrt), requests without a CPU limit, host paths as the agent expects them."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import kubernetes_validate
import pytest
import yaml
from google.protobuf import json_format

from kubeapi.server import KubeApiServer
from support.fake_kubelet import FakeKubelet, compile_podresources
from support.hostbuilder import render_sysfs, synthetic_host
from support.kustomize import DEPLOY, render

AGENT = "kvnuma-agent"
NRT_CRD = Path(__file__).resolve().parents[1] / "fixtures" / "nrt" / "noderesourcetopologies.crd.yaml"
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


def test_cluster_role_allows_only_what_the_agent_needs() -> None:
    rules = one("ClusterRole")["rules"]
    assert rules == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "patch"]},
        {
            "apiGroups": ["topology.node.k8s.io"],
            "resources": ["noderesourcetopologies"],
            "verbs": ["get", "create", "update"],
        },
    ]


def with_nrt_component(tmp_path: Path) -> list[dict[str, Any]]:
    """The base with deploy/components/nrt, as an overlay that lists the component renders it."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    relative = {name: os.path.relpath(DEPLOY / name, overlay) for name in ("base", "components/nrt")}
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources: [{relative['base']}]\ncomponents: [{relative['components/nrt']}]\n"
    )
    return [
        doc
        for doc in render(overlay)
        if AGENT in (doc["metadata"]["name"], doc.get("roleRef", {}).get("name"))
    ]


def test_the_nrt_component_mounts_what_its_flags_name(tmp_path: Path) -> None:
    docs = with_nrt_component(tmp_path)
    for doc in docs:
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
    (daemonset,) = [doc for doc in docs if doc["kind"] == "DaemonSet"]
    spec = daemonset["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    args = dict(arg.removeprefix("--").partition("=")[::2] for arg in container["args"])
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v["hostPath"] for v in spec["volumes"]}
    assert args["publish-nrt"] == ""
    assert Path(args["podresources-socket"]).parent == Path(mounts["pod-resources"]["mountPath"])
    assert args["kubelet-config"] == mounts["kubelet-config"]["mountPath"]
    assert mounts["pod-resources"]["readOnly"] is True
    assert mounts["kubelet-config"]["readOnly"] is True
    assert volumes["pod-resources"] == {"path": "/var/lib/kubelet/pod-resources", "type": "Directory"}
    assert volumes["kubelet-config"] == {"path": "/var/lib/kubelet/config.yaml", "type": "File"}
    base_args = one("DaemonSet")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--publish-nrt" not in base_args  # off unless the component is listed


KUBELET_CONFIG = "\n".join(
    [
        "apiVersion: kubelet.config.k8s.io/v1beta1",
        "kind: KubeletConfiguration",
        "topologyManagerPolicy: restricted",
        "",
    ]
)


async def run_agent_once(command: list[str], args: list[str], url: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from kvnuma.cli import main; main()", *command[1:], *args,
        "--once", "--node-name", "worker-1", "--server", url, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()


@pytest.mark.parametrize("variant", ["base", "nrt-component"])
async def test_the_cluster_role_is_exactly_what_the_agent_uses(variant: str, tmp_path: Path) -> None:
    """The agent process, with the DaemonSet's arguments, publishes twice against the API test
    server (a first write, then a second cycle; with the NRT component the kubelet starts a VM in
    between, so the NodeResourceTopology is created, then updated); every request it made is
    allowed by the ClusterRole, on its own objects only, and every verb granted for what the
    variant publishes was used."""
    docs = DOCS if variant == "base" else with_nrt_component(tmp_path)
    (daemonset,) = [doc for doc in docs if doc["kind"] == "DaemonSet"]
    (container,) = daemonset["spec"]["template"]["spec"]["containers"]
    sysfs = tmp_path / "sys"
    render_sysfs(synthetic_host(cells=2, cores_per_cell=2, threads=2, memory_per_cell=64 << 30), sysfs)
    (tmp_path / "proc" / "sys" / "kernel").mkdir(parents=True)
    (tmp_path / "proc" / "sys" / "kernel" / "sched_rt_runtime_us").write_text("950000\n")
    (tmp_path / "kubelet.yaml").write_text(KUBELET_CONFIG)
    with tempfile.TemporaryDirectory(prefix="kdp", dir="/tmp") as folder:
        gen = compile_podresources(tmp_path / "pb")
        kubelet = FakeKubelet(
            f"{folder}/kubelet.sock",
            allocatable=json_format.ParseDict(
                {"cpu_ids": [1, 2, 3, 5, 6, 7]}, gen.pb.AllocatableResourcesResponse()
            ),
            listed=gen.pb.ListPodResourcesResponse(),
        )
        paths = {
            "--sysfs": str(sysfs),
            "--proc": str(tmp_path / "proc"),
            "--capabilities-out": str(tmp_path / "caps.xml"),
            "--podresources-socket": kubelet.path,
            "--kubelet-config": str(tmp_path / "kubelet.yaml"),
        }
        args = [
            f"{name}={paths.get(name, value)}" if value else name
            for name, _, value in (a.partition("=") for a in container["args"])
        ]
        args = [a for a in args if not a.startswith(("--listen", "--interval"))]
        with kubelet:
            async with KubeApiServer() as api, aiohttp.ClientSession() as http:
                api.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-1"}})
                crd = yaml.safe_load(NRT_CRD.read_text())
                async with http.post(
                    f"{api.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd
                ) as made:
                    assert made.status == 201, await made.text()
                api.requests.clear()
                for run in range(2):
                    if run == 1:
                        vm = {
                            "name": "vm",
                            "namespace": "d",
                            "containers": [{"name": "c", "cpu_ids": [1, 2]}],
                        }
                        kubelet.listed = json_format.ParseDict(
                            {"pod_resources": [vm]}, gen.pb.ListPodResourcesResponse()
                        )
                    await run_agent_once(container["command"], args, api.url)
                used = {(r.verb, r.path) for r in api.requests}
    rules = one("ClusterRole")["rules"]
    granted = {(verb, res) for rule in rules for res in rule["resources"] for verb in rule["verbs"]}
    plural = {
        "/api/v1/nodes": "nodes",
        "/apis/topology.node.k8s.io/v1alpha2/noderesourcetopologies": "noderesourcetopologies",
    }
    used_rules = {
        (verb, plural[path.rpartition("/")[0] if path.endswith("/worker-1") else path]) for verb, path in used
    }
    assert used_rules <= granted, used
    assert {path for _, path in used} <= {
        "/api/v1/nodes/worker-1",
        "/apis/topology.node.k8s.io/v1alpha2/noderesourcetopologies",  # the create (POST)
        "/apis/topology.node.k8s.io/v1alpha2/noderesourcetopologies/worker-1",
    }, used
    publishes = {"nodes"} if variant == "base" else {"nodes", "noderesourcetopologies"}
    assert used_rules == {(verb, res) for verb, res in granted if res in publishes}


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
