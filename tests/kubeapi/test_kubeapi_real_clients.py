# ruff: noqa: E501
"""The API test server driven by real clients: kubectl (/usr/bin/kubectl), the official
``kubernetes`` Python client and kvnuma's own client, through one table of documented
kube-apiserver behaviours (section 2 of issue 13).

Each row names the documented behaviour it checks (the Kubernetes API concepts, CRD, field
validation, labels and selectors pages) and the client that drives it; when a real client and the
server disagree, the server is wrong. kvnuma's client runs the rows whose behaviour it uses
(tests/kube covers it further). Every row gets a fresh server and kubectl cache (the ``world``
fixture, harness in kubeapi/clients.py).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import kubernetes.watch
import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from kubeapi.clients import (
    KV,
    Kubectl,
    ServedApi,
    World,
    body_of,
    install_kubevirt_crd,
    kube_client,
    kubevirt_crd,
)
from kvnuma.kube import ClusterConfig
from kvnuma.kube.client import KubeClient
from kvnuma.kube.errors import ApiError
from kvnuma.kube.reflector import Reflector
from kvnuma.kube.resources import KUBEVIRTS, NODES
from kvnuma.names import AUTO_NUMA_ANNOTATION
from kvnuma.webhook.switch import Source, from_kubevirt

# The kubernetes client is driven with plain dicts (as it accepts them); its partial typing is not ours.
k8s: Any = kubernetes.client
k8s_watch: Any = kubernetes.watch

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"
AS_A_USER_WRITES_IT: dict[str, Any] = {
    "apiVersion": "kubevirt.io/v1",
    "kind": "KubeVirt",
    "metadata": {"name": "kubevirt", "namespace": "kubevirt"},
    "spec": {
        "configuration": {"developerConfiguration": {"featureGates": ["NUMA"], "autoNUMAEnablement": True}},
    },
}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    served = ServedApi(bookmark_interval=0.3, bookmark_lead=0.5)
    try:
        yield World(served, Kubectl(served.url, tmp_path), kube_client(served.url))
    finally:
        served.close()


# --- objects: create, get, update, patch, delete, watch, tables, namespaces -------------------
def node_yaml(name: str, **labels: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}})


def api_error(call: Callable[[], Any]) -> tuple[int, dict[str, Any]]:
    with pytest.raises(ApiException) as caught:
        call()
    return int(caught.value.status), body_of(caught.value) or {}


def discovery_kubectl(w: World) -> None:
    """/api, /apis and the resource lists: kubectl api-resources prints every served kind."""
    out = w.kubectl.ok("api-resources", "--no-headers").out
    rows = {line.split()[0]: line.split() for line in out.splitlines()}
    assert rows["nodes"][1:] == ["v1", "false", "Node"]
    assert rows["kubevirts"][1:] == ["kubevirt.io/v1", "true", "KubeVirt"]


def discovery_python(w: World) -> None:
    assert k8s.CoreApi(w.client).get_api_versions().versions == ["v1"]
    groups: dict[str, Any] = {g.name: g for g in k8s.ApisApi(w.client).get_api_versions().groups}
    assert groups["kubevirt.io"].preferred_version.group_version == "kubevirt.io/v1"
    resources = w.core.get_api_resources().resources
    assert [(r.name, r.kind, r.namespaced) for r in resources if r.name == "nodes"] == [
        ("nodes", "Node", False)
    ]


def create_kubectl(w: World) -> None:
    """A create stamps uid, resourceVersion and creationTimestamp."""
    ran = w.kubectl.ok("create", "--validate=false", "-f", "-", stdin=node_yaml("created", a="1"))
    assert ran.out.strip() == "node/created created"
    got = w.kubectl.ok("get", "node", "created", "-o", "json").json()
    assert got["metadata"]["labels"] == {"a": "1"}
    assert got["metadata"]["uid"]
    assert int(got["metadata"]["resourceVersion"]) > 0
    assert got["metadata"]["creationTimestamp"].endswith("Z")


def create_python(w: World) -> None:
    made = w.core.create_node(k8s.V1Node(metadata=k8s.V1ObjectMeta(name="created", labels={"a": "1"})))
    read = w.core.read_node("created")
    assert read.metadata.uid == made.metadata.uid
    assert read.metadata.resource_version == made.metadata.resource_version
    assert read.metadata.labels == {"a": "1"}


def not_found_kubectl(w: World) -> None:
    """A get of a missing object answers 404 NotFound with details naming it."""
    ran = w.kubectl.run("get", "node", "no-such-node")
    assert (ran.code, ran.err.strip()) == (1, 'Error from server (NotFound): nodes "no-such-node" not found')


def not_found_python(w: World) -> None:
    code, body = api_error(lambda: w.core.read_node("no-such-node"))
    assert (code, body["kind"], body["reason"]) == (404, "Status", "NotFound")
    assert body["details"] == {"name": "no-such-node", "group": "", "kind": "nodes"}


def already_exists_kubectl(w: World) -> None:
    """A create of an existing name answers 409 AlreadyExists."""
    w.node("exists")
    ran = w.kubectl.run("create", "--validate=false", "-f", "-", stdin=node_yaml("exists"))
    assert (ran.code, ran.err.strip()) == (
        1,
        'Error from server (AlreadyExists): error when creating "STDIN": nodes "exists" already exists',
    )


def already_exists_python(w: World) -> None:
    w.node("exists")
    code, body = api_error(lambda: w.core.create_node(k8s.V1Node(metadata=k8s.V1ObjectMeta(name="exists"))))
    assert (code, body["reason"]) == (409, "AlreadyExists")


def stale_update_kubectl(w: World) -> None:
    """An update carrying a stale resourceVersion answers 409 Conflict."""
    w.node("stale")
    old = w.kubectl.ok("get", "node", "stale", "-o", "json").json()
    w.kubectl.ok("label", "node", "stale", "moved=yes")
    ran = w.kubectl.run("replace", "--validate=false", "-f", "-", stdin=old)
    assert ran.code == 1
    assert "Error from server (Conflict)" in ran.err
    assert "the object has been modified; please apply your changes to the latest version" in ran.err


def stale_update_python(w: World) -> None:
    w.node("a")
    stale = w.core.read_node("a")
    w.core.patch_node("a", {"metadata": {"labels": {"x": "1"}}})
    code, body = api_error(lambda: w.core.replace_node("a", stale))
    assert (code, body["reason"]) == (409, "Conflict")


def merge_patch_kubectl(w: World) -> None:
    """A JSON merge patch (RFC 7386): null removes a key, the rest merges."""
    w.node("merge", {"keep": "1", "drop": "1"})
    w.kubectl.ok(
        "patch", "node", "merge", "--type=merge", "-p", '{"metadata":{"labels":{"drop":null,"new":"2"}}}'
    )
    assert w.stored("Node/merge")["metadata"]["labels"] == {"keep": "1", "new": "2"}


def merge_patch_python(w: World) -> None:
    w.node("merge", {"keep": "1", "drop": "1"})
    patched = w.core.patch_node(
        "merge", {"metadata": {"labels": {"drop": None, "new": "2"}}}, _content_type=MERGE
    )
    assert patched.metadata.labels == {"keep": "1", "new": "2"}


def json_patch_kubectl(w: World) -> None:
    """A JSON patch (RFC 6902) applies its operations; a failed ``test`` answers 422."""
    w.node("jsonpatch", {"a": "1"})
    ops = [{"op": "replace", "path": "/metadata/labels/a", "value": "2"}]
    w.kubectl.ok("patch", "node", "jsonpatch", "--type=json", "-p", json.dumps(ops))
    assert w.stored("Node/jsonpatch")["metadata"]["labels"] == {"a": "2"}
    failing = [{"op": "test", "path": "/metadata/labels/a", "value": "nope"}]
    ran = w.kubectl.run("patch", "node", "jsonpatch", "--type=json", "-p", json.dumps(failing))
    assert ran.code == 1
    assert ran.err.startswith("Error from server (Invalid)") or "is invalid" in ran.err


def json_patch_python(w: World) -> None:
    w.node("jsonpatch", {"a": "1"})
    ops = [{"op": "add", "path": "/metadata/labels/b", "value": "3"}]
    assert w.core.patch_node("jsonpatch", ops, _content_type=JSON_PATCH).metadata.labels == {
        "a": "1",
        "b": "3",
    }
    failing = [{"op": "test", "path": "/metadata/labels/a", "value": "nope"}]
    code, body = api_error(lambda: w.core.patch_node("jsonpatch", failing, _content_type=JSON_PATCH))
    assert (code, body["reason"]) == (422, "Invalid")


def server_side_apply_python(w: World) -> None:
    """Server-side apply: a second manager setting an owned field conflicts (409, the field named);
    force takes it."""
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "applied", "labels": {"owner": "a"}},
    }
    w.core.patch_node("applied", body, field_manager="first", _content_type=APPLY)
    body["metadata"]["labels"] = {"owner": "b"}
    code, answer = api_error(
        lambda: w.core.patch_node("applied", body, field_manager="second", _content_type=APPLY)
    )
    assert (code, answer["reason"]) == (409, "Conflict")
    assert [cause["field"] for cause in answer["details"]["causes"]] == [".metadata.labels.owner"]
    w.core.patch_node("applied", body, field_manager="second", force=True, _content_type=APPLY)
    assert w.stored("Node/applied")["metadata"]["labels"] == {"owner": "b"}


def delete_kubectl(w: World) -> None:
    """A delete removes the object (a later get is 404)."""
    w.node("deleted")
    assert w.kubectl.ok("delete", "node", "deleted").out.strip() == 'node "deleted" deleted'
    assert w.kubectl.run("get", "node", "deleted").code == 1


def delete_python(w: World) -> None:
    w.node("deleted")
    w.core.delete_node("deleted")
    assert api_error(lambda: w.core.read_node("deleted"))[0] == 404


def watch_kubectl(w: World) -> None:
    """A watch without a resourceVersion starts with the current objects, then the changes
    (kubectl get --watch lists, then watches)."""
    w.node("first", {"suite": "watch"})
    command = w.kubectl_command("get", "nodes", "-l", "suite=watch", "--watch", "-o", "name")
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as watching:
        try:
            assert watching.stdout is not None
            first = watching.stdout.readline().split()
            w.node("later", {"suite": "watch"})
            second = watching.stdout.readline().split()
        finally:
            watching.kill()
    assert first == ["node/first"]  # from the list kubectl starts with
    assert second == ["node/later"]  # from the watch that follows it


def watch_python(w: World) -> None:
    """A watch from a list's resourceVersion replays the changes after it."""
    w.node("a", {"suite": "watch"})
    listed = w.core.list_node(label_selector="suite=watch")
    w.core.patch_node("a", {"metadata": {"labels": {"x": "1"}}}, _content_type=MERGE)
    stream = k8s_watch.Watch().stream(
        w.core.list_node,
        label_selector="suite=watch",
        resource_version=listed.metadata.resource_version,
        timeout_seconds=5,
    )
    events = list(itertools.islice(stream, 1))
    assert [(e["type"], e["object"].metadata.name, e["object"].metadata.labels.get("x")) for e in events] == [
        ("MODIFIED", "a", "1")
    ]


