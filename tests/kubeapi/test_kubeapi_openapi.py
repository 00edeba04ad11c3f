"""The test server's OpenAPI v3 (kubeapi/openapi.py): the discovery's hashes are the documents'
SHA-512, a document changes (and so its hash) when a CRD does, stale hashes redirect, and it is
truthful: every operation a document declares is served (run with ``dryRun=All``), and
``fieldValidation`` is declared exactly where the server prunes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from kubeapi.clients import kubevirt_crd
from kubeapi.server import KubeApiServer

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
KUBEVIRT_CR: dict[str, Any] = {
    "apiVersion": "kubevirt.io/v1",
    "kind": "KubeVirt",
    "metadata": {"name": "kubevirt", "namespace": "kubevirt"},
    "spec": {},
}


@pytest.fixture
async def api() -> AsyncIterator[KubeApiServer]:
    async with KubeApiServer() as server:
        server.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def documents(api: KubeApiServer, http: aiohttp.ClientSession) -> dict[str, tuple[str, Any]]:
    """path -> (hash, document), each fetched by its serverRelativeURL and checked against it."""
    async with http.get(api.url + "/openapi/v3") as response:
        assert response.status == 200
        paths = (await response.json())["paths"]
    out = {}
    for path, entry in paths.items():
        url = entry["serverRelativeURL"]
        async with http.get(api.url + url) as response:
            body = await response.read()
            assert response.status == 200
            assert response.headers["Cache-Control"] == "public, immutable"
        digest = hashlib.sha512(body).hexdigest().upper()
        assert url == f"/openapi/v3/{path}?hash={digest}"
        assert response.headers["Etag"] == f'"{digest}"'
        out[path] = (digest, json.loads(body))
    return out


def patch_parameters(doc: Any, path: str) -> set[str]:
    return {p["name"] for p in doc["paths"][path]["patch"]["parameters"]}


async def test_a_crd_changes_its_group_versions_document(
    api: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    before = await documents(api, http)
    assert sorted(before) == ["api/v1", "apis/apiextensions.k8s.io/v1", "apis/kubevirt.io/v1"]
    item = "/apis/kubevirt.io/v1/namespaces/{namespace}/kubevirts/{name}"
    # the built-in KubeVirt type is stored as sent: no fieldValidation, no schema
    assert "fieldValidation" not in patch_parameters(before["apis/kubevirt.io/v1"][1], item)
    async with http.post(api.url + CRDS, json=kubevirt_crd()) as response:
        assert response.status == 201
    after = await documents(api, http)
    assert sorted(after) == [*sorted(before), "apis/kubevirt.io/v1alpha3"]
    assert after["apis/kubevirt.io/v1"][0] != before["apis/kubevirt.io/v1"][0]
    assert after["api/v1"] == before["api/v1"]
    for path in ("apis/kubevirt.io/v1", "apis/kubevirt.io/v1alpha3"):
        doc = after[path][1]
        assert "fieldValidation" in patch_parameters(doc, item.replace("/v1/", f"/{path.split('/')[-1]}/"))
        version = path.split("/")[-1]
        schema = doc["components"]["schemas"][f"io.kubevirt.{version}.KubeVirt"]
        assert schema["x-kubernetes-group-version-kind"] == [
            {"group": "kubevirt.io", "version": version, "kind": "KubeVirt"}
        ]
    async with http.delete(api.url + CRDS + "/kubevirts.kubevirt.io") as response:
        assert response.status == 200
    assert sorted(await documents(api, http)) == ["api/v1", "apis/apiextensions.k8s.io/v1"]


async def test_a_stale_hash_redirects_and_no_hash_is_not_immutable(
    api: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    docs = await documents(api, http)
    current = f"/openapi/v3/api/v1?hash={docs['api/v1'][0]}"
    async with http.get(api.url + "/openapi/v3/api/v1?hash=0", allow_redirects=False) as response:
        assert (response.status, response.headers["Location"]) == (301, current)
    async with http.get(api.url + "/openapi/v3/api/v1") as response:
        assert response.status == 200
        assert "Cache-Control" not in response.headers
    async with http.get(api.url + "/openapi/v3/apis/nothing.example.com/v1") as response:
        assert (response.status, (await response.json())["reason"]) == (404, "NotFound")
    async with http.post(api.url + "/openapi/v3") as response:
        assert response.status == 405
    protobuf = {"Accept": "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"}
    async with http.get(api.url + "/openapi/v3/api/v1", headers=protobuf) as response:
        assert response.status == 406  # only the JSON form is served
    either = {"Accept": f"{protobuf['Accept']}, application/json;q=0.9"}
    async with http.get(api.url + "/openapi/v3/api/v1", headers=either) as response:
        assert (response.status, response.content_type) == (200, "application/json")


NAMES = {
    "nodes": "n1",
    "namespaces": "kubevirt",
    "customresourcedefinitions": "kubevirts.kubevirt.io",
    "kubevirts": "kubevirt",
}


def concrete(template: str) -> tuple[str, str]:
    """The path with its placeholders filled for the sample object; its plural."""
    parts = template.split("/")
    plural = next(p for p in reversed(parts) if p in NAMES)
    return template.replace("{namespace}", "kubevirt").replace("{name}", NAMES[plural]), plural


def another(sample: dict[str, Any], plural: str) -> dict[str, Any]:
    """A new object like ``sample`` (for a dry-run create)."""
    if plural == "customresourcedefinitions":
        crd = kubevirt_crd()
        crd["metadata"]["name"] = "others.kubevirt.io"
        crd["spec"]["names"] = {"plural": "others", "singular": "other", "kind": "Other"}
        return crd
    return {**sample, "metadata": {"name": "other", "namespace": sample["metadata"].get("namespace", "")}}


async def test_every_declared_operation_is_served(api: KubeApiServer, http: aiohttp.ClientSession) -> None:
    """Each (path, method) of every document answers 2xx; writes with dryRun=All (declared on
    every write), so nothing changes."""
    for path, made in (
        ("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kubevirt"}}),
        (CRDS, kubevirt_crd()),
        ("/apis/kubevirt.io/v1/namespaces/kubevirt/kubevirts", KUBEVIRT_CR),
    ):
        async with http.post(api.url + path, json=made) as response:
            assert response.status == 201, await response.text()
    before = api.resource_version
    answered = []
    for _, doc in (await documents(api, http)).values():
        for template, item in doc["paths"].items():
            path, plural = concrete(template)
            one = path if "{name}" in template else f"{path}/{NAMES[plural]}"
            async with http.get(api.url + one.removesuffix("/status")) as response:
                sample = await response.json()
            for method in sorted({"get", "post", "put", "patch", "delete"} & set(item)):
                declared = {p["name"] for p in item[method]["parameters"]}
                params = {} if method == "get" else {"dryRun": "All"}
                assert set(params) <= declared, (template, method)
                body: Any = {"post": another(sample, plural), "put": sample, "patch": {}}.get(method)
                headers = {"Content-Type": "application/merge-patch+json"} if method == "patch" else {}
                async with http.request(
                    method.upper(), api.url + path, params=params, json=body, headers=headers
                ) as response:
                    assert 200 <= response.status < 300, (template, method, await response.text())
                answered.append((template, method))
    assert api.resource_version == before  # every write was a dry run
    assert len(answered) == len(set(answered)) > 40
    assert ("/api/v1/nodes/{name}/status", "patch") in answered
    assert ("/apis/kubevirt.io/v1/namespaces/{namespace}/kubevirts", "post") in answered
    assert ("/apis/kubevirt.io/v1/kubevirts", "get") in answered


async def test_field_validation_is_declared_where_the_server_prunes(
    api: KubeApiServer, http: aiohttp.ClientSession
) -> None:
    """On the writes of custom resources with a schema (pruned), nowhere else (stored as sent)."""
    async with http.post(api.url + CRDS, json=kubevirt_crd()) as response:
        assert response.status == 201
    for path, (_, doc) in (await documents(api, http)).items():
        pruned = path.startswith("apis/kubevirt.io/")
        for item in doc["paths"].values():
            for method in ("post", "put", "patch"):
                if method in item:
                    names = {p["name"] for p in item[method]["parameters"]}
                    assert ("fieldValidation" in names) is pruned, (path, method)
                    assert {"dryRun", "fieldManager"} <= names
