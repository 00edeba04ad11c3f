"""The client's typed errors, patches and configuration sources."""

from __future__ import annotations

import base64
import json
import random
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeapi.server import KubeApiServer
from kvnuma.errors import InputError
from kvnuma.kube import NODES, ApiError, ClusterConfig, KubeClient, TransportError, load_config
from kvnuma.kube.backoff import Backoff


@pytest.fixture
async def client() -> AsyncIterator[tuple[KubeApiServer, KubeClient]]:
    async with KubeApiServer() as api, KubeClient(ClusterConfig(api.url)) as kube:
        api.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"x": "1"}}})
        yield api, kube


async def test_errors_are_typed(client: tuple[KubeApiServer, KubeClient]) -> None:
    api, kube = client
    with pytest.raises(ApiError) as missing:
        await kube.get(NODES, "nope")
    api.faults.fail_next("patch", "/nodes/n1", 429, retry_after=2)
    with pytest.raises(ApiError) as throttled:
        await kube.patch(NODES, "n1", {"metadata": {"labels": {"y": "2"}}})
    assert (missing.value.code, missing.value.reason, missing.value.kind) == (404, "NotFound", "not-found")
    assert not missing.value.retryable
    assert (throttled.value.kind, throttled.value.retry_after, throttled.value.retryable) == (
        "throttled",
        2.0,
        True,
    )


async def test_refused_is_a_transport_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with KubeClient(ClusterConfig(f"http://127.0.0.1:{port}")) as kube:
        with pytest.raises(TransportError) as refused:
            await kube.get(NODES, "n1")
    assert refused.value.kind == "refused"


async def test_json_patch_test_failure_is_422(client: tuple[KubeApiServer, KubeClient]) -> None:
    _, kube = client
    with pytest.raises(ApiError) as invalid:
        await kube.patch(
            NODES, "n1", [{"op": "test", "path": "/metadata/labels/x", "value": "2"}], patch_type="json"
        )
    assert (invalid.value.code, invalid.value.reason) == (422, "Invalid")


async def test_apply_with_a_field_manager(client: tuple[KubeApiServer, KubeClient]) -> None:
    api, kube = client

    def mine(**annotations: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "annotations": annotations}}

    await kube.apply(NODES, mine(a="1", b="2"), field_manager="kvnuma-agent")
    after = await kube.apply(NODES, mine(a="1"), field_manager="kvnuma-agent")
    assert after["metadata"]["annotations"] == {"a": "1"}
    assert after["metadata"]["labels"] == {"x": "1"}
    assert api.requests_for("patch")[-1].query == {"fieldManager": "kvnuma-agent"}