def table_kubectl(w: World) -> None:
    """``Accept: as=Table`` (what kubectl get asks for): the columns kube-apiserver prints."""
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "printed", "labels": {"node-role.kubernetes.io/worker": ""}},
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "nodeInfo": {"kubeletVersion": "v1.33.1", "osImage": "Debian GNU/Linux 12"},
            "addresses": [{"type": "InternalIP", "address": "10.0.0.7"}],
        },
    }
    w.served.on_loop(lambda: w.served.api.put_object(node))
    lines = w.kubectl.ok("get", "node", "printed").out.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    row = lines[1].split()
    assert row[:3] == ["printed", "Ready,SchedulingDisabled", "worker"]
    assert row[4] == "v1.33.1"
    wide = w.kubectl.ok("get", "node", "printed", "-o", "wide").out.splitlines()
    assert wide[0].split()[5:7] == ["INTERNAL-IP", "EXTERNAL-IP"]
    assert wide[1].split()[5:7] == ["10.0.0.7", "<none>"]
    assert [r.verb for r in w.sent("get", "/nodes/printed")] == ["get", "get"]


def namespace_kubectl(w: World) -> None:
    """A Namespace is created Active with the kubernetes finalizer and its name label."""
    # (``kubectl create namespace`` sends protobuf, which this server does not read: apply a manifest)
    manifest = yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}})
    assert (
        w.kubectl.ok("apply", "--validate=false", "-f", "-", stdin=manifest).out.strip()
        == "namespace/ns created"
    )
    got = w.kubectl.ok("get", "ns", "ns", "-o", "json").json()
    assert got["status"] == {"phase": "Active"}
    assert got["spec"] == {"finalizers": ["kubernetes"]}
    assert got["metadata"]["labels"] == {"kubernetes.io/metadata.name": "ns"}
    assert w.kubectl.ok("get", "namespace", "ns").out.split()[:5] == ["NAME", "STATUS", "AGE", "ns", "Active"]
    assert w.kubectl.ok("delete", "namespace", "ns").out.strip() == 'namespace "ns" deleted'
    refused = w.kubectl.run("create", "namespace", "ns")  # protobuf: a media type not read here
    assert refused.code == 1
    assert refused.err.startswith("Error from server (UnsupportedMediaType)")


def namespace_python(w: World) -> None:
    made = w.core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name="ns")))
    assert made.status.phase == "Active"
    assert "ns" in [n.metadata.name for n in w.core.list_namespace().items]
    w.core.delete_namespace("ns")
    assert api_error(lambda: w.core.read_namespace("ns"))[0] == 404


def kubevirt_installed(world: World) -> None:
    install_kubevirt_crd(world.kubectl)


def names(items: Any) -> list[str]:
    return sorted(i["metadata"]["name"] if isinstance(i, dict) else i.metadata.name for i in items)


# --- CRDs -------------------------------------------------------------------------------------
def crd_served_kubectl(w: World) -> None:
    """CRD create/get/list/delete; discovery serves its kinds (kubectl api-resources)."""
    stored = install_kubevirt_crd(w.kubectl)
    assert {c["type"]: c["status"] for c in stored["status"]["conditions"]}["Established"] == "True"
    resources = w.kubectl.ok("api-resources", "--api-group=kubevirt.io", "-o", "name").out.split()
    assert resources == ["kubevirts.kubevirt.io"]
    assert "kubevirts.kubevirt.io" in w.kubectl.ok("get", "crds", "-o", "name").out
    w.kubectl.ok("delete", "crd", "kubevirts.kubevirt.io")
    assert w.kubectl.run("get", "kubevirts", "-A").code != 0


def crd_served_python(w: World) -> None:
    """CRD create/get/list/watch/delete with ApiextensionsV1Api; the CR served in discovery."""
    ext = k8s.ApiextensionsV1Api(w.client)
    ext.create_custom_resource_definition(kubevirt_crd())
    got = ext.read_custom_resource_definition("kubevirts.kubevirt.io")
    assert got.spec.names.kind == "KubeVirt"
    assert [c.status for c in got.status.conditions if c.type == "Established"] == ["True"]
    listed = ext.list_custom_resource_definition()
    events = [
        e["type"]
        for e in k8s_watch.Watch().stream(
            ext.list_custom_resource_definition,
            resource_version=listed.metadata.resource_version,
            timeout_seconds=1,
        )
    ]
    versions = k8s.ApisApi(w.client).get_api_versions()
    assert "kubevirt.io" in [g.name for g in versions.groups]
    resources = k8s.CustomObjectsApi(w.client).get_api_resources("kubevirt.io", "v1")
    assert [(r.name, r.namespaced) for r in resources.resources][:1] == [("kubevirts", True)]
    ext.delete_custom_resource_definition("kubevirts.kubevirt.io")
    assert events == []
    with pytest.raises(ApiException) as gone:
        ext.read_custom_resource_definition("kubevirts.kubevirt.io")
    assert gone.value.status == 404


