"""The API test server driven by real clients: kubectl and the official ``kubernetes`` Python client.

Each case names the documented kube-apiserver behaviour it checks and runs through every real
client that can express it. These are tests of the test server's fidelity: when a real client
and the server disagree, the server is wrong. kubectl is a required test tool (``/usr/bin/kubectl``;
run with ``--validate=false`` and a ``--cache-dir`` in a temporary folder); its absence fails.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from kubeapi.server import KubeApiServer
from kubeapi.threaded import ThreadedServer, threaded_server

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
META_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"
_serial = itertools.count()


@dataclass
class Clients:
    api: ThreadedServer
    cache: Path
    core: Any = field(init=False)  # k8s.CoreV1Api; its Optional-everywhere models read as Any here
    api_client: Any = field(init=False)

    def __post_init__(self) -> None:
        configuration = k8s.Configuration(host=self.api.url)
        self.api_client = k8s.ApiClient(configuration)
        self.core = k8s.CoreV1Api(self.api_client)

    def kubectl(
        self, *args: str, stdin: str | None = None, ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        if not Path(KUBECTL).is_file():
            pytest.fail(f"kubectl not found at {KUBECTL}: it is a required test tool (see docs/testing.md)")
        command = [KUBECTL, "--kubeconfig", str(self.api.kubeconfig), "--cache-dir", str(self.cache), *args]
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60, check=False)
        if ok:
            assert done.returncode == 0, f"{' '.join(args)}: {done.stderr}"
        return done

    def node(self, prefix: str, **labels: str) -> str:
        """A fresh Node (unique name) put in place by the test API; returns its name."""
        name = f"{prefix}-{next(_serial)}"
        body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}
        self.api.call(lambda s: s.put_object(body))
        return name

    def stored(self, name: str) -> dict[str, Any]:
        return self.api.call(lambda s: s.get_object(f"Node/{name}"))

    def raw(self, method: str, path: str, *, accept: str = "application/json", **query: str) -> Any:
        data = self.api_client.call_api(
            *self.api_client.param_serialize(
                method, path, query_params=list(query.items()), header_params={"Accept": accept}
            )
        )
        data.read()
        return data.status, json.loads(data.data)


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clients]:
    folder = tmp_path_factory.mktemp("real-clients")
    with threaded_server(folder, bookmark_interval=30) as api:
        yield Clients(api, folder / "kubectl-cache")


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


def stale_update_python(c: Clients) -> None:
    name = c.node("stale")
    old = c.core.read_node(name)
    c.core.patch_node(name, {"metadata": {"labels": {"moved": "yes"}}}, _content_type=MERGE)
    old.metadata.labels = {"mine": "yes"}
    code, body = api_error(lambda: c.core.replace_node(name, old))
    assert (code, body["reason"]) == (409, "Conflict")
    assert c.stored(name)["metadata"]["labels"] == {"moved": "yes"}


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


def apply_kubectl(c: Clients) -> None:
    name = f"applied-{next(_serial)}"
    c.kubectl("apply", "--server-side", "--validate=false", "-f", "-", stdin=node_yaml(name, owner="a"))
    managers = {(m["manager"], m["operation"]) for m in c.stored(name)["metadata"]["managedFields"]}
    assert managers == {("kubectl", "Apply")}
    other = node_yaml(name, owner="b")
    done = c.kubectl(
        "apply",
        "--server-side",
        "--validate=false",
        "--field-manager=other",
        "-f",
        "-",
        stdin=other,
        ok=False,
    )
    assert done.returncode == 1
    assert 'conflict with "kubectl": .metadata.labels.owner' in done.stderr
    c.kubectl(
        "apply",
        "--server-side",
        "--validate=false",
        "--field-manager=other",
        "--force-conflicts",
        "-f",
        "-",
        stdin=other,
    )
    assert c.stored(name)["metadata"]["labels"] == {"owner": "b"}


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


SELECTED = {"a": {"tier": "gold", "zone": "1"}, "b": {"tier": "silver"}, "c": {}}
SELECTORS = [
    ("equals", "tier=gold", {"a"}),
    ("double-equals", "tier==silver", {"b"}),
    ("not-equals-includes-unlabelled", "tier!=gold", {"b", "c"}),
    ("in", "tier in (gold,silver)", {"a", "b"}),
    ("notin-includes-unlabelled", "tier notin (gold)", {"b", "c"}),
    ("exists", "zone", {"a"}),
    ("does-not-exist", "!zone", {"b", "c"}),
]


@pytest.fixture(scope="module")
def selected(clients: Clients) -> str:
    """Three Nodes sharing a ``suite`` label unique to this module; returns that label's value."""
    suite = f"sel{next(_serial)}"
    for key, labels in SELECTED.items():
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": f"{suite}-{key}", "labels": {"suite": suite, **labels}},
        }
        clients.api.call(partial(KubeApiServer.put_object, obj=body))
    return suite