def test_in_cluster_config(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("tok-1\n")
    (tmp_path / "ca.crt").write_text("not used here")
    env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    config = ClusterConfig.in_cluster(env, tmp_path)
    (tmp_path / "token").write_text("tok-2\n")  # the kubelet rotates the token
    assert (config.server, config.bearer(), config.ca_file) == (
        "https://10.0.0.1:443",
        "tok-2",
        tmp_path / "ca.crt",
    )


def test_kubeconfig_current_context(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
        "contexts: [{name: test, context: {cluster: c, user: u}}]\n"
        f"clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:6443/', "
        f"certificate-authority-data: {base64.b64encode(b'PEM').decode()}}}}}]\n"
        "users: [{name: u, user: {token: secret}}]\n"
    )
    config = load_config(kubeconfig=kubeconfig, env={})
    assert (config.server, config.bearer()) == ("https://127.0.0.1:6443", "secret")
    assert config.ca_file is None  # inline data stays in memory: no temporary file
    assert config.ca_data == b"PEM"


@pytest.mark.parametrize(
    ("server", "env", "expected"),
    [
        pytest.param("http://x:1", {"KUBERNETES_SERVICE_HOST": "h"}, "http://x:1", id="server-wins"),
        pytest.param(None, {}, None, id="nothing"),
    ],
)
def test_load_config_precedence(server: str | None, env: dict[str, str], expected: str | None) -> None:
    if expected is None:
        with pytest.raises(InputError):
            load_config(server=server, env=env)
    else:
        assert load_config(server=server, env=env).server == expected


@given(
    st.integers(min_value=0, max_value=2**31),
    st.floats(0.01, 2),
    st.floats(2, 60),
    st.one_of(st.none(), st.floats(0, 100)),
)
def test_backoff_stays_within_its_bounds(
    seed: int, base: float, cap: float, retry_after: float | None
) -> None:
    backoff = Backoff(base=base, cap=cap, rng=random.Random(seed))
    delays = [backoff.next_delay(retry_after) for _ in range(12)]
    assert all(base <= d <= cap for d in delays)
    if retry_after is not None:
        assert all(d >= min(retry_after, cap) for d in delays)


async def test_a_watch_event_over_the_line_limit_is_a_transport_error(
    client: tuple[KubeApiServer, KubeClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, kube = client
    monkeypatch.setattr("kvnuma.kube.client.MAX_WATCH_LINE", 64 << 10)
    api.put_object(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "huge", "annotations": {"x": "y" * (80 << 10)}},
        }
    )
    received = kube.bytes_received
    with pytest.raises(TransportError, match="over 65536 bytes") as caught:
        async for _event in kube.watch(NODES, timeout_seconds=5):
            pass
    assert caught.value.kind == "bad-response"
    assert kube.bytes_received == received  # nothing counted for the event it refused


async def test_bytes_received_counts_list_bodies(client: tuple[KubeApiServer, KubeClient]) -> None:
    api, kube = client
    api.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "a"}})
    before = kube.bytes_received
    page = await kube.list_page(NODES, limit=500, metadata_only=True)
    assert [item["metadata"]["name"] for item in page.items] == ["a", "n1"]
    assert page.continue_token == ""
    assert page.resource_version == str(api.resource_version)
    assert kube.bytes_received - before >= len(json.dumps(page.items))


def test_inline_client_credentials_leave_no_file_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    import trustme

    ca = trustme.CA()
    client = ca.issue_cert("kvnuma-agent")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    config = ClusterConfig(
        "https://127.0.0.1:6443",
        ca_data=ca.cert_pem.bytes(),
        client_cert_data=client.cert_chain_pems[0].bytes(),
        client_key_data=client.private_key_pem.bytes(),
    )
    context = config.ssl_context()
    assert context is not None
    assert context.cert_store_stats()["x509_ca"] == 1
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(b"\x89\xff binary", "not UTF-8", id="binary"),
        pytest.param(b"clusters: [", "cannot read kubeconfig", id="malformed"),
        pytest.param(
            b"current-context: t\ncontexts: [{name: t, context: {cluster: c}}]\n"
            b"clusters: [{name: c, cluster: {server: 'not a url'}}]\n",
            "is not an API server URL",
            id="server-not-a-url",
        ),
        pytest.param(
            b"current-context: t\ncontexts: [{name: t, context: {cluster: c}}]\n"
            b"clusters: [{name: c, cluster: {server: 'https://h:1', certificate-authority-data: '%%%'}}]\n",
            "certificate-authority-data is not base64",
            id="data-not-base64",
        ),
    ],
)
def test_a_bad_kubeconfig_is_one_error(content: bytes, fragment: str, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_bytes(content)
    with pytest.raises(InputError) as caught:
        load_config(kubeconfig=kubeconfig, env={})
    assert fragment in caught.value.problem
    assert "\n" not in caught.value.one_line()


@pytest.mark.parametrize("server", ["not a url", "ftp://h", "https://", "https://h:99999"])
def test_a_server_that_is_not_a_url_fails_at_once(server: str) -> None:
    with pytest.raises(InputError, match="is not an API server URL"):
        load_config(server=server, env={})
