"""The API test server's basic object semantics driven by real clients: kubectl and the official
``kubernetes`` Python client (the rest of section 2 is test_kubeapi_real_clients.py's table).

Each case names the documented kube-apiserver behaviour it checks and runs through every real
client that can express it; when a real client and the server disagree, the server is wrong.
One server serves the whole module (every case makes its own objects); kubectl and the harness
are kubeapi/clients.py's (a missing kubectl fails).
"""

from __future__ import annotations

import itertools
import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from kubeapi.clients import KUBECTL, Kubectl, ServedApi, kube_client

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"
_serial = itertools.count()


@dataclass
class Clients:
    served: ServedApi
    tool: Kubectl
    core: Any = field(init=False)  # k8s.CoreV1Api; its Optional-everywhere models read as Any here
    api_client: Any = field(init=False)

    def __post_init__(self) -> None:
        self.api_client = kube_client(self.served.url)
        self.core = k8s.CoreV1Api(self.api_client)

    def kubectl(
        self, *args: str, stdin: str | None = None, ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        ran = self.tool.run(*args, stdin=stdin)
        if ok:
            assert ran.code == 0, f"kubectl {' '.join(args)}: {ran.err}"
        return subprocess.CompletedProcess(list(args), ran.code, ran.out, ran.err)

    def kubectl_command(self, *args: str) -> list[str]:
        cache = str(self.tool.directory / "cache")
        return [KUBECTL, "--kubeconfig", str(self.tool.kubeconfig), "--cache-dir", cache, *args]

    def node(self, prefix: str, **labels: str) -> str:
        """A fresh Node (unique name) put in place by the test API; returns its name."""
        name = f"{prefix}-{next(_serial)}"
        body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}
        self.served.on_loop(lambda: self.served.api.put_object(body))
        return name

    def stored(self, name: str) -> dict[str, Any]:
        return self.served.on_loop(lambda: self.served.api.get_object(f"Node/{name}"))


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clients]:
    served = ServedApi(bookmark_interval=30)
    try:
        yield Clients(served, Kubectl(served.url, tmp_path_factory.mktemp("real-clients-basics")))
    finally:
        served.close()


def node_yaml(name: str, **labels: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}})


def api_error(call: Callable[[], Any]) -> tuple[int, dict[str, Any]]:
    with pytest.raises(ApiException) as caught:
        call()
    return int(caught.value.status), json.loads(caught.value.body or "{}")


# --- the cases ------------------------------------------------------------------------------
# Each is a function of the clients; the table below pairs it with the client that runs it.


def discovery_kubectl(c: Clients) -> None:
    out = c.kubectl("api-resources", "--no-headers").stdout
    rows = {line.split()[0]: line.split() for line in out.splitlines()}
    assert rows["nodes"][1:] == ["v1", "false", "Node"]
    assert rows["kubevirts"][1:] == ["kubevirt.io/v1", "true", "KubeVirt"]


def discovery_python(c: Clients) -> None:
    assert k8s.CoreApi(c.api_client).get_api_versions().versions == ["v1"]
    groups: dict[str, Any] = {g.name: g for g in k8s.ApisApi(c.api_client).get_api_versions().groups}
    assert groups["kubevirt.io"].preferred_version.group_version == "kubevirt.io/v1"
    resources = c.core.get_api_resources().resources
    assert [(r.name, r.kind, r.namespaced) for r in resources if r.name == "nodes"] == [
        ("nodes", "Node", False)
    ]


def create_kubectl(c: Clients) -> None:
    name = f"created-{next(_serial)}"
    assert c.kubectl(
        "create", "--validate=false", "-f", "-", stdin=node_yaml(name, a="1")
    ).stdout.strip() == (f"node/{name} created")
    got = json.loads(c.kubectl("get", "node", name, "-o", "json").stdout)
    assert got["metadata"]["labels"] == {"a": "1"}
    assert got["metadata"]["uid"]
    assert int(got["metadata"]["resourceVersion"]) > 0
    assert got["metadata"]["creationTimestamp"].endswith("Z")


def create_python(c: Clients) -> None:
    name = f"created-{next(_serial)}"
    made = c.core.create_node(k8s.V1Node(metadata=k8s.V1ObjectMeta(name=name, labels={"a": "1"})))
    read = c.core.read_node(name)
    assert read.metadata.uid == made.metadata.uid
    assert read.metadata.resource_version == made.metadata.resource_version
    assert read.metadata.labels == {"a": "1"}


def not_found_kubectl(c: Clients) -> None:
    done = c.kubectl("get", "node", "no-such-node", ok=False)
    assert done.returncode == 1
    assert done.stderr.strip() == 'Error from server (NotFound): nodes "no-such-node" not found'


def not_found_python(c: Clients) -> None:
    code, body = api_error(lambda: c.core.read_node("no-such-node"))
    assert (code, body["kind"], body["reason"]) == (404, "Status", "NotFound")
    assert body["details"] == {"name": "no-such-node", "group": "", "kind": "nodes"}


