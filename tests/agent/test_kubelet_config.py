"""kvnuma.agent.kubelet_config: the Topology Manager settings from a KubeletConfiguration file;
any problem leaves both attributes out with one line saying why."""

from __future__ import annotations

from pathlib import Path

import pytest

from kvnuma.agent.kubelet_config import read_topology_manager
from kvnuma.topology.nrt import TopologyManager

HEAD = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"


@pytest.mark.parametrize(
    ("text", "manager", "fragment"),
    [
        pytest.param(
            HEAD + "topologyManagerPolicy: single-numa-node\ntopologyManagerScope: pod\n",
            TopologyManager("single-numa-node", "pod"),
            "policy single-numa-node, scope pod",
            id="both-set",
        ),
        pytest.param(
            HEAD + "topologyManagerPolicy: restricted\n",
            TopologyManager("restricted", "container"),
            "kubelet defaults for topologyManagerScope",
            id="scope-defaulted",
        ),
        pytest.param(
            HEAD + "cpuManagerPolicy: static\n",
            TopologyManager("none", "container"),
            "kubelet defaults for topologyManagerPolicy, topologyManagerScope",
            id="both-defaulted",
        ),
        pytest.param(
            '{"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration", '
            '"topologyManagerPolicy": "best-effort", "topologyManagerScope": "container"}',
            TopologyManager("best-effort", "container"),
            "policy best-effort",
            id="json",
        ),
        pytest.param(
            HEAD + "topologyManagerPolicy: static\n",
            TopologyManager(),
            "unknown policy 'static'",
            id="bad-policy",
        ),
        pytest.param(
            HEAD + "topologyManagerScope: [pod]\n",
            TopologyManager(),
            "expected a string, got list",
            id="bad-scope-type",
        ),
        pytest.param(
            "kind: KubeletConfiguration\n",
            TopologyManager(),
            "not a kubelet.config.k8s.io/*",
            id="no-api-version",
        ),
        pytest.param("- a\n- b\n", TopologyManager(), "expected an object", id="a-list"),
        pytest.param("key: [unclosed\n", TopologyManager(), "malformed YAML", id="garbage"),
        pytest.param("\x00\xff\xfe", TopologyManager(), "not UTF-8 text", id="binary"),
    ],
)
def test_read_topology_manager(tmp_path: Path, text: str, manager: TopologyManager, fragment: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="latin-1")
    got, note = read_topology_manager(path)
    assert got == manager
    assert fragment in note
    assert str(path) in note
    assert "\n" not in note
    if manager.policy is None:
        assert note.endswith("topology-manager attributes left out")


def test_a_missing_file(tmp_path: Path) -> None:
    got, note = read_topology_manager(tmp_path / "absent.yaml")
    assert got == TopologyManager()
    assert note == f"{tmp_path / 'absent.yaml'}: no such file; topology-manager attributes left out"
    assert note.endswith("attributes left out")
