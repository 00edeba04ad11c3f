"""``kvnuma discover -o nrt``: the NodeResourceTopology preview of a host, and with
``--podresources-socket`` the object the agent would publish (against the fake kubelet)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from google.protobuf import json_format

from kubeapi.crd import crd_schema, schema_errors
from kvnuma.cli import cli
from support.fake_kubelet import FakeKubelet, compile_podresources
from support.hostbuilder import GiB, MiB, render_sysfs, synthetic_host

CRD = Path(__file__).resolve().parents[1] / "fixtures" / "nrt" / "noderesourcetopologies.crd.yaml"
SCHEMA = crd_schema(yaml.safe_load(CRD.read_text()), "v1alpha2")


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["discover", *args], prog_name="kvnuma")
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    host = synthetic_host(
        cells=2, cores_per_cell=2, threads=2, memory_per_cell=8 * GiB, hugepages={2 * MiB: 512}
    )
    render_sysfs(host, tmp_path / "sys")
    return tmp_path / "sys"


@pytest.fixture
def kubelet_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    gen = compile_podresources(tmp_path_factory.mktemp("pb"))
    memory = [{"memory_type": "memory", "size": 6 * GiB, "topology": {"nodes": [{"ID": n}]}} for n in (0, 1)]
    listed = {
        "pod_resources": [{"name": "vm", "namespace": "d", "containers": [{"name": "c", "cpu_ids": [1, 5]}]}]
    }
    with tempfile.TemporaryDirectory(prefix="kdn", dir="/tmp") as folder:
        fake = FakeKubelet(
            f"{folder}/kubelet.sock",
            allocatable=json_format.ParseDict(
                {"cpu_ids": [1, 2, 3, 5, 6, 7], "memory": memory}, gen.pb.AllocatableResourcesResponse()
            ),
            listed=json_format.ParseDict(listed, gen.pb.ListPodResourcesResponse()),
        )
        with fake:
            yield fake.path


def test_preview_has_no_available_and_says_why(tree: Path) -> None:
    code, out, err = _run("--sysfs", str(tree), "-o", "nrt", "--node-name", "worker-0")
    assert code == 0
    obj = yaml.safe_load(out)
    assert obj["metadata"] == {"name": "worker-0"}
    assert [zone["name"] for zone in obj["zones"]] == ["node-0", "node-1"]
    resources = [r for zone in obj["zones"] for r in zone["resources"]]
    assert {r["name"] for r in resources} == {"cpu", "memory", "hugepages-2Mi"}
    assert all("available" not in r and r["allocatable"] == r["capacity"] for r in resources)
    assert len(err.strip().splitlines()) == 1
    assert "--podresources-socket" in err
    assert schema_errors(obj, SCHEMA)  # what the API server would refuse


def test_with_the_kubelet_socket_it_is_publishable(tree: Path, kubelet_socket: str, tmp_path: Path) -> None:
    config = tmp_path / "kubelet.yaml"
    config.write_text(
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
        "topologyManagerPolicy: restricted\n"
    )
    code, out, err = _run(
        "--sysfs", str(tree), "-o", "nrt", "--node-name", "w", "--podresources-socket", kubelet_socket,
        "--kubelet-config", str(config),
    )  # fmt: skip
    assert (code, err) == (0, "")
    obj = yaml.safe_load(out)
    cpu = {zone["name"]: next(r for r in zone["resources"] if r["name"] == "cpu") for zone in obj["zones"]}
    # cell 0 holds CPUs 0,1,4,5: allocatable 1,5 (0 and 4 reserved), both held by the VM
    assert cpu["node-0"] == {"name": "cpu", "capacity": "4", "allocatable": "2", "available": "0"}
    assert cpu["node-1"] == {"name": "cpu", "capacity": "4", "allocatable": "4", "available": "4"}
    assert obj["attributes"] == [
        {"name": "topologyManagerPolicy", "value": "restricted"},
        {"name": "topologyManagerScope", "value": "container"},
    ]
    assert {r["name"] for zone in obj["zones"] for r in zone["resources"]} == {"cpu", "memory"}  # no 2Mi view
    assert schema_errors(obj, SCHEMA) == []


def test_an_unreadable_socket_is_one_line_exit_2(tree: Path, tmp_path: Path) -> None:
    code, out, err = _run(
        "--sysfs", str(tree), "-o", "nrt", "--podresources-socket", str(tmp_path / "none.sock")
    )
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "none.sock: no such socket" in err
