"""The agent's manifests: valid against the Kubernetes schemas (offline), least-privilege RBAC,
requests without a CPU limit, host paths as the agent expects them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "agent"


def documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        docs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return docs


def one(kind: str) -> dict[str, Any]:
    (found,) = [doc for doc in documents() if doc["kind"] == kind]
    return found


@pytest.mark.parametrize("doc", documents(), ids=lambda d: f"{d['kind']}-{d['metadata']['name']}")
def test_valid_against_the_kubernetes_schema(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_cluster_role_allows_only_get_and_patch_on_nodes() -> None:
    rules = one("ClusterRole")["rules"]
    assert rules == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "patch"]}]


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
