"""On a real cluster KubeVirt's own CRD prunes the VEP 135 field, and the annotation still works.

The API test server is given KubeVirt v1.6.0's structural schema for ``kubevirts.kubevirt.io``
(tests/fixtures/kubevirt/, see its PROVENANCE.md); the KubeVirt CR is created over HTTP as a user's
``kubectl create`` would, with the VEP field set; the webhook list-watches the server. Then the
README's ``kubectl annotate`` command, run by the real kubectl, turns auto-NUMA on.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from test_webhook_chain import node, passthrough, vmi
from webhook_harness import RunningWebhook, eventually, kube_webhook

from kubeapi.server import KubeApiServer

FIXTURE = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "kubevirt"
    / "kubevirts.kubevirt.io-v1.6.0-openapiv3.json"
)
KUBEVIRTS = "/apis/kubevirt.io/v1/namespaces/kubevirt/kubevirts"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
AS_A_USER_WRITES_IT: dict[str, Any] = {
    "apiVersion": "kubevirt.io/v1",
    "kind": "KubeVirt",
    "metadata": {"name": "kubevirt", "namespace": "kubevirt"},
    "spec": {
        "configuration": {
            "developerConfiguration": {"featureGates": ["CPUManager", "NUMA"], "autoNUMAEnablement": True}
        },
        "madeUpTopLevelField": "x",
    },
}


@pytest.fixture
async def api() -> AsyncIterator[KubeApiServer]:
    async with KubeApiServer(bookmark_interval=0.2) as server:
        server.install_schema("KubeVirt", json.loads(FIXTURE.read_text())["openAPIV3Schema"])
        server.put_object(node("worker-a", 16))
        async with (
            aiohttp.ClientSession() as session,
            session.post(server.url + KUBEVIRTS, json=AS_A_USER_WRITES_IT) as created,
        ):
            assert created.status == 201, await created.text()
        yield server


@pytest.fixture
async def hook(api: KubeApiServer, tmp_path: Path) -> AsyncIterator[RunningWebhook]:
    async with kube_webhook(api.url, tmp_path) as running:
        yield running


async def kubectl(api: KubeApiServer, tmp_path: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        KUBECTL, "--server", api.url, "--cache-dir", str(tmp_path / "kubectl-cache"), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


def test_the_schema_declares_no_vep_field() -> None:
    schema = json.loads(FIXTURE.read_text())["openAPIV3Schema"]
    developer = schema["properties"]["spec"]["properties"]["configuration"]["properties"][
        "developerConfiguration"
    ]
    assert "featureGates" in developer["properties"]
    assert "autoNUMAEnablement" not in developer["properties"]
    assert "x-kubernetes-preserve-unknown-fields" not in FIXTURE.read_text()


async def test_the_field_is_pruned_and_the_annotation_switches_it_on(
    api: KubeApiServer, hook: RunningWebhook, tmp_path: Path
) -> None:
    stored = api.get_object("KubeVirt/kubevirt/kubevirt")
    assert stored["spec"] == {
        "configuration": {"developerConfiguration": {"featureGates": ["CPUManager", "NUMA"]}}
    }
    cache = hook.server.state.cache
    assert not cache.enabled  # the VEP field never reached the webhook
    assert cache.switch.source.value == "default"
    assert not passthrough((await hook.create_vmi(vmi(20)))[0])

    said = await kubectl(api, tmp_path, "annotate", "kubevirt", "kubevirt", "-n", "kubevirt",
                         "kvnuma.io/auto-numa=true", "--overwrite")  # fmt: skip
    assert "annotated" in said
    await eventually(lambda: cache.enabled)
    assert cache.switch.source.value == "annotation"
    stored, answer = await hook.create_vmi(vmi(20))
    assert passthrough(stored)
    assert "vCPUs 20 > 16" in answer["response"]["warnings"][0]
    assert "auto-NUMA on (annotation: kvnuma.io/auto-numa=true" in (await hook.get("/readyz"))[1]
    assert "autoNUMAEnablement" not in json.dumps(api.get_object("KubeVirt/kubevirt/kubevirt"))