def cluster_scoped_crd_python(w: World) -> None:
    """A Cluster-scoped CRD serves /apis/<g>/<v>/<plural>/<name> (no namespace)."""
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Cluster", "names": {"plural": "widgets", "kind": "Widget", "singular": "widget"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}]},
    }  # fmt: skip
    k8s.ApiextensionsV1Api(w.client).create_custom_resource_definition(crd)
    w.custom.create_cluster_custom_object(
        "example.com",
        "v1",
        "widgets",
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w1"},
            "spec": {"any": {"thing": 1}},
            "extra": 1,
        },
    )
    got = w.custom.get_cluster_custom_object("example.com", "v1", "widgets", "w1")
    assert got["spec"] == {"any": {"thing": 1}}  # preserved under x-kubernetes-preserve-unknown-fields
    assert "extra" not in got  # pruned at the root


def pruned_kubectl(w: World) -> None:
    """Pruning: kubectl apply of a KubeVirt CR with the VEP field; the stored CR lacks it."""
    kubevirt_installed(w)
    said = w.kubectl.ok("apply", "--validate=false", "-f", "-", stdin=AS_A_USER_WRITES_IT)
    assert "created" in said.out
    stored = w.kubectl.ok("get", "kubevirt", "kubevirt", "-n", "kubevirt", "-o", "json").json()
    assert stored["spec"]["configuration"]["developerConfiguration"] == {"featureGates": ["NUMA"]}


def pruned_python(w: World) -> None:
    kubevirt_installed(w)
    created = w.custom.create_namespaced_custom_object(*KV, AS_A_USER_WRITES_IT, field_validation="Ignore")
    assert "autoNUMAEnablement" not in json.dumps(created)
    assert "autoNUMAEnablement" not in json.dumps(w.custom.get_namespaced_custom_object(*KV, "kubevirt"))


def field_validation_warn_python(w: World) -> None:
    """fieldValidation=Warn: a Warning header ``299 - "unknown field \\"...\\""`` per unknown field."""
    kubevirt_installed(w)
    body = json.loads(json.dumps(AS_A_USER_WRITES_IT))
    body["spec"]["madeUp"] = 1
    _, status, headers = w.custom.create_namespaced_custom_object_with_http_info(
        *KV, body, field_validation="Warn"
    )
    assert status == 201
    warnings = sorted(
        v.strip() for v in headers.get("Warning", "").split(",")
    )  # urllib3 joins repeated headers
    assert warnings == [
        '299 - "unknown field \\"spec.configuration.developerConfiguration.autoNUMAEnablement\\""',
        '299 - "unknown field \\"spec.madeUp\\""',
    ]


def field_validation_strict_python(w: World) -> None:
    """fieldValidation=Strict: 400 BadRequest ``strict decoding error: unknown field "..."``; nothing stored."""
    kubevirt_installed(w)
    with pytest.raises(ApiException) as refused:
        w.custom.create_namespaced_custom_object(*KV, AS_A_USER_WRITES_IT, field_validation="Strict")
    assert refused.value.status == 400
    assert (
        'unknown field "spec.configuration.developerConfiguration.autoNUMAEnablement"'
        in body_of(refused.value)["message"]
    )
    assert w.custom.list_namespaced_custom_object(*KV)["items"] == []


def smp_on_cr_python(w: World) -> None:
    """A strategic merge patch on a custom resource answers 415 UnsupportedMediaType."""
    kubevirt_installed(w)
    w.custom.create_namespaced_custom_object(*KV, AS_A_USER_WRITES_IT)
    status, body, _ = w.raw(
        "PATCH",
        "/apis/kubevirt.io/v1/namespaces/kubevirt/kubevirts/kubevirt",
        {"metadata": {"labels": {"a": "b"}}},
        "application/strategic-merge-patch+json",
    )
    assert (status, body["reason"]) == (415, "UnsupportedMediaType")


def smp_on_cr_kubectl(w: World) -> None:
    """kubectl knows it too: ``kubectl patch`` on a CR without --type merge is refused; merge works."""
    kubevirt_installed(w)
    w.kubectl.ok("apply", "--validate=false", "-f", "-", stdin=AS_A_USER_WRITES_IT)
    assert (
        w.kubectl.run(
            "patch", "kubevirt", "kubevirt", "-n", "kubevirt", "-p", '{"metadata":{"labels":{"a":"b"}}}'
        ).code
        != 0
    )
    w.kubectl.ok(
        "patch",
        "kubevirt",
        "kubevirt",
        "-n",
        "kubevirt",
        "--type",
        "merge",
        "-p",
        '{"metadata":{"labels":{"a":"b"}}}',
    )


def cr_status_subresource_python(w: World) -> None:
    """status subresource: a write to the CR keeps status; a write to /status changes only status."""
    kubevirt_installed(w)
    body = json.loads(json.dumps(AS_A_USER_WRITES_IT))
    body["status"] = {"phase": "Deployed"}
    created = w.custom.create_namespaced_custom_object(*KV, body)
    assert "status" not in created  # status is ignored on create
    w.custom.patch_namespaced_custom_object_status(
        *KV,
        "kubevirt",
        {"status": {"phase": "Deploying"}, "spec": {"imageTag": "x"}},
    )
    after = w.custom.get_namespaced_custom_object(*KV, "kubevirt")
    assert after["status"] == {"phase": "Deploying"}
    assert "imageTag" not in after["spec"]
    w.custom.patch_namespaced_custom_object(
        *KV,
        "kubevirt",
        {"status": {"phase": "Deleting"}, "spec": {"imageTag": "y"}},
    )
    after = w.custom.get_namespaced_custom_object(*KV, "kubevirt")
    assert (after["status"], after["spec"]["imageTag"]) == ({"phase": "Deploying"}, "y")


def invalid_crd_python(w: World) -> None:
    """A CRD whose schema is not structural answers 422 Invalid naming the field; nothing stored."""
    crd = kubevirt_crd()
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = {
        "type": "object",
        "properties": {"spec": {"type": "dictionary"}},
    }
    ext = k8s.ApiextensionsV1Api(w.client)
    with pytest.raises(ApiException) as refused:
        ext.create_custom_resource_definition(crd)
    body = body_of(refused.value)
    assert (refused.value.status, body["reason"]) == (422, "Invalid")
    assert (
        body["details"]["causes"][0]["field"]
        == "spec.versions[0].schema.openAPIV3Schema.properties[spec].type"
    )
    assert ext.list_custom_resource_definition().items == []


def invalid_crd_kubectl(w: World) -> None:
    crd = kubevirt_crd()
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].pop("type")
    crd["spec"]["versions"][1]["storage"] = True  # two storage versions
    ran = w.kubectl.run("create", "--validate=false", "-f", "-", stdin=crd)
    assert ran.code == 1
    assert ran.err.startswith('The CustomResourceDefinition "kubevirts.kubevirt.io" is invalid: \n'), ran.err
    assert (
        "* spec.versions: Invalid value: must have exactly one version marked as storage version" in ran.err
    )
    assert "* spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value" in ran.err
    gone = w.kubectl.run("get", "crd", "kubevirts.kubevirt.io")
    assert gone.err.startswith("Error from server (NotFound)")