def already_exists_kubectl(c: Clients) -> None:
    name = c.node("exists")
    done = c.kubectl("create", "--validate=false", "-f", "-", stdin=node_yaml(name), ok=False)
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        == f'Error from server (AlreadyExists): error when creating "STDIN": nodes "{name}" already exists'
    )


def already_exists_python(c: Clients) -> None:
    name = c.node("exists")
    code, body = api_error(lambda: c.core.create_node(k8s.V1Node(metadata=k8s.V1ObjectMeta(name=name))))
    assert (code, body["reason"]) == (409, "AlreadyExists")


def stale_update_kubectl(c: Clients) -> None:
    name = c.node("stale")
    old = json.loads(c.kubectl("get", "node", name, "-o", "json").stdout)
    c.kubectl("label", "node", name, "moved=yes")
    done = c.kubectl("replace", "--validate=false", "-f", "-", stdin=json.dumps(old), ok=False)
    assert done.returncode == 1
    assert "Error from server (Conflict)" in done.stderr
    assert "the object has been modified; please apply your changes to the latest version" in done.stderr


def merge_patch_kubectl(c: Clients) -> None:
    name = c.node("merge", keep="1", drop="1")
    c.kubectl("patch", "node", name, "--type=merge", "-p", '{"metadata":{"labels":{"drop":null,"new":"2"}}}')
    assert c.stored(name)["metadata"]["labels"] == {"keep": "1", "new": "2"}


def merge_patch_python(c: Clients) -> None:
    name = c.node("merge", keep="1", drop="1")
    patched = c.core.patch_node(
        name, {"metadata": {"labels": {"drop": None, "new": "2"}}}, _content_type=MERGE
    )
    assert patched.metadata.labels == {"keep": "1", "new": "2"}


def json_patch_kubectl(c: Clients) -> None:
    name = c.node("jsonpatch", a="1")
    ops = [{"op": "replace", "path": "/metadata/labels/a", "value": "2"}]
    c.kubectl("patch", "node", name, "--type=json", "-p", json.dumps(ops))
    assert c.stored(name)["metadata"]["labels"] == {"a": "2"}
    failing = [{"op": "test", "path": "/metadata/labels/a", "value": "nope"}]
    done = c.kubectl("patch", "node", name, "--type=json", "-p", json.dumps(failing), ok=False)
    assert done.returncode == 1
    assert "Error from server" in done.stderr or "is invalid" in done.stderr


def json_patch_python(c: Clients) -> None:
    name = c.node("jsonpatch", a="1")
    ops = [{"op": "add", "path": "/metadata/labels/b", "value": "3"}]
    assert c.core.patch_node(name, ops, _content_type=JSON_PATCH).metadata.labels == {"a": "1", "b": "3"}
    failing = [{"op": "test", "path": "/metadata/labels/a", "value": "nope"}]
    code, body = api_error(lambda: c.core.patch_node(name, failing, _content_type=JSON_PATCH))
    assert (code, body["reason"]) == (422, "Invalid")


def apply_python(c: Clients) -> None:
    name = f"applied-{next(_serial)}"
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"owner": "a"}},
    }
    c.core.patch_node(name, body, field_manager="first", _content_type=APPLY)
    body["metadata"]["labels"] = {"owner": "b"}
    code, answer = api_error(
        lambda: c.core.patch_node(name, body, field_manager="second", _content_type=APPLY)
    )
    assert (code, answer["reason"]) == (409, "Conflict")
    assert [cause["field"] for cause in answer["details"]["causes"]] == [".metadata.labels.owner"]
    c.core.patch_node(name, body, field_manager="second", force=True, _content_type=APPLY)
    assert c.stored(name)["metadata"]["labels"] == {"owner": "b"}


def delete_kubectl(c: Clients) -> None:
    name = c.node("deleted")
    assert c.kubectl("delete", "node", name).stdout.strip() == f'node "{name}" deleted'
    assert c.kubectl("get", "node", name, ok=False).returncode == 1


def delete_python(c: Clients) -> None:
    name = c.node("deleted")
    c.core.delete_node(name)
    code, _ = api_error(lambda: c.core.read_node(name))
    assert code == 404


def watch_kubectl(c: Clients) -> None:
    suite = f"watch{next(_serial)}"
    name = c.node(suite, suite=suite)
    command = c.kubectl_command("get", "nodes", "-l", f"suite={suite}", "--watch", "-o", "name")
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as watching:
        try:
            assert watching.stdout is not None
            first = watching.stdout.readline().split()
            later = c.node(suite, suite=suite)
            second = watching.stdout.readline().split()
        finally:
            watching.kill()
    assert first == [f"node/{name}"]  # from the list kubectl starts with
    assert second == [f"node/{later}"]  # from the watch that follows it


