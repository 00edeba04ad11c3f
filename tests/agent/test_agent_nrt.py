"""``--publish-nrt`` with real parts: the API test server serving the published NodeResourceTopology
CRD (tests/fixtures/nrt, installed with kubectl as an admin would), the agent on a fake sysfs
host, a fake kubelet serving podresources from the kubelet's own api.proto, and the object read
back with kubectl and the official ``kubernetes`` client.

The host (agent_harness.host): two cells of 8 CPUs (cell 0: 0-3,8-11; cell 1: 4-7,12-15), 64 GiB
each, 512 x 2 MiB and 2 x 1 GiB pages each. The kubelet reserves CPUs 0 and 8 and lets the Memory
Manager hand out 60 GiB of memory and every huge page per node.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_harness import NODE_NAME, GiB, MiB, host, make_agent, write_tree
from aiohttp.test_utils import TestClient, TestServer
from google.protobuf import json_format
from kubernetes.client.exceptions import ApiException
from prometheus_client import generate_latest

from kubeapi.clients import Kubectl, ServedApi, body_of, k8s, kube_client
from kvnuma.admission.capacity import NodeCapacity
from kvnuma.agent.http import health_app
from kvnuma.agent.kubelet_config import read_topology_manager
from kvnuma.agent.podresources import read_kubelet_resources
from kvnuma.model.cpuset import CpuSet
from kvnuma.model.kubelet import KubeletResources
from kvnuma.topology.nrt import build_nrt
from kvnuma.webhook.nrt_digest import digest_nrt
from support.fake_kubelet import FakeKubelet, Generated, compile_podresources

CRD = Path(__file__).resolve().parents[1] / "fixtures" / "nrt" / "noderesourcetopologies.crd.yaml"
NRT = ("topology.node.k8s.io", "v1alpha2", "noderesourcetopologies")
PAGES = {2 * MiB: 512, GiB: 2}
KUBELET_CONFIG = """\
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cpuManagerPolicy: static
memoryManagerPolicy: Static
topologyManagerPolicy: single-numa-node
topologyManagerScope: pod
reservedSystemCPUs: "0,8"
"""


def _mem(kind: str, size: int, *nodes: int) -> dict[str, Any]:
    return {"memory_type": kind, "size": size, "topology": {"nodes": [{"ID": n} for n in nodes]}}


ALLOCATABLE = {
    "cpu_ids": [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15],
    "memory": [
        block
        for node in (0, 1)
        for block in (
            _mem("memory", 60 * GiB, node),
            _mem("hugepages-2Mi", GiB, node),
            _mem("hugepages-1Gi", 2 * GiB, node),
        )
    ],
}
VM_A = {
    "name": "virt-launcher-a",
    "namespace": "vms",
    "containers": [
        {
            "name": "compute",
            "cpu_ids": [2, 3, 10, 11],
            "memory": [_mem("memory", 8 * GiB, 0), _mem("hugepages-1Gi", GiB, 0)],
        }
    ],
}
VM_B = {  # the Memory Manager spread its memory over both nodes
    "name": "virt-launcher-b",
    "namespace": "vms",
    "containers": [{"name": "compute", "cpu_ids": [4, 5, 6, 7], "memory": [_mem("memory", 56 * GiB, 0, 1)]}],
}


@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return compile_podresources(tmp_path_factory.mktemp("podresources-pb"))


@pytest.fixture
def served() -> Iterator[ServedApi]:
    api = ServedApi()
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def kubectl(served: ServedApi, tmp_path: Path) -> Kubectl:
    tool = Kubectl(served.url, tmp_path)
    tool.ok("apply", "--validate=false", "-f", str(CRD))  # as an admin (or NFD's chart) installs it
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE_NAME}}
    served.on_loop(lambda: served.api.put_object(node))
    return tool


@pytest.fixture
def kubelet(gen: Generated) -> Iterator[FakeKubelet]:
    with tempfile.TemporaryDirectory(prefix="knrt", dir="/tmp") as folder:  # unix paths are short
        fake = FakeKubelet(
            f"{folder}/kubelet.sock",
            allocatable=json_format.ParseDict(ALLOCATABLE, gen.pb.AllocatableResourcesResponse()),
            listed=json_format.ParseDict({"pod_resources": [VM_A]}, gen.pb.ListPodResourcesResponse()),
        )
        with fake:
            yield fake


def nrt_agent(
    served: ServedApi, tmp_path: Path, socket: str, config_text: str | None = KUBELET_CONFIG
) -> Any:
    config = tmp_path / "kubelet-config.yaml"
    if config_text is not None:
        config.write_text(config_text)
    return make_agent(
        served.url,
        tmp_path,
        sysfs=write_tree(host(PAGES), tmp_path / "sys"),
        publish_nrt=True,
        read_kubelet=lambda: read_kubelet_resources(socket, timeout=5.0),
        topology_manager=lambda: read_topology_manager(config),
    )


def table(obj: dict[str, Any]) -> dict[str, dict[str, tuple[int, int, int]]]:
    """zone -> resource -> (capacity, allocatable, available), the quantities as integers."""
    return {
        zone["name"]: {
            r["name"]: (int(r["capacity"]), int(r["allocatable"]), int(r["available"]))
            for r in zone["resources"]
        }
        for zone in obj["zones"]
    }


HUGE = {"hugepages-2Mi": (GiB, GiB, GiB), "hugepages-1Gi": (2 * GiB, 2 * GiB, 2 * GiB)}
WITH_VM_A = {
    "node-0": {
        "cpu": (8, 6, 2),
        "memory": (64 * GiB, 60 * GiB, 52 * GiB),
        "hugepages-2Mi": (GiB, GiB, GiB),
        "hugepages-1Gi": (2 * GiB, 2 * GiB, GiB),
    },
    "node-1": {"cpu": (8, 8, 8), "memory": (64 * GiB, 60 * GiB, 60 * GiB), **HUGE},
}
WITH_VM_A_AND_B = {
    "node-0": {**WITH_VM_A["node-0"], "memory": (64 * GiB, 60 * GiB, 0)},
    "node-1": {"cpu": (8, 8, 4), "memory": (64 * GiB, 60 * GiB, 56 * GiB), **HUGE},
}


def read_back(served: ServedApi, kubectl: Kubectl) -> tuple[dict[str, Any], dict[str, Any]]:
    """The object as kubectl and as the kubernetes client see it."""
    by_kubectl = kubectl.ok("get", "noderesourcetopologies", NODE_NAME, "-o", "json").json()
    by_client = k8s.CustomObjectsApi(kube_client(served.url)).get_cluster_custom_object(*NRT, NODE_NAME)
    return by_kubectl, by_client


async def test_created_read_back_updated_on_change_and_left_alone_otherwise(
    served: ServedApi, kubectl: Kubectl, kubelet: FakeKubelet, tmp_path: Path
) -> None:
    agent, logs = nrt_agent(served, tmp_path, kubelet.path)
    async with agent.client or pytest.fail("no client"):
        first = await agent.cycle()
        assert first.ok, first.reason
        assert first.nrt is not None
        assert first.nrt.written == "created"
        by_kubectl, by_client = read_back(served, kubectl)
        node_uid = served.on_loop(lambda: served.api.get_object(f"Node/{NODE_NAME}"))["metadata"]["uid"]
        for obj in (by_kubectl, by_client):
            assert obj["apiVersion"] == "topology.node.k8s.io/v1alpha2"
            assert table(obj) == WITH_VM_A
            assert obj["attributes"] == [
                {"name": "topologyManagerPolicy", "value": "single-numa-node"},
                {"name": "topologyManagerScope", "value": "pod"},
            ]
            assert obj["metadata"]["ownerReferences"] == [
                {"apiVersion": "v1", "kind": "Node", "name": NODE_NAME, "uid": node_uid}
            ]
            assert [c["value"] for c in obj["zones"][0]["costs"]] == [10, 21]
        assert agent.last_nrt is not None
        assert by_kubectl["zones"] == agent.last_nrt["zones"]  # served as sent: nothing pruned
        # The webhook's NRT reader (--nrt=on) reads the same per-cell maxima as the annotations.
        node = served.on_loop(lambda: served.api.get_object(f"Node/{NODE_NAME}"))
        annotations = NodeCapacity.from_annotations(node["metadata"]["annotations"], source="node")
        assert annotations.problems == ()
        name, digest = digest_nrt(by_client)
        assert name == NODE_NAME
        assert digest == (
            annotations.cpus,
            annotations.memory_bytes,
            tuple(sorted(annotations.hugepages.items())),
            (),
        )
        printed = kubectl.ok("get", "node-res-topo").out  # the CRD's short name, a table
        assert NODE_NAME in printed
        created_rv = by_kubectl["metadata"]["resourceVersion"]

        again = await agent.cycle()  # nothing changed: nothing is written
        assert again.nrt is not None
        assert (again.ok, again.nrt.written) == (True, "")
        assert read_back(served, kubectl)[0]["metadata"]["resourceVersion"] == created_rv

        kubelet.listed = json_format.ParseDict(  # the kubelet starts a second VM
            {"pod_resources": [VM_A, VM_B]}, type(kubelet.listed)()
        )
        changed = await agent.cycle()
        assert changed.nrt is not None
        assert (changed.ok, changed.nrt.written) == (True, "updated")
        for obj in read_back(served, kubectl):
            assert table(obj) == WITH_VM_A_AND_B
            assert obj["metadata"]["resourceVersion"] != created_rv
    metrics = generate_latest(agent.metrics.registry).decode()
    assert 'kvnuma_agent_nrt_writes_total{verb="created"} 1.0' in metrics
    assert 'kvnuma_agent_nrt_writes_total{verb="updated"} 1.0' in metrics
    assert "kvnuma_agent_nrt_published 1.0" in metrics
    events = [line for line in logs.getvalue().splitlines() if '"nrt-' in line]
    assert [e.split('"event":"')[1].split('"')[0] for e in events] == [
        "nrt-created",
        "nrt-unchanged",
        "nrt-updated",
    ]


async def test_the_server_refuses_an_object_without_available(
    served: ServedApi, kubectl: Kubectl, tmp_path: Path
) -> None:
    """Why the agent never publishes without podresources: the schema requires ``available``."""
    preview = build_nrt(host(PAGES), node_name=NODE_NAME, node_uid=None)
    custom = k8s.CustomObjectsApi(kube_client(served.url))
    with pytest.raises(ApiException) as refused:
        custom.create_cluster_custom_object(*NRT, preview)
    assert refused.value.status == 422
    causes = body_of(refused.value)["details"]["causes"]
    assert causes
    assert all(cause["field"].endswith(".available") for cause in causes)
    assert {cause["reason"] for cause in causes} == {"FieldValueRequired"}
    ran = kubectl.run("create", "-f", "-", stdin=preview)
    assert ran.code != 0
    assert "available" in ran.err
    assert kubectl.run("get", "noderesourcetopologies", NODE_NAME).code != 0  # nothing stored


async def test_unreadable_podresources_publishes_nothing_and_says_so(
    served: ServedApi, kubectl: Kubectl, kubelet: FakeKubelet, tmp_path: Path
) -> None:
    missing = str(tmp_path / "no-kubelet.sock")
    agent, logs = nrt_agent(served, tmp_path, missing)
    async with agent.client or pytest.fail("no client"), TestClient(TestServer(health_app(agent))) as probe:
        result = await agent.cycle()
        assert not result.ok
        assert result.nrt is not None
        assert "podresources unreadable" in result.nrt.reason
        assert "no such socket" in result.nrt.reason
        health = await probe.get("/healthz")
        body = await health.json()
        assert health.status == 200  # the host is readable; restarting would not help
        assert body["nrt"].startswith("not published: kubelet podresources unreadable")
        missing_object = kubectl.run("get", "noderesourcetopologies", NODE_NAME)
        assert missing_object.code != 0
        assert "NotFound" in missing_object.err
        assert '"event":"nrt-not-published"' in logs.getvalue()
        metrics = generate_latest(agent.metrics.registry).decode()
        assert 'kvnuma_agent_nrt_errors_total{kind="podresources"} 1.0' in metrics
        assert "kvnuma_agent_nrt_published 0.0" in metrics

        # The kubelet appears: the next cycle publishes; it goes away: the last object stays.
        agent.read_kubelet = lambda: read_kubelet_resources(kubelet.path, timeout=5.0)
        assert (await agent.cycle()).ok
        kept = read_back(served, kubectl)[0]
        agent.read_kubelet = lambda: read_kubelet_resources(missing, timeout=5.0)
        assert not (await agent.cycle()).ok
        assert read_back(served, kubectl)[0] == kept
        assert (await (await probe.get("/healthz")).json())["nrt"].startswith("not published")


@pytest.mark.parametrize(
    ("config_text", "fragment"),
    [
        pytest.param("{not: [yaml", "malformed YAML", id="garbage"),
        pytest.param(None, "no such file", id="missing"),
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\n",
            "not a kubelet.config.k8s.io/* KubeletConfiguration",
            id="other-kind",
        ),
    ],
)
async def test_a_bad_kubelet_config_leaves_the_attributes_out_in_one_line(  # fixtures by keyword
    *,
    served: ServedApi,
    kubectl: Kubectl,
    kubelet: FakeKubelet,
    tmp_path: Path,
    config_text: str | None,
    fragment: str,
) -> None:
    agent, logs = nrt_agent(served, tmp_path, kubelet.path, config_text)
    async with agent.client or pytest.fail("no client"):
        assert (await agent.cycle()).ok
        assert (await agent.cycle()).ok
    lines = [line for line in logs.getvalue().splitlines() if '"event":"kubelet-config"' in line]
    assert len(lines) == 1  # said once, not every cycle
    assert fragment in lines[0]
    assert "attributes left out" in lines[0]
    for obj in read_back(served, kubectl):
        assert "attributes" not in obj
        assert table(obj) == WITH_VM_A


async def test_without_the_crd_one_line_names_it(
    served: ServedApi, kubelet: FakeKubelet, tmp_path: Path
) -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE_NAME}}
    served.on_loop(lambda: served.api.put_object(node))  # no CRD installed
    agent, logs = nrt_agent(served, tmp_path, kubelet.path)
    async with agent.client or pytest.fail("no client"):
        result = await agent.cycle()
    assert not result.ok
    assert result.nrt is not None
    assert "install the NodeResourceTopology CRD" in result.nrt.reason
    failures = [line for line in logs.getvalue().splitlines() if '"event":"nrt-publish-failed"' in line]
    assert len(failures) == 1
    assert '"kind":"not-found"' in failures[0]


async def test_a_failed_discovery_sends_no_nrt_and_keeps_the_last(
    served: ServedApi, kubectl: Kubectl, kubelet: FakeKubelet, tmp_path: Path
) -> None:
    agent, _ = nrt_agent(served, tmp_path, kubelet.path)
    async with agent.client or pytest.fail("no client"):
        assert (await agent.cycle()).ok
        kept = read_back(served, kubectl)[0]
        (tmp_path / "sys" / "devices" / "system" / "node" / "node1" / "cpulist").write_text("garbage\n")
        served.on_loop(served.api.requests.clear)
        failed = await agent.cycle()
    assert not failed.ok
    assert failed.nrt is None
    assert "discovery failed" in agent.nrt_state
    assert not [
        r for r in served.on_loop(lambda: list(served.api.requests)) if "noderesourcetopologies" in r.path
    ]
    assert read_back(served, kubectl)[0] == kept
    assert "kvnuma_agent_nrt_published 0.0" in generate_latest(agent.metrics.registry).decode()


async def test_a_conflict_on_update_is_retried_after_a_fresh_get(
    served: ServedApi, kubectl: Kubectl, kubelet: FakeKubelet, tmp_path: Path
) -> None:
    agent, logs = nrt_agent(served, tmp_path, kubelet.path)
    async with agent.client or pytest.fail("no client"):
        assert (await agent.cycle()).ok
        kubelet.listed = json_format.ParseDict({"pod_resources": [VM_A, VM_B]}, type(kubelet.listed)())
        served.on_loop(lambda: served.api.faults.fail_next("update", "noderesourcetopologies", 409))
        served.on_loop(served.api.requests.clear)
        result = await agent.cycle()
    assert result.nrt is not None
    assert (result.ok, result.nrt.written) == (True, "updated")
    verbs = [
        r.verb
        for r in served.on_loop(lambda: list(served.api.requests))
        if "noderesourcetopologies" in r.path
    ]
    assert verbs == ["get", "update", "get", "update"]  # the 409, then GET again and PUT
    assert '"event":"nrt-publish-retry"' in logs.getvalue()
    assert '"kind":"conflict"' in logs.getvalue()
    for obj in read_back(served, kubectl):
        assert table(obj) == WITH_VM_A_AND_B
    metrics = generate_latest(agent.metrics.registry).decode()
    assert 'kvnuma_agent_nrt_errors_total{kind="conflict"} 1.0' in metrics


def test_the_served_crd_prunes_unknown_fields_as_kube_apiserver_does(
    served: ServedApi, kubectl: Kubectl
) -> None:
    view = KubeletResources(CpuSet.parse("1-7,9-15"), (), CpuSet(), ())  # nothing held, no memory types
    sent = build_nrt(host(PAGES), node_name=NODE_NAME, node_uid="u-1", kubelet=view)
    extra = {**sent, "spec": {"madeUp": True}, "topologyPolicies": ["SingleNUMANodePodLevel"]}
    extra["zones"] = [{**sent["zones"][0], "madeUp": "x"}, *sent["zones"][1:]]
    strict = kubectl.run("create", "-f", "-", stdin=extra)  # kubectl's default: --validate=strict
    assert strict.code != 0
    assert 'strict decoding error: unknown field "spec", unknown field "zones[0].madeUp"' in strict.err
    warned = kubectl.ok("create", "--validate=warn", "-f", "-", stdin=extra)
    assert 'unknown field "spec"' in warned.err
    assert 'unknown field "zones[0].madeUp"' in warned.err
    for stored in read_back(served, kubectl):
        assert "spec" not in stored
        assert stored["zones"] == sent["zones"]  # madeUp pruned, the rest as sent
        assert stored["topologyPolicies"] == ["SingleNUMANodePodLevel"]  # declared (deprecated): kept
