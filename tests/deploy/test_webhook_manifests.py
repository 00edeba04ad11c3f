# ruff: noqa: E501
"""The webhook's manifests as kustomize renders the cert-manager overlay, offline: kubernetes-validate
for built-in kinds, structure for the rest; the self-managed-certs overlay with generated certificates."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from kvnuma.cli import cli
from kvnuma.webhook.handlers import MUTATE_PATH
from support.kustomize import DEPLOY, installed_tree, render

K8S_VERSION = "1.33.0"
BUILT_IN = {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "PodDisruptionBudget", "Service", "MutatingWebhookConfiguration"}  # fmt: skip


def _documents() -> list[dict[str, Any]]:
    """The webhook's objects (not the agent's) out of the cert-manager overlay."""
    docs = render(DEPLOY / "overlays" / "cert-manager")
    return [
        d for d in docs if "kvnuma-agent" not in (d["metadata"]["name"], d.get("roleRef", {}).get("name"))
    ]


DOCS = _documents()


def _one(kind: str) -> dict[str, Any]:
    found = [doc for doc in DOCS if doc["kind"] == kind]
    assert len(found) == 1, kind
    return found[0]


@pytest.mark.parametrize(
    "doc", [pytest.param(d, id=f"{d['kind']}/{d['metadata']['name']}") for d in DOCS if d["kind"] in BUILT_IN]
)
def test_built_in_kinds_validate(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_base_kustomization_lists_every_manifest() -> None:
    base = DEPLOY / "base"
    listed = set(yaml.safe_load((base / "kustomization.yaml").read_text())["resources"])
    on_disk = {p.name for p in base.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


def test_webhook_configuration() -> None:
    config = _one("MutatingWebhookConfiguration")
    (hook,) = config["webhooks"]
    assert hook["admissionReviewVersions"] == ["v1"]
    assert (hook["sideEffects"], hook["failurePolicy"], hook["timeoutSeconds"]) == ("None", "Ignore", 2)
    assert hook["reinvocationPolicy"] == "IfNeeded"
    assert hook["rules"] == [
        {"operations": ["CREATE"], "apiGroups": ["kubevirt.io"], "apiVersions": ["v1"], "resources": ["virtualmachineinstances"], "scope": "Namespaced"}
    ]  # fmt: skip
    excluded = {e["key"]: e for e in hook["namespaceSelector"]["matchExpressions"]}
    assert {"kube-system", "kubevirt"} <= set(excluded["kubernetes.io/metadata.name"]["values"])
    assert excluded["numa.kvnuma.io/auto"] == {
        "key": "numa.kvnuma.io/auto",
        "operator": "NotIn",
        "values": ["false"],
    }
    assert hook["objectSelector"]["matchExpressions"][0]["key"] == "numa.kvnuma.io/auto"
    assert any("spec.domain.cpu.numa" in c["expression"] for c in hook["matchConditions"])
    service = _one("Service")
    assert hook["clientConfig"]["service"] == {"name": service["metadata"]["name"], "namespace": service["metadata"]["namespace"], "path": MUTATE_PATH, "port": 443}  # fmt: skip
    certificate = _one("Certificate")
    ns, name = config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"].split("/")
    assert (ns, name) == (certificate["metadata"]["namespace"], certificate["metadata"]["name"])


def test_deployment_pdb_and_rbac() -> None:
    deployment = _one("Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    (container,) = spec["template"]["spec"]["containers"]
    assert "cpu" not in container["resources"].get("limits", {})
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["args"][0] == "webhook"
    secret = spec["template"]["spec"]["volumes"][0]["secret"]["secretName"]
    assert secret == _one("Certificate")["spec"]["secretName"]
    assert _one("PodDisruptionBudget")["spec"]["selector"] == spec["selector"]
    rules = _one("ClusterRole")["rules"]
    assert sorted((tuple(r["apiGroups"]), tuple(r["resources"]), tuple(r["verbs"])) for r in rules) == [
        (("",), ("nodes",), ("list", "watch")),
        (("kubevirt.io",), ("kubevirts",), ("list", "watch")),
        (("topology.node.k8s.io",), ("noderesourcetopologies",), ("list", "watch")),
    ]
    assert "--nrt=off" in container["args"]  # a feature that changes VMs ships off
    assert spec["template"]["spec"]["serviceAccountName"] == _one("ServiceAccount")["metadata"]["name"]


def test_cert_manager_objects() -> None:
    issuer = _one("Issuer")
    certificate = _one("Certificate")
    assert issuer["apiVersion"] == certificate["apiVersion"] == "cert-manager.io/v1"
    assert certificate["spec"]["issuerRef"] == {"name": issuer["metadata"]["name"], "kind": "Issuer"}
    assert "kvnuma-webhook.kvnuma-system.svc" in certificate["spec"]["dnsNames"]


def test_path_without_cert_manager(tmp_path: Path) -> None:
    """The self-managed-certs overlay: the generated pair is the mounted Secret, its CA the caBundle."""
    tree = installed_tree(tmp_path)
    certs = tree / "overlays" / "self-managed-certs" / "certs"
    docs = render(tree / "overlays" / "self-managed-certs")
    (secret,) = [d for d in docs if d["kind"] == "Secret"]
    (config,) = [d for d in docs if d["kind"] == "MutatingWebhookConfiguration"]
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    assert secret["type"] == "kubernetes.io/tls"
    files = {name: base64.b64decode("".join(value.split())) for name, value in secret["data"].items()}
    assert files == {name: (certs / name).read_bytes() for name in ("ca.crt", "tls.crt", "tls.key")}
    (hook,) = config["webhooks"]
    assert (
        base64.b64decode("".join(hook["clientConfig"]["caBundle"].split())) == (certs / "ca.crt").read_bytes()
    )
    assert "annotations" not in config["metadata"]
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert [v["secret"]["secretName"] for v in volumes if "secret" in v] == [secret["metadata"]["name"]]
    for doc in (secret, config):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(files["tls.crt"])
    ca = x509.load_pem_x509_certificate(files["ca.crt"])
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    )
    assert "kvnuma-webhook.kvnuma-system.svc" in names
    assert oct((certs / "tls.key").stat().st_mode & 0o777) == "0o600"
    result = CliRunner().invoke(cli, ["webhook", "gen-certs", "--out", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert result.output.split() == [str(tmp_path / "cli" / n) for n in ("ca.crt", "tls.crt", "tls.key")]