def invalid_cr_python(w: World) -> None:
    """A CR that fails its schema (type, enum, required) answers 422 with a cause per field."""
    kubevirt_installed(w)
    body = json.loads(json.dumps(AS_A_USER_WRITES_IT))
    body["spec"]["configuration"]["developerConfiguration"]["featureGates"] = "NUMA"
    body["spec"]["configuration"]["developerConfiguration"]["diskVerification"] = {}
    body["spec"]["configuration"]["vmRolloutStrategy"] = "Sometimes"
    with pytest.raises(ApiException) as refused:
        w.custom.create_namespaced_custom_object(*KV, body)
    failure = body_of(refused.value)
    assert (refused.value.status, failure["reason"]) == (422, "Invalid")
    fields = sorted(c["field"] for c in failure["details"]["causes"])
    assert fields == [
        "spec.configuration.developerConfiguration.diskVerification.memoryLimit",
        "spec.configuration.developerConfiguration.featureGates",
        "spec.configuration.vmRolloutStrategy",
    ]
    assert w.custom.list_namespaced_custom_object(*KV)["items"] == []


def invalid_cr_kubectl(w: World) -> None:
    kubevirt_installed(w)
    body = json.loads(json.dumps(AS_A_USER_WRITES_IT))
    body["spec"]["configuration"]["vmRolloutStrategy"] = "Sometimes"
    ran = w.kubectl.run("apply", "--validate=false", "-f", "-", stdin=body)
    assert ran.code != 0
    assert 'Unsupported value: "Sometimes"' in ran.err


# --- fieldValidation through kubectl (server-side field validation, read from /openapi/v3) -----
VEP_FIELD = "spec.configuration.developerConfiguration.autoNUMAEnablement"
CANNOT_HANDLE = f'KubeVirt in version "v1" cannot be handled as a KubeVirt: strict decoding error: unknown field "{VEP_FIELD}"'


def sent_validation(w: World, verb: str) -> list[str]:
    """The fieldValidation kubectl sent on each ``verb`` request to the KubeVirt CRs."""
    return [r.query.get("fieldValidation", "") for r in w.sent(verb, "/kubevirts")]


def stored_kubevirts(w: World) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = w.custom.list_namespaced_custom_object(*KV)["items"]
    return items


def openapi_v3_python(w: World) -> None:
    """/openapi/v3 maps each group-version to a hashed serverRelativeURL; the KubeVirt PATCH
    declares fieldValidation and dryRun, the Node PATCH only dryRun (nodes are not field-checked);
    a stale hash answers 301 to the current one."""
    kubevirt_installed(w)
    status, paths, _ = w.raw("GET", "/openapi/v3")
    assert status == 200
    url = paths["paths"]["apis/kubevirt.io/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/kubevirt.io/v1?hash=")
    status, doc, headers = w.raw("GET", url.split("?")[0], hash=url.split("hash=")[1])
    assert (status, headers["Cache-Control"]) == (200, "public, immutable")
    patch = doc["paths"]["/apis/kubevirt.io/v1/namespaces/{namespace}/kubevirts/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "kubevirt.io",
        "version": "v1",
        "kind": "KubeVirt",
    }
    assert {"dryRun", "fieldManager", "fieldValidation", "force"} == {p["name"] for p in patch["parameters"]}
    assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]
    schema = doc["components"]["schemas"]["io.kubevirt.v1.KubeVirt"]
    assert "developerConfiguration" in json.dumps(schema["properties"]["spec"])
    assert "autoNUMAEnablement" not in json.dumps(schema)
    _, core, _ = w.raw("GET", paths["paths"]["api/v1"]["serverRelativeURL"].split("?")[0])
    node_patch = core["paths"]["/api/v1/nodes/{name}"]["patch"]
    assert {p["name"] for p in node_patch["parameters"]} == {"dryRun", "fieldManager", "force"}
    redirected = w.client.rest_client.pool_manager.request(
        "GET", w.served.url + url.split("?")[0] + "?hash=0", redirect=False
    )
    assert (redirected.status, redirected.headers["Location"]) == (301, url)


def openapi_follows_the_crd_kubectl(w: World) -> None:
    """A CRD's new schema is published at once (a new hash): kubectl, with the same --cache-dir,
    validates against it (a KubeVirt release that declares the VEP field keeps it)."""
    kubevirt_installed(w)
    assert w.kubectl.run("apply", "-f", "-", stdin=AS_A_USER_WRITES_IT).code == 1
    crd = kubevirt_crd()
    for version in crd["spec"]["versions"]:
        spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
        developer = spec["properties"]["configuration"]["properties"]["developerConfiguration"]
        developer["properties"]["autoNUMAEnablement"] = {"type": "boolean"}
    w.kubectl.ok("apply", "--validate=false", "-f", "-", stdin=crd)
    said = w.kubectl.ok("apply", "-f", "-", stdin=AS_A_USER_WRITES_IT)
    assert (said.out.strip(), said.err) == ("kubevirt.kubevirt.io/kubevirt created", "")
    stored = w.stored("KubeVirt/kubevirt/kubevirt")
    assert stored["spec"]["configuration"]["developerConfiguration"]["autoNUMAEnablement"] is True
    assert sent_validation(w, "create") == ["Strict", "Strict"]


def strict_create_kubectl(w: World) -> None:
    """kubectl create/apply/replace --validate=strict send fieldValidation=Strict; an unknown field
    in a CR answers 400 BadRequest naming it (create, update) and nothing is stored."""
    kubevirt_installed(w)
    for verb in ("create", "apply"):
        ran = w.kubectl.run(verb, "--validate=strict", "-f", "-", stdin=AS_A_USER_WRITES_IT)
        assert (ran.code, ran.err.strip()) == (
            1,
            f'Error from server (BadRequest): error when creating "STDIN": {CANNOT_HANDLE}',
        )
    assert sent_validation(w, "create") == ["Strict", "Strict"]
    assert stored_kubevirts(w) == []
    switched = json.loads(json.dumps(AS_A_USER_WRITES_IT))
    del switched["spec"]["configuration"]["developerConfiguration"]["autoNUMAEnablement"]
    w.kubectl.ok("create", "--validate=strict", "-f", "-", stdin=switched)
    ran = w.kubectl.run("replace", "--validate=strict", "-f", "-", stdin=AS_A_USER_WRITES_IT)
    assert (ran.code, ran.err.strip()) == (
        1,
        f'Error from server (BadRequest): error when replacing "STDIN": {CANNOT_HANDLE}',
    )
    assert sent_validation(w, "update") == ["Strict"]


def strict_patch_kubectl(w: World) -> None:
    """kubectl apply (default --validate=strict) to an existing CR sends a merge patch with
    fieldValidation=Strict; an unknown field answers 422 Invalid on ``patch``."""
    kubevirt_installed(w)
    switched = json.loads(json.dumps(AS_A_USER_WRITES_IT))
    del switched["spec"]["configuration"]["developerConfiguration"]["autoNUMAEnablement"]
    assert w.kubectl.ok("apply", "-f", "-", stdin=switched).err == ""
    ran = w.kubectl.run("apply", "-f", "-", stdin=AS_A_USER_WRITES_IT)
    assert ran.code == 1
    assert ran.err.startswith("The request is invalid: patch: Invalid value: ")
    assert ran.err.strip().endswith(f'strict decoding error: unknown field "{VEP_FIELD}"')
    assert sent_validation(w, "patch") == ["Strict"]


def strict_patch_python(w: World) -> None:
    kubevirt_installed(w)
    w.custom.create_namespaced_custom_object(*KV, AS_A_USER_WRITES_IT)
    with pytest.raises(ApiException) as refused:
        w.custom.patch_namespaced_custom_object(
            *KV, "kubevirt", {"spec": {"madeUp": 1}},
            field_validation="Strict",
        )  # fmt: skip
    failure = body_of(refused.value)
    assert (refused.value.status, failure["reason"]) == (422, "Invalid")
    [cause] = failure["details"]["causes"]
    assert cause["field"] == "patch"
    assert cause["message"].endswith('strict decoding error: unknown field "spec.madeUp"')
    assert '\\"madeUp\\":1' in cause["message"]  # the patched object, before pruning