def watch_python(c: Clients) -> None:
    suite = f"watch{next(_serial)}"
    name = c.node(suite, suite=suite)
    listed = c.core.list_node(label_selector=f"suite={suite}")
    c.core.patch_node(name, {"metadata": {"labels": {"x": "1"}}}, _content_type=MERGE)
    watcher: Any = watch.Watch()  # type: ignore[no-untyped-call]
    events = list(
        itertools.islice(
            watcher.stream(
                c.core.list_node,
                label_selector=f"suite={suite}",
                resource_version=listed.metadata.resource_version,
                timeout_seconds=5,
            ),
            1,
        )
    )
    assert [(e["type"], e["object"].metadata.name, e["object"].metadata.labels.get("x")) for e in events] == [
        ("MODIFIED", name, "1")
    ]


def table_kubectl(c: Clients) -> None:
    name = f"printed-{next(_serial)}"
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"node-role.kubernetes.io/worker": ""}},
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "nodeInfo": {"kubeletVersion": "v1.33.1", "osImage": "Debian GNU/Linux 12"},
            "addresses": [{"type": "InternalIP", "address": "10.0.0.7"}],
        },
    }
    c.served.on_loop(lambda: c.served.api.put_object(node))
    lines = c.kubectl("get", "node", name).stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    row = lines[1].split()
    assert row[:3] == [name, "Ready,SchedulingDisabled", "worker"]
    assert row[4] == "v1.33.1"
    wide = c.kubectl("get", "node", name, "-o", "wide").stdout.splitlines()
    assert wide[0].split()[5:7] == ["INTERNAL-IP", "EXTERNAL-IP"]
    assert wide[1].split()[5:7] == ["10.0.0.7", "<none>"]
    sent = c.served.on_loop(lambda: c.served.api.requests_for("get", f"/nodes/{name}"))[-1]
    assert sent.verb == "get"


def namespace_kubectl(c: Clients) -> None:
    name = f"ns-{next(_serial)}"
    # (``kubectl create namespace`` sends protobuf, which this server does not read: apply a manifest)
    manifest = yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert c.kubectl("apply", "--validate=false", "-f", "-", stdin=manifest).stdout.strip() == (
        f"namespace/{name} created"
    )
    got = json.loads(c.kubectl("get", "ns", name, "-o", "json").stdout)
    assert got["status"] == {"phase": "Active"}
    assert got["spec"] == {"finalizers": ["kubernetes"]}
    assert got["metadata"]["labels"] == {"kubernetes.io/metadata.name": name}
    assert c.kubectl("get", "namespace", name).stdout.split()[:5] == ["NAME", "STATUS", "AGE", name, "Active"]
    assert c.kubectl("delete", "namespace", name).stdout.strip() == f'namespace "{name}" deleted'


def namespace_python(c: Clients) -> None:
    name = f"ns-{next(_serial)}"
    made = c.core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    assert made.status.phase == "Active"
    assert name in [n.metadata.name for n in c.core.list_namespace().items]
    c.core.delete_namespace(name)
    assert api_error(lambda: c.core.read_namespace(name))[0] == 404


CASES: list[tuple[str, str, Callable[[Clients], None]]] = [
    ("discovery-serves-api-apis-and-resource-lists", "kubectl", discovery_kubectl),
    ("discovery-serves-api-apis-and-resource-lists", "python", discovery_python),
    ("create-stamps-uid-resourceversion-creationtimestamp", "kubectl", create_kubectl),
    ("create-stamps-uid-resourceversion-creationtimestamp", "python", create_python),
    ("get-missing-is-404-notfound-status", "kubectl", not_found_kubectl),
    ("get-missing-is-404-notfound-status", "python", not_found_python),
    ("create-existing-is-409-alreadyexists", "kubectl", already_exists_kubectl),
    ("create-existing-is-409-alreadyexists", "python", already_exists_python),
    ("update-with-stale-resourceversion-is-409-conflict", "kubectl", stale_update_kubectl),
    ("merge-patch-rfc7386-null-removes", "kubectl", merge_patch_kubectl),
    ("merge-patch-rfc7386-null-removes", "python", merge_patch_python),
    ("json-patch-rfc6902-failed-test-is-422", "kubectl", json_patch_kubectl),
    ("json-patch-rfc6902-failed-test-is-422", "python", json_patch_python),
    ("server-side-apply-managers-conflicts-force", "python", apply_python),
    ("delete-removes-the-object", "kubectl", delete_kubectl),
    ("delete-removes-the-object", "python", delete_python),
    ("watch-starts-with-current-objects-then-changes", "kubectl", watch_kubectl),
    ("get-as-table-prints-the-apiserver-columns", "kubectl", table_kubectl),
    ("namespace-created-active-with-its-finalizer-and-name-label", "kubectl", namespace_kubectl),
    ("namespace-created-active-with-its-finalizer-and-name-label", "python", namespace_python),
    ("watch-from-resourceversion-replays-later-changes", "python", watch_python),
]


@pytest.mark.parametrize(("run"), [pytest.param(run, id=f"{case}-{who}") for case, who, run in CASES])
def test_real_client(clients: Clients, run: Callable[[Clients], None]) -> None:
    run(clients)


def test_every_case_names_a_behaviour_and_a_client() -> None:
    assert len({(case, who) for case, who, _ in CASES}) == len(CASES)
    assert {who for _, who, _ in CASES} == {"kubectl", "python"}
