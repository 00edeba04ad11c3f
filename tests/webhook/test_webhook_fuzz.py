"""Random AdmissionReviews against the running server: never a 500, always a well-formed answer."""

from __future__ import annotations

import asyncio
import http.client
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webhook_harness import running_webhook

from kvnuma.webhook.handlers import MUTATE_PATH
from kvnuma.webhook.server import folder_source

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.text(max_size=12)
)
_quantities = st.one_of(st.from_regex(r"\A[0-9]{1,25}(\.[0-9]{0,3})?(Ki|Mi|Gi|Ti|Ei|m|k|e9)?\Z"), _scalars)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
_cpu = st.fixed_dictionaries(
    {},
    optional={
        "cores": st.one_of(st.integers(-2, 300), _scalars),
        "sockets": st.integers(0, 300),
        "threads": st.one_of(st.integers(0, 5), _scalars),
        "dedicatedCpuPlacement": st.one_of(st.booleans(), _scalars),
        "numa": st.one_of(st.just({}), st.just({"guestMappingPassthrough": {}}), _json),
    },
)
_domain = st.fixed_dictionaries(
    {},
    optional={
        "cpu": st.one_of(_cpu, _scalars),
        "memory": st.fixed_dictionaries(
            {}, optional={"guest": _quantities, "hugepages": st.one_of(st.just({"pageSize": "1Gi"}), _json)}
        ),
        "resources": st.fixed_dictionaries(
            {}, optional={"requests": st.dictionaries(st.sampled_from(["cpu", "memory"]), _quantities)}
        ),
    },
)
_object = st.one_of(
    st.fixed_dictionaries(
        {
            "apiVersion": st.just("kubevirt.io/v1"),
            "kind": st.just("VirtualMachineInstance"),
            "spec": st.fixed_dictionaries({"domain": _domain}),
        }
    ),
    _json,
)
_request = st.fixed_dictionaries(
    {
        "uid": st.one_of(st.uuids().map(str), _scalars),
        "kind": st.one_of(
            st.just({"group": "kubevirt.io", "version": "v1", "kind": "VirtualMachineInstance"}), _json
        ),
        "operation": st.sampled_from(["CREATE", "UPDATE", "DELETE", ""]),
        "object": _object,
    },
    optional={"dryRun": _scalars},
)
_review = st.one_of(
    st.fixed_dictionaries(
        {
            "apiVersion": st.sampled_from(["admission.k8s.io/v1", "admission.k8s.io/v1beta1"]),
            "kind": st.sampled_from(["AdmissionReview", "Pod"]),
            "request": st.one_of(_request, _scalars),
        }
    ),
    _json,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Any]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(EXAMPLES / "cluster", tmp / "cluster")
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop = asyncio.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        async with running_webhook(tmp, source=folder_source(tmp / "cluster")) as hook:
            box["port"], box["ssl"] = hook.server.port, hook.ssl
            started.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(30)
    yield box["port"], box["ssl"]
    loop.call_soon_threadsafe(stop.set)
    thread.join(30)
    loop.close()


def _post(server: tuple[int, Any], body: bytes) -> tuple[int, Any]:
    port, context = server
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    try:
        connection.request("POST", MUTATE_PATH, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, orjson.loads(response.read())
    finally:
        connection.close()


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(review=_review)
def test_random_reviews_never_500(server: tuple[int, Any], review: Any) -> None:
    status, answer = _post(
        server, orjson.dumps(review, option=orjson.OPT_NON_STR_KEYS) if _encodable(review) else b"{"
    )
    assert status in (200, 400)
    if status == 200:
        assert answer["apiVersion"] == "admission.k8s.io/v1"
        assert answer["response"]["uid"] == review["request"]["uid"]
        assert all(isinstance(w, str) and len(w) <= 120 for w in answer["response"].get("warnings", []))
    else:
        assert answer["kind"] == "Status"
        assert answer["message"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300))
def test_random_bytes_never_500(server: tuple[int, Any], body: bytes) -> None:
    status, answer = _post(server, body)
    assert (status, answer["kind"]) in ((200, "AdmissionReview"), (400, "Status"))


def _encodable(value: Any) -> bool:
    try:
        orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        return False
    return True