def warn_kubectl(w: World) -> None:
    """--validate=warn sends fieldValidation=Warn: the write succeeds, pruned, and kubectl prints
    the server's ``Warning: unknown field "..."`` line; kubectl patch (no --validate) gets the
    server's default, Warn."""
    kubevirt_installed(w)
    warning = f'Warning: unknown field "{VEP_FIELD}"'
    said = w.kubectl.ok("apply", "--validate=warn", "-f", "-", stdin=AS_A_USER_WRITES_IT)
    assert (said.out.strip(), said.err.strip()) == ("kubevirt.kubevirt.io/kubevirt created", warning)
    said = w.kubectl.ok("replace", "--validate=warn", "-f", "-", stdin=AS_A_USER_WRITES_IT)
    assert (said.out.strip(), said.err.strip()) == ("kubevirt.kubevirt.io/kubevirt replaced", warning)
    said = w.kubectl.ok(
        "patch", "kubevirt", "kubevirt", "-n", "kubevirt", "--type=merge", "-p", '{"spec":{"madeUp":1}}'
    )
    assert said.err.strip() == 'Warning: unknown field "spec.madeUp"'
    assert sent_validation(w, "create") + sent_validation(w, "update") == ["Warn", "Warn"]
    assert sent_validation(w, "patch") == [""]
    [stored] = stored_kubevirts(w)
    assert stored["spec"] == {"configuration": {"developerConfiguration": {"featureGates": ["NUMA"]}}}


def builtin_without_field_validation_kubectl(w: World) -> None:
    """A kind whose PATCH does not declare fieldValidation (Node, here): --validate=strict falls
    back to client-side validation, which needs /openapi/v2 (not served): kubectl says to turn
    validation off; --validate=warn validates nothing and says so."""
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "a"}}
    ran = w.kubectl.run("create", "-f", "-", stdin=node)
    assert ran.code == 1
    assert ran.err.strip().endswith(
        "if you choose to ignore these errors, turn validation off with --validate=false"
    )
    said = w.kubectl.ok("create", "--validate=warn", "-f", "-", stdin=node)
    assert said.out.strip() == "node/a created"
    assert "cannot perform warn validation if server-side field validation is unsupported" in said.err


def switch_under_strict_validation_kubectl(w: World) -> None:
    """kvnuma's switch survives strict validation: the annotation is metadata (never an unknown
    field), so ``kubectl apply`` (strict) and ``kubectl annotate`` take it with no warning."""
    kubevirt_installed(w)
    switched = json.loads(json.dumps(AS_A_USER_WRITES_IT))
    del switched["spec"]["configuration"]["developerConfiguration"]["autoNUMAEnablement"]
    assert w.kubectl.ok("apply", "--validate=strict", "-f", "-", stdin=switched).err == ""
    said = w.kubectl.ok("annotate", "kubevirt", "kubevirt", "-n", "kubevirt", f"{AUTO_NUMA_ANNOTATION}=true")
    assert (said.out.strip(), said.err) == ("kubevirt.kubevirt.io/kubevirt annotated", "")


def switch_under_strict_validation_kvnuma(w: World) -> None:
    """kvnuma reads the switch the annotation set through strict validation."""
    switch_under_strict_validation_kubectl(w)

    async def run() -> dict[str, Any]:
        async with KubeClient(ClusterConfig(w.served.url)) as client:
            return await client.get(KUBEVIRTS, "kubevirt", "kubevirt")

    switch = from_kubevirt(asyncio.run(run()))
    assert (switch.enabled, switch.source) == (True, Source.ANNOTATION)


# --- metadata validation --------------------------------------------------------------------
BAD_METADATA = [
    ({"name": "Bad_Name"}, "metadata.name"),
    ({"name": "ok", "labels": {"bad key!": "x"}}, "metadata.labels"),
    ({"name": "ok", "labels": {"k": "bad value!"}}, "metadata.labels"),
    ({"name": "ok", "annotations": {"/nope": "x"}}, "metadata.annotations"),
]


def metadata_python(w: World) -> None:
    """Object metadata validation: 422 Invalid, details.causes names the field; nothing stored."""
    for meta, field in BAD_METADATA:
        with pytest.raises(ApiException) as refused:
            w.core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": meta})
        failure = body_of(refused.value)
        assert (refused.value.status, failure["reason"]) == (422, "Invalid"), meta
        assert [c["field"] for c in failure["details"]["causes"]] == [field]
    assert w.core.list_node().items == []


def metadata_kubectl(w: World) -> None:
    for meta, field in BAD_METADATA:
        ran = w.kubectl.run(
            "create",
            "--validate=false",
            "-f",
            "-",
            stdin={"apiVersion": "v1", "kind": "Node", "metadata": meta},
        )
        assert ran.code != 0, meta
        assert "is invalid" in ran.err, ran.err
        assert field in ran.err, ran.err
    assert "No resources found" in w.kubectl.ok("get", "nodes").err


# --- selectors --------------------------------------------------------------------------------
SELECTORS = [
    ("tier=gold", ["a"]),
    ("tier==gold", ["a"]),
    ("tier!=gold", ["b", "c"]),
    ("tier in (gold,silver)", ["a", "b"]),
    ("tier notin (gold)", ["b", "c"]),
    ("tier", ["a", "b"]),
    ("!tier", ["c"]),
    ("tier=gold,zone=z1", ["a"]),
    ("zone in (z1,z2),!tier", ["c"]),
]


def labelled(w: World) -> None:
    w.node("a", {"tier": "gold", "zone": "z1"})
    w.node("b", {"tier": "silver", "zone": "z1"})
    w.node("c", {"zone": "z2"})


def label_selectors_python(w: World) -> None:
    """Label selectors (=, ==, !=, in, notin, exists, !) on list."""
    labelled(w)
    for selector, expected in SELECTORS:
        assert names(w.core.list_node(label_selector=selector).items) == expected, selector


def label_selectors_kubectl(w: World) -> None:
    labelled(w)
    for selector, expected in SELECTORS:
        out = w.kubectl.ok("get", "nodes", "-l", selector, "-o", "name").out.split()
        assert sorted(n.removeprefix("node/") for n in out) == expected, selector


def field_selectors_python(w: World) -> None:
    """Field selectors metadata.name (=, !=); an unsupported field answers 400."""
    labelled(w)
    assert names(w.core.list_node(field_selector="metadata.name=b").items) == ["b"]
    assert names(w.core.list_node(field_selector="metadata.name!=b").items) == ["a", "c"]
    with pytest.raises(ApiException) as refused:
        w.core.list_node(field_selector="spec.nothing=x")
    assert refused.value.status == 400
    assert "field label not supported: spec.nothing" in body_of(refused.value)["message"]


def field_selectors_kubectl(w: World) -> None:
    kubevirt_installed(w)
    w.kubectl.ok("apply", "--validate=false", "-f", "-", stdin=AS_A_USER_WRITES_IT)
    out = w.kubectl.ok(
        "get", "kubevirts", "-A", "--field-selector", "metadata.namespace=kubevirt", "-o", "name"
    ).out
    assert out.split() == ["kubevirt.kubevirt.io/kubevirt"]
    assert (
        w.kubectl.ok(
            "get", "kubevirts", "-A", "--field-selector", "metadata.namespace=other", "-o", "name"
        ).out
        == ""
    )
    ran = w.kubectl.run("get", "nodes", "--field-selector", "status.phase=Running")
    assert ran.code != 0
    assert "field label not supported" in ran.err


def selectors_on_watch_python(w: World) -> None:
    """Selectors on watch: only matching objects; one that stops matching is DELETED."""
    labelled(w)
    rv = w.core.list_node().metadata.resource_version
    w.served.on_loop(
        lambda: w.served.api.put_object(
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "a", "labels": {"tier": "bronze"}}}
        )
    )
    w.node("d", {"tier": "gold"})
    seen = [
        (e["type"], e["object"].metadata.name)
        for e in k8s_watch.Watch().stream(
            w.core.list_node, label_selector="tier=gold", resource_version=rv, timeout_seconds=1
        )
    ]
    assert seen == [("DELETED", "a"), ("ADDED", "d")]