@pytest.mark.parametrize(("expression", "wanted"), [pytest.param(e, w, id=i) for i, e, w in SELECTORS])
@pytest.mark.parametrize("client", ["kubectl", "python"])
def test_label_selectors_on_list(
    clients: Clients, selected: str, client: str, expression: str, wanted: set[str]
) -> None:
    """Labels and Selectors: equality- and set-based requirements, ANDed by commas."""
    selector = f"suite={selected},{expression}"
    if client == "kubectl":
        out = clients.kubectl("get", "nodes", "-l", selector, "-o", "name").stdout.split()
        names = {line.removeprefix(f"node/{selected}-") for line in out}
    else:
        items = clients.core.list_node(label_selector=selector).items
        names = {n.metadata.name.removeprefix(f"{selected}-") for n in items}
    assert names == wanted


@pytest.mark.parametrize("client", ["kubectl", "python"])
def test_field_selectors(clients: Clients, selected: str, client: str) -> None:
    """Field Selectors: metadata.name (=, !=) is supported; an unsupported field answers 400."""
    if client == "kubectl":
        out = clients.kubectl(
            "get",
            "nodes",
            "-l",
            f"suite={selected}",
            "--field-selector",
            f"metadata.name!={selected}-a",
            "-o",
            "name",
        ).stdout.split()
        assert out == [f"node/{selected}-b", f"node/{selected}-c"]
        done = clients.kubectl("get", "nodes", "--field-selector", "spec.nope=x", ok=False)
        assert done.returncode == 1
        assert "Error from server (BadRequest)" in done.stderr
        assert "field label not supported: spec.nope" in done.stderr
    else:
        items = clients.core.list_node(field_selector=f"metadata.name={selected}-b").items
        assert [n.metadata.name for n in items] == [f"{selected}-b"]
        code, body = api_error(lambda: clients.core.list_node(field_selector="spec.nope=x"))
        assert (code, body["reason"]) == (400, "BadRequest")


def pages_kubectl(c: Clients) -> None:
    suite = f"page{next(_serial)}"
    names = sorted(c.node(suite, suite=suite) for _ in range(3))
    before = len(c.api.call(lambda s: s.requests_for("list", "/nodes")))
    out = c.kubectl("get", "nodes", "-l", f"suite={suite}", "--chunk-size=1", "-o", "name").stdout.split()
    assert out == [f"node/{n}" for n in names]
    sent = c.api.call(lambda s: s.requests_for("list", "/nodes"))[before:]
    assert [r.query.get("limit") for r in sent] == ["1", "1", "1"]
    assert [bool(r.query.get("continue")) for r in sent] == [False, True, True]


def pages_python(c: Clients) -> None:
    suite = f"page{next(_serial)}"
    names = sorted(c.node(suite, suite=suite) for _ in range(3))
    first = c.core.list_node(label_selector=f"suite={suite}", limit=2)
    assert [n.metadata.name for n in first.items] == names[:2]
    assert first.metadata._continue
    rest = c.core.list_node(label_selector=f"suite={suite}", limit=2, _continue=first.metadata._continue)
    assert [n.metadata.name for n in rest.items] == names[2:]
    assert rest.metadata._continue is None
    assert rest.metadata.resource_version == first.metadata.resource_version


def expired_continue_python(c: Clients) -> None:
    suite = f"page{next(_serial)}"
    for _ in range(2):
        c.node(suite, suite=suite)
    first = c.core.list_node(label_selector=f"suite={suite}", limit=1)
    c.node("after")
    c.api.call(lambda s: s.compact(expire_open_watches=False))
    code, body = api_error(
        lambda: c.core.list_node(label_selector=f"suite={suite}", limit=1, _continue=first.metadata._continue)
    )
    assert (code, body["reason"]) == (410, "Expired")


