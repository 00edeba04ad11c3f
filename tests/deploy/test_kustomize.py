"""Every overlay as `kubectl kustomize` renders it: schema-valid, the image scripts/build-image makes,
and every container hardened (requests, probes, read-only root, no capabilities, non-root where
the component allows it). A render that references a missing file fails with the file named."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from support.kustomize import (
    DEPLOY,
    OVERLAYS,
    ROOT,
    RenderError,
    containers,
    image_reference,
    installed_tree,
    render,
)

K8S_VERSION = "1.33.0"
BASE_KINDS = {
    "Namespace",
    "DaemonSet",
    "Deployment",
    "Service",
    "PodDisruptionBudget",
    "MutatingWebhookConfiguration",
    "ClusterRole",
    "ClusterRoleBinding",
    "ServiceAccount",
}
CERT_MANAGER_KINDS = {("cert-manager.io/v1", "Issuer"), ("cert-manager.io/v1", "Certificate")}
# Components that cannot run as non-root, and why (the manifest says so next to the setting).
ROOT_NEEDED = {"kvnuma-agent": "writes the kubelet-created, root-owned hostPath /var/lib/kvnuma"}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    tree = installed_tree(tmp_path_factory.mktemp("install"))
    return {name: render(tree / "overlays" / name) for name in OVERLAYS}


def test_every_overlay_directory_is_tested() -> None:
    assert {p.name for p in (DEPLOY / "overlays").iterdir() if p.is_dir()} == set(OVERLAYS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    docs = rendered[overlay]
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CERT_MANAGER_KINDS:
            assert overlay == "cert-manager", doc["kind"]
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    kinds = {doc["kind"] for doc in docs}
    assert kinds >= BASE_KINDS
    assert {doc["metadata"].get("namespace", "kvnuma-system") for doc in docs} == {"kvnuma-system"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_image_is_what_build_image_makes(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    built = image_reference()
    images = {c["image"] for doc in rendered[overlay] for c in containers(doc)}
    assert images == {built}
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert built.rsplit(":", 1)[1] == version, (
        "deploy/base/kustomization.yaml images: newTag != package version"
    )


def _hardening_problems(doc: dict[str, Any]) -> list[str]:
    pod = doc["spec"]["template"]["spec"]
    pod_security = pod.get("securityContext", {})
    name = doc["metadata"]["name"]
    problems = []
    if pod_security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problems.append("seccompProfile is not RuntimeDefault")
    for container in containers(doc):
        where = f"{name}/{container['name']}"
        security = {**pod_security, **container.get("securityContext", {})}
        requests = container.get("resources", {}).get("requests", {})
        if not {"cpu", "memory"} <= requests.keys():
            problems.append(f"{where}: no cpu and memory requests")
        if "memory" not in container.get("resources", {}).get("limits", {}):
            problems.append(f"{where}: no memory limit")
        for probe in ("readinessProbe", "livenessProbe"):
            if probe not in container:
                problems.append(f"{where}: no {probe}")
        if security.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{where}: root filesystem writable")
        if security.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: privilege escalation allowed")
        if security.get("capabilities", {}).get("drop") != ["ALL"] or security["capabilities"].get("add"):
            problems.append(f"{where}: capabilities not all dropped")
        if security.get("privileged"):
            problems.append(f"{where}: privileged")
        if name in ROOT_NEEDED:
            if security.get("runAsNonRoot") is not False or security.get("runAsUser") != 0:
                problems.append(f"{where}: runs as root for a reason; say so with runAsUser 0")
        elif security.get("runAsNonRoot") is not True or not security.get("runAsUser"):
            problems.append(f"{where}: may run as root")
    return problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_is_hardened(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    workloads = [doc for doc in rendered[overlay] if containers(doc)]
    assert {doc["metadata"]["name"] for doc in workloads} == {"kvnuma-agent", "kvnuma-webhook"}
    assert [problem for doc in workloads for problem in _hardening_problems(doc)] == []


def test_the_hardening_check_can_fail(rendered: dict[str, list[dict[str, Any]]]) -> None:
    (webhook,) = [d for d in rendered["cert-manager"] if d["kind"] == "Deployment"]
    (container,) = webhook["spec"]["template"]["spec"]["containers"]
    container["securityContext"]["readOnlyRootFilesystem"] = False
    del container["readinessProbe"]
    assert _hardening_problems(webhook) == [
        "kvnuma-webhook/webhook: no readinessProbe",
        "kvnuma-webhook/webhook: root filesystem writable",
    ]


def test_the_self_managed_overlay_without_certificates_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"certs/tls\.crt"):
        render(_copy_without_certs(tmp_path))


def _copy_without_certs(tmp: Path) -> Path:
    tree = installed_tree(tmp)
    overlay = tree / "overlays" / "self-managed-certs"
    for file in (overlay / "certs").iterdir():
        file.unlink()
    return overlay


def test_an_overlay_naming_a_missing_resource_fails_with_its_name(tmp_path: Path) -> None:
    overlay = installed_tree(tmp_path) / "overlays" / "broken"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text("resources:\n  - ../../base\n  - extra-object.yaml\n")
    with pytest.raises(RenderError, match=r"extra-object\.yaml"):
        render(overlay)