def delete_collection_kubectl(w: World) -> None:
    """deletecollection with a label selector (kubectl delete -l)."""
    labelled(w)
    w.kubectl.ok("delete", "nodes", "-l", "zone=z1")
    assert w.kubectl.ok("get", "nodes", "-o", "name").out.split() == ["node/c"]


def delete_collection_python(w: World) -> None:
    labelled(w)
    w.core.delete_collection_node(label_selector="tier")
    assert names(w.core.list_node().items) == ["c"]


# --- dry run ----------------------------------------------------------------------------------
def dry_run_python(w: World) -> None:
    """dryRun=All on create, update, patch and delete: the answer, and nothing persisted."""
    w.node("a")
    before = w.rv
    made = w.core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "b"}}, dry_run="All")
    assert made.metadata.name == "b"
    assert made.metadata.uid
    patched = w.core.patch_node("a", {"metadata": {"labels": {"x": "y"}}}, dry_run="All")
    assert patched.metadata.labels == {"x": "y"}
    current = w.core.read_node("a")
    current.metadata.labels = {"u": "v"}
    w.core.replace_node("a", current, dry_run="All")
    w.core.delete_node("a", dry_run="All")
    assert w.rv == before
    assert names(w.core.list_node().items) == ["a"]
    assert w.core.read_node("a").metadata.labels in (None, {})


def dry_run_kubectl(w: World) -> None:
    w.node("a")
    before = w.rv
    said = w.kubectl.ok(
        "create",
        "--dry-run=server",
        "--validate=false",
        "-f",
        "-",
        "-o",
        "json",
        stdin={"apiVersion": "v1", "kind": "Node", "metadata": {"name": "b"}},
    )
    assert said.json()["metadata"]["name"] == "b"
    w.kubectl.ok("label", "node", "a", "x=y", "--dry-run=server")
    w.kubectl.ok("delete", "node", "a", "--dry-run=server")
    assert w.rv == before
    assert w.kubectl.ok("get", "nodes", "-o", "name").out.split() == ["node/a"]


def dry_run_watch_python(w: World) -> None:
    """A dry run sends no watch event."""
    w.node("a")
    rv = w.core.list_node().metadata.resource_version
    w.core.patch_node("a", {"metadata": {"labels": {"x": "y"}}}, dry_run="All")
    w.core.patch_node("a", {"metadata": {"labels": {"real": "yes"}}})
    seen = [
        e["object"].metadata.labels
        for e in k8s_watch.Watch().stream(w.core.list_node, resource_version=rv, timeout_seconds=1)
    ]
    assert seen == [{"real": "yes"}]


# --- subresources -----------------------------------------------------------------------------
def node_status_python(w: World) -> None:
    """Nodes' /status: a write to the node keeps status; a write to /status changes only status."""
    w.node("a")
    w.core.patch_node("a", {"status": {"capacity": {"cpu": "99"}}, "metadata": {"labels": {"l": "1"}}})
    node = w.core.read_node("a")
    assert (node.status.capacity, node.metadata.labels) == ({"cpu": "4"}, {"l": "1"})
    w.core.patch_node_status("a", {"status": {"capacity": {"cpu": "8"}}, "metadata": {"labels": {"l": "2"}}})
    node = w.core.read_node("a")
    assert (node.status.capacity, node.metadata.labels) == ({"cpu": "8"}, {"l": "1"})


def node_status_kubectl(w: World) -> None:
    w.node("a")
    w.kubectl.ok(
        "patch",
        "node",
        "a",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"capacity":{"cpu":"16"}},"spec":{"unschedulable":true}}',
    )
    node = w.kubectl.ok("get", "node", "a", "-o", "json").json()
    assert node["status"]["capacity"] == {"cpu": "16"}
    assert "unschedulable" not in node.get("spec", {})


# --- preconditions and conflicts --------------------------------------------------------------
def preconditions_python(w: World) -> None:
    """DELETE with a stale resourceVersion or uid precondition answers 409 Conflict."""
    w.node("a")
    for pre in (
        k8s.V1Preconditions(resource_version="1"),
        k8s.V1Preconditions(uid="not-the-uid"),
    ):
        with pytest.raises(ApiException) as refused:
            w.core.delete_node("a", body=k8s.V1DeleteOptions(preconditions=pre))
        assert refused.value.status == 409
        assert "Precondition failed" in body_of(refused.value)["message"]
    uid = w.core.read_node("a").metadata.uid
    w.core.delete_node("a", body=k8s.V1DeleteOptions(preconditions=k8s.V1Preconditions(uid=uid)))
    assert w.core.list_node().items == []


def server_side_apply_kubectl(w: World) -> None:
    """Server-side apply: a second manager setting an owned field conflicts; --force-conflicts takes it."""
    node: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "a", "labels": {"x": "1"}},
    }
    w.kubectl.ok("apply", "--validate=false", "--server-side", "--field-manager=one", "-f", "-", stdin=node)
    node["metadata"]["labels"]["x"] = "2"
    ran = w.kubectl.run(
        "apply", "--validate=false", "--server-side", "--field-manager=two", "-f", "-", stdin=node
    )
    assert ran.code != 0
    assert "conflict" in ran.err.lower()
    w.kubectl.ok(
        "apply",
        "--validate=false",
        "--server-side",
        "--field-manager=two",
        "--force-conflicts",
        "-f",
        "-",
        stdin=node,
    )
    assert w.kubectl.ok("get", "node", "a", "-o", "json").json()["metadata"]["labels"] == {"x": "2"}


# --- watch ------------------------------------------------------------------------------------
def watch_expired_python(w: World) -> None:
    """A watch from a compacted resourceVersion: HTTP 200, then ERROR with a Status 410 Expired."""
    w.node("a")
    old = w.core.list_node().metadata.resource_version
    w.node("b")
    w.served.on_loop(w.served.api.compact)
    response = w.core.list_node(watch=True, resource_version=old, _preload_content=False)
    assert response.status == 200
    event = json.loads(response.readline())
    response.release_conn()
    assert (event["type"], event["object"]["code"], event["object"]["reason"]) == ("ERROR", 410, "Expired")
    with pytest.raises(ApiException) as expired:
        list(k8s_watch.Watch().stream(w.core.list_node, resource_version=old, timeout_seconds=2))
    assert expired.value.status == 410


def watch_expired_kvnuma(w: World) -> None:
    """kvnuma's client raises its ApiError 410 from the ERROR event (kubectl get has no --resource-version)."""
    w.node("a")
    old = w.core.list_node().metadata.resource_version
    w.node("b")
    w.served.on_loop(w.served.api.compact)

    async def run() -> ApiError:
        client = KubeClient(ClusterConfig(w.served.url))
        try:
            async for _event in client.watch(NODES, resource_version=old, timeout_seconds=2):
                pass
        except ApiError as error:
            return error
        finally:
            await client.close()
        raise AssertionError("the watch ended without an error")

    assert asyncio.run(run()).code == 410


def bookmarks_python(w: World) -> None:
    """allowWatchBookmarks: BOOKMARK events at the server's cadence and one before timeoutSeconds ends."""
    w.node("a")
    rv = w.core.list_node().metadata.resource_version
    response = w.core.list_node(
        watch=True, resource_version=rv, allow_watch_bookmarks=True, timeout_seconds=2, _preload_content=False
    )
    events = [json.loads(line) for line in response.read().splitlines() if line.strip()]
    assert {e["type"] for e in events} == {"BOOKMARK"}
    assert 2 <= len(events) <= 8  # every 0.3 s here, and one 0.5 s before the 2 s timeout
    assert all(e["object"]["metadata"]["resourceVersion"] == rv for e in events)
    plain = w.core.list_node(watch=True, resource_version=rv, timeout_seconds=1, _preload_content=False)
    assert plain.read().strip() == b""  # without allowWatchBookmarks: none