def exact_list_python(c: Clients) -> None:
    name = c.node("exact", v="1")
    at = c.core.list_node(field_selector=f"metadata.name={name}").metadata.resource_version
    c.core.patch_node(name, {"metadata": {"labels": {"v": "2"}}}, _content_type=MERGE)
    then = c.core.list_node(
        field_selector=f"metadata.name={name}", resource_version=at, resource_version_match="Exact"
    )
    assert then.metadata.resource_version == at
    assert then.items[0].metadata.labels == {"v": "1"}
    now = c.core.list_node(
        field_selector=f"metadata.name={name}", resource_version=at, resource_version_match="NotOlderThan"
    )
    assert now.items[0].metadata.labels == {"v": "2"}


def metadata_only_python(c: Clients) -> None:
    name = c.node("meta", m="1")
    c.api.call(
        lambda s: s.put_object(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": name, "labels": {"m": "1"}},
                "status": {"capacity": {"cpu": "4"}},
            }
        )
    )
    code, body = c.raw("GET", "/api/v1/nodes", accept=META_LIST, fieldSelector=f"metadata.name={name}")
    assert code == 200
    assert (body["kind"], body["apiVersion"]) == ("PartialObjectMetadataList", "meta.k8s.io/v1")
    (item,) = body["items"]
    assert sorted(item) == ["apiVersion", "kind", "metadata"]
    assert (item["kind"], item["metadata"]["labels"]) == ("PartialObjectMetadata", {"m": "1"})


def watch_kubectl(c: Clients) -> None:
    suite = f"watch{next(_serial)}"
    name = c.node(suite, suite=suite)
    command = [KUBECTL, "--kubeconfig", str(c.api.kubeconfig), "--cache-dir", str(c.cache)]
    command += ["get", "nodes", "-l", f"suite={suite}", "--watch", "-o", "name"]
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


def watch_list_python(c: Clients) -> None:
    suite = f"wl{next(_serial)}"
    names = sorted(c.node(suite, suite=suite) for _ in range(2))
    response = c.core.list_node(
        label_selector=f"suite={suite}",
        watch=True,
        send_initial_events=True,
        resource_version_match="NotOlderThan",
        allow_watch_bookmarks=True,
        timeout_seconds=1,
        _preload_content=False,
    )
    events = [json.loads(line) for line in response.read().splitlines() if line.strip()]
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events[:3]] == [
        ("ADDED", names[0]),
        ("ADDED", names[1]),
        ("BOOKMARK", None),
    ]
    assert events[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


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
    ("update-with-stale-resourceversion-is-409-conflict", "python", stale_update_python),
    ("merge-patch-rfc7386-null-removes", "kubectl", merge_patch_kubectl),
    ("merge-patch-rfc7386-null-removes", "python", merge_patch_python),
    ("json-patch-rfc6902-failed-test-is-422", "kubectl", json_patch_kubectl),
    ("json-patch-rfc6902-failed-test-is-422", "python", json_patch_python),
    ("server-side-apply-managers-conflicts-force", "kubectl", apply_kubectl),
    ("server-side-apply-managers-conflicts-force", "python", apply_python),
    ("delete-removes-the-object", "kubectl", delete_kubectl),
    ("delete-removes-the-object", "python", delete_python),
    ("list-limit-continue-pages-at-one-resourceversion", "kubectl", pages_kubectl),
    ("list-limit-continue-pages-at-one-resourceversion", "python", pages_python),
    ("list-expired-continue-token-is-410-expired", "python", expired_continue_python),
    ("list-resourceversionmatch-exact-and-notolderthan", "python", exact_list_python),
    ("list-metadata-only-partialobjectmetadatalist", "python", metadata_only_python),
    ("watch-starts-with-current-objects-then-changes", "kubectl", watch_kubectl),
    ("watch-from-resourceversion-replays-later-changes", "python", watch_python),
    ("watch-list-initial-events-then-annotated-bookmark", "python", watch_list_python),
]


@pytest.mark.parametrize(("run"), [pytest.param(run, id=f"{case}-{who}") for case, who, run in CASES])
def test_real_client(clients: Clients, run: Callable[[Clients], None]) -> None:
    run(clients)


def test_every_case_names_a_behaviour_and_a_client() -> None:
    assert len({(case, who) for case, who, _ in CASES}) == len(CASES)
    assert {who for _, who, _ in CASES} == {"kubectl", "python"}