def watch_list_python(w: World) -> None:
    """sendInitialEvents=true + resourceVersionMatch=NotOlderThan: ADDED, then the initial-events-end bookmark."""
    labelled(w)
    response = w.core.list_node(
        watch=True,
        send_initial_events=True,
        resource_version_match="NotOlderThan",
        allow_watch_bookmarks=True,
        timeout_seconds=1,
        _preload_content=False,
    )
    events = [json.loads(line) for line in response.read().splitlines() if line.strip()]
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events[:3]] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
        ("ADDED", "c"),
    ]
    assert events[3]["type"] == "BOOKMARK"
    assert events[3]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def watch_list_kvnuma(w: World) -> None:
    """kvnuma's own client streams the watch-list and sees the same end marker."""
    labelled(w)

    async def run() -> list[tuple[str, Any]]:
        client = KubeClient(ClusterConfig(w.served.url))
        try:
            seen = []
            async for event in client.watch(
                NODES, timeout_seconds=1, send_initial_events=True, metadata_only=True
            ):
                seen.append((event.type, event.object))
            return seen
        finally:
            await client.close()

    seen = asyncio.run(run())
    assert [k for k, _ in seen[:4]] == ["ADDED", "ADDED", "ADDED", "BOOKMARK"]
    assert seen[3][1]["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true"
    assert {obj["kind"] for _, obj in seen} == {"PartialObjectMetadata"}


# --- list ---------------------------------------------------------------------------------------
def chunks_python(w: World) -> None:
    """limit/continue pages: at most ``limit`` items, remainingItemCount, the next page."""
    for i in range(5):
        w.node(f"n{i}")
    first = w.core.list_node(limit=2)
    assert (len(first.items), first.metadata.remaining_item_count) == (2, 3)
    second = w.core.list_node(limit=2, _continue=first.metadata._continue)
    assert names(second.items) == ["n2", "n3"]
    third = w.core.list_node(limit=2, _continue=second.metadata._continue)
    assert (names(third.items), third.metadata._continue) == (["n4"], None)


def chunks_kvnuma(w: World) -> None:
    """kvnuma's reflector lists page by page (limit/continue) before it reports synced."""
    for i in range(5):
        w.node(f"n{i}")

    async def run() -> Reflector:
        async with KubeClient(ClusterConfig(w.served.url)) as client:
            reflector = Reflector(client, NODES, page_size=2, resync_seconds=0)
            task = asyncio.create_task(reflector.run())
            try:
                await asyncio.wait_for(reflector.synced.wait(), 10)
            finally:
                task.cancel()
            return reflector

    reflector = asyncio.run(run())
    assert (reflector.pages, reflector.lists) == (3, 1)
    assert sorted(name for _, name in reflector.store) == [f"n{i}" for i in range(5)]
    pages = w.sent("list", "/nodes")
    assert [(r.query.get("limit"), bool(r.query.get("continue"))) for r in pages] == [
        ("2", False),
        ("2", True),
        ("2", True),
    ]


def expired_page(w: World) -> str:
    """A continue token whose version a later write and a compaction left behind."""
    for i in range(3):
        w.node(f"n{i}")
    token: str = w.core.list_node(limit=2).metadata._continue
    w.node("n9")
    w.served.on_loop(w.served.api.compact)
    return token


def expired_continue_python(w: World) -> None:
    """A continue token older than the compaction window answers 410 Expired."""
    token = expired_page(w)
    code, body = api_error(lambda: w.core.list_node(limit=2, _continue=token))
    assert (code, body["reason"]) == (410, "Expired")
    assert body["message"].startswith("The provided continue parameter is too old")


def expired_continue_kvnuma(w: World) -> None:
    """kvnuma's client raises its ApiError 410 (its reflector then lists afresh)."""
    token = expired_page(w)
    assert asyncio.run(kvnuma_page_error(w, NODES, token)).code == 410


def foreign_token(w: World) -> str:
    """A continue token from a list of KubeVirt CRs (to be used on the Nodes list)."""
    kubevirt_installed(w)
    for name in ("a", "b"):
        body = {**AS_A_USER_WRITES_IT, "metadata": {"name": name, "namespace": "kubevirt"}}
        w.custom.create_namespaced_custom_object(*KV, body, field_validation="Ignore")
    w.node("n1")
    token: str = w.custom.list_cluster_custom_object("kubevirt.io", "v1", "kubevirts", limit=1)["metadata"][
        "continue"
    ]
    return token


def foreign_continue_python(w: World) -> None:
    """A continue token from another list answers 400 BadRequest naming the continue token."""
    token = foreign_token(w)
    code, body = api_error(lambda: w.core.list_node(limit=1, _continue=token))
    assert (code, body["reason"]) == (400, "BadRequest")
    assert body["message"].startswith("invalid continue token: continue key is not valid")


def foreign_continue_kubectl(w: World) -> None:
    token = foreign_token(w)
    ran = w.kubectl.run("get", "--raw", f"/api/v1/nodes?limit=1&continue={token}")
    assert ran.code == 1
    assert ran.err.startswith("Error from server (BadRequest): invalid continue token"), ran.err


def foreign_continue_kvnuma(w: World) -> None:
    token = foreign_token(w)
    assert asyncio.run(kvnuma_page_error(w, NODES, token)).code == 400


async def kvnuma_page_error(w: World, res: Any, token: str) -> ApiError:
    async with KubeClient(ClusterConfig(w.served.url)) as client:
        try:
            await client.list_page(res, limit=2, continue_token=token)
        except ApiError as error:
            return error
    raise AssertionError("the page was served")


def chunks_kubectl(w: World) -> None:
    for i in range(5):
        w.node(f"n{i}")
    out = w.kubectl.ok("get", "nodes", "--chunk-size=2", "-o", "name").out.split()
    assert out == [f"node/n{i}" for i in range(5)]
    assert [r.query.get("limit") for r in w.sent("list", "/nodes")] == ["2", "2", "2"]


def rv_match_python(w: World) -> None:
    """resourceVersionMatch: Exact answers the list as it was; NotOlderThan at least that version."""
    w.node("a")
    then = w.core.list_node().metadata.resource_version
    w.node("b")
    exact = w.core.list_node(resource_version=then, resource_version_match="Exact")
    assert (names(exact.items), exact.metadata.resource_version) == (["a"], then)
    newer = w.core.list_node(resource_version=then, resource_version_match="NotOlderThan")
    assert names(newer.items) == ["a", "b"]
    assert int(newer.metadata.resource_version) >= int(then)


def metadata_only_python(w: World) -> None:
    """Accept ...;as=PartialObjectMetadataList / as=PartialObjectMetadata: metadata only."""
    labelled(w)
    status, body, _ = w.raw(
        "GET", "/api/v1/nodes", accept="application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
    )
    assert (status, body["kind"], body["apiVersion"]) == (200, "PartialObjectMetadataList", "meta.k8s.io/v1")
    assert {tuple(sorted(i)) for i in body["items"]} == {("apiVersion", "kind", "metadata")}
    status, one, _ = w.raw(
        "GET", "/api/v1/nodes/a", accept="application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
    )
    assert (one["kind"], one["metadata"]["labels"]["tier"], "status" in one) == (
        "PartialObjectMetadata",
        "gold",
        False,
    )


def metadata_only_kvnuma(w: World) -> None:
    labelled(w)

    async def run() -> Any:
        client = KubeClient(ClusterConfig(w.served.url))
        try:
            return await client.list_page(NODES, metadata_only=True, limit=2)
        finally:
            await client.close()

    page = asyncio.run(run())
    assert [i["metadata"]["name"] for i in page.items] == ["a", "b"]
    assert all("status" not in i for i in page.items)
    assert page.continue_token


# The table: (the documented behaviour, the client that shows it, the check). A behaviour runs
# through every client that can express it; kvnuma's client where kvnuma uses the behaviour.
CASES: list[tuple[str, str, Callable[[World], None]]] = [
    # objects (API concepts: create, get, update, patch, delete, watch; tables; namespaces)
    ("discovery-serves-api-apis-and-resource-lists", "kubectl", discovery_kubectl),
    ("discovery-serves-api-apis-and-resource-lists", "python", discovery_python),
    ("create-stamps-uid-resourceversion-creationtimestamp", "kubectl", create_kubectl),
    ("create-stamps-uid-resourceversion-creationtimestamp", "python", create_python),
    ("get-missing-is-404-notfound-status", "kubectl", not_found_kubectl),
    ("get-missing-is-404-notfound-status", "python", not_found_python),
    ("create-existing-is-409-alreadyexists", "kubectl", already_exists_kubectl),
    ("create-existing-is-409-alreadyexists", "python", already_exists_python),
    ("update-with-stale-resourceversion-is-409-conflict", "kubectl", stale_update_kubectl),
    ("update-with-stale-resourceversion-is-409-conflict", "python", stale_update_python),
    ("merge-patch-rfc7386-null-removes", "kubectl", merge_patch_kubectl),
    ("merge-patch-rfc7386-null-removes", "python", merge_patch_python),
    ("json-patch-rfc6902-failed-test-is-422", "kubectl", json_patch_kubectl),
    ("json-patch-rfc6902-failed-test-is-422", "python", json_patch_python),
    ("server-side-apply-conflict-is-409-force-takes-over", "kubectl", server_side_apply_kubectl),
    ("server-side-apply-conflict-is-409-force-takes-over", "python", server_side_apply_python),
    ("delete-removes-the-object", "kubectl", delete_kubectl),
    ("delete-removes-the-object", "python", delete_python),
    ("watch-starts-with-current-objects-then-changes", "kubectl", watch_kubectl),
    ("watch-from-resourceversion-replays-later-changes", "python", watch_python),
    ("get-as-table-prints-the-apiserver-columns", "kubectl", table_kubectl),
    ("namespace-created-active-with-its-finalizer-and-name-label", "kubectl", namespace_kubectl),
    ("namespace-created-active-with-its-finalizer-and-name-label", "python", namespace_python),
    # CustomResourceDefinitions and their custom resources
    ("crd-create-get-list-delete-served-in-discovery", "kubectl", crd_served_kubectl),
    ("crd-create-get-list-watch-delete-served-in-discovery", "python", crd_served_python),
    ("crd-cluster-scoped-preserve-unknown-fields-kept", "python", cluster_scoped_crd_python),
    ("crd-invalid-schema-is-422-naming-the-field-nothing-stored", "kubectl", invalid_crd_kubectl),
    ("crd-invalid-schema-is-422-naming-the-field-nothing-stored", "python", invalid_crd_python),
    ("cr-unknown-fields-pruned-by-the-structural-schema", "kubectl", pruned_kubectl),
    ("cr-unknown-fields-pruned-by-the-structural-schema", "python", pruned_python),
    ("cr-failing-its-schema-is-422-a-cause-per-field", "kubectl", invalid_cr_kubectl),
    ("cr-failing-its-schema-is-422-a-cause-per-field", "python", invalid_cr_python),
    ("cr-strategic-merge-patch-is-415", "kubectl", smp_on_cr_kubectl),
    ("cr-strategic-merge-patch-is-415", "python", smp_on_cr_python),
    ("cr-status-subresource-writes-only-status", "python", cr_status_subresource_python),
    # fieldValidation (server-side field validation; kubectl finds it in /openapi/v3)
    ("openapi-v3-declares-the-operations-and-parameters-served", "python", openapi_v3_python),
    ("openapi-v3-follows-a-crd-schema-change", "kubectl", openapi_follows_the_crd_kubectl),
    ("fieldvalidation-warn-a-warning-per-unknown-field", "kubectl", warn_kubectl),
    ("fieldvalidation-warn-a-warning-per-unknown-field", "python", field_validation_warn_python),
    ("fieldvalidation-strict-unknown-field-is-400-on-create-update", "kubectl", strict_create_kubectl),
    (
        "fieldvalidation-strict-unknown-field-is-400-on-create-update",
        "python",
        field_validation_strict_python,
    ),
    ("fieldvalidation-strict-unknown-field-is-422-on-patch", "kubectl", strict_patch_kubectl),
    ("fieldvalidation-strict-unknown-field-is-422-on-patch", "python", strict_patch_python),
    (
        "validate-strict-without-declared-fieldvalidation-falls-back-client-side",
        "kubectl",
        builtin_without_field_validation_kubectl,
    ),
    ("kvnuma-switch-annotation-passes-strict-validation", "kubectl", switch_under_strict_validation_kubectl),
    ("kvnuma-switch-annotation-passes-strict-validation", "kvnuma", switch_under_strict_validation_kvnuma),
    # metadata validation, selectors
    ("metadata-invalid-name-label-annotation-is-422-with-causes", "kubectl", metadata_kubectl),
    ("metadata-invalid-name-label-annotation-is-422-with-causes", "python", metadata_python),
    ("label-selectors-on-list", "kubectl", label_selectors_kubectl),
    ("label-selectors-on-list", "python", label_selectors_python),
    ("field-selectors-unsupported-field-is-400", "kubectl", field_selectors_kubectl),
    ("field-selectors-unsupported-field-is-400", "python", field_selectors_python),
    ("selectors-on-watch-leaving-is-deleted", "python", selectors_on_watch_python),
    ("deletecollection-by-label-selector", "kubectl", delete_collection_kubectl),
    ("deletecollection-by-label-selector", "python", delete_collection_python),
    # dry run, subresources, preconditions
    ("dry-run-all-persists-nothing", "kubectl", dry_run_kubectl),
    ("dry-run-all-persists-nothing", "python", dry_run_python),
    ("dry-run-all-sends-no-watch-event", "python", dry_run_watch_python),
    ("node-status-subresource-writes-only-status", "kubectl", node_status_kubectl),
    ("node-status-subresource-writes-only-status", "python", node_status_python),
    ("delete-stale-precondition-is-409", "python", preconditions_python),
    # watch
    ("watch-from-compacted-version-is-200-then-error-410", "kvnuma", watch_expired_kvnuma),
    ("watch-from-compacted-version-is-200-then-error-410", "python", watch_expired_python),
    ("watch-bookmarks-at-cadence-and-before-timeout", "python", bookmarks_python),
    ("watch-list-initial-events-then-end-bookmark", "kvnuma", watch_list_kvnuma),
    ("watch-list-initial-events-then-end-bookmark", "python", watch_list_python),
    # list
    ("list-limit-continue-pages", "kubectl", chunks_kubectl),
    ("list-limit-continue-pages", "kvnuma", chunks_kvnuma),
    ("list-limit-continue-pages", "python", chunks_python),
    ("list-expired-continue-token-is-410", "kvnuma", expired_continue_kvnuma),
    ("list-expired-continue-token-is-410", "python", expired_continue_python),
    ("list-continue-token-from-another-list-is-400", "kubectl", foreign_continue_kubectl),
    ("list-continue-token-from-another-list-is-400", "kvnuma", foreign_continue_kvnuma),
    ("list-continue-token-from-another-list-is-400", "python", foreign_continue_python),
    ("list-resourceversionmatch-exact-and-notolderthan", "python", rv_match_python),
    ("metadata-only-list-and-get", "kvnuma", metadata_only_kvnuma),
    ("metadata-only-list-and-get", "python", metadata_only_python),
]


@pytest.mark.parametrize(
    "check", [pytest.param(check, id=f"{behaviour}-{who}") for behaviour, who, check in CASES]
)
def test_real_client(world: World, check: Callable[[World], None]) -> None:
    check(world)


def test_every_row_names_a_behaviour_and_a_client_once() -> None:
    assert len({(behaviour, who) for behaviour, who, _ in CASES}) == len(CASES)
    assert {who for _, who, _ in CASES} == {"kubectl", "python", "kvnuma"}
    checks = [check for _, _, check in CASES]
    assert len(set(checks)) == len(checks)
