# ruff: noqa: E501
"""Real clients against the API test server: kubectl and the official ``kubernetes`` Python client.

``ServedApi`` runs a ``KubeApiServer`` on its own event loop in a thread, so the blocking clients
(kubectl as a subprocess, the ``kubernetes`` client over urllib3) can drive it from a test;
``served.on_loop(fn)`` runs ``fn`` (e.g. ``api.compact``) on the server's loop.
``Kubectl(served.url, tmp_path)`` writes a kubeconfig for the server (plain HTTP) and runs
``/usr/bin/kubectl`` with ``--cache-dir`` in the test's directory. kubectl validates a custom
resource through the server (``fieldValidation``, declared in the server's /openapi/v3); for the
built-in kinds it would validate client-side against /openapi/v2, which the server does not serve,
so their writes pass ``--validate=false``. kubectl missing is a failure, never a skip.

``World`` is the real-client table's harness (test_kubeapi_real_clients.py): one server, kubectl
for it, the ``kubernetes`` client's ApiClient and the helpers the cases share.

``kubevirt_crd()`` is KubeVirt v1.6.0's ``kubevirts.kubevirt.io`` CRD as virt-operator installs it
(tests/fixtures/kubevirt, see its PROVENANCE.md), and ``install_kubevirt_crd(kubectl)`` installs
it the way an admin would (``kubectl apply``).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import kubernetes.client
import yaml
from kubernetes.client.exceptions import ApiException

from kubeapi.server import KubeApiServer

__all__ = [
    "KUBECTL",
    "KV",
    "Kubectl",
    "ServedApi",
    "World",
    "body_of",
    "install_kubevirt_crd",
    "kube_client",
    "kubevirt_crd",
]

KUBECTL = "/usr/bin/kubectl"
FIXTURE = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "kubevirt"
    / "kubevirts.kubevirt.io-v1.6.0-openapiv3.json"
)

KV = ("kubevirt.io", "v1", "kubevirt", "kubevirts")  # CustomObjectsApi's group, version, namespace, plural
T = TypeVar("T")
# The kubernetes client is driven with plain dicts (as it accepts them); its partial typing is not ours.
k8s: Any = kubernetes.client


def kubevirt_crd() -> dict[str, Any]:
    """The ``kubevirts.kubevirt.io`` CRD with KubeVirt v1.6.0's schema on both versions."""
    schema = json.loads(FIXTURE.read_text())["openAPIV3Schema"]

    def version(name: str, storage: bool) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": name,
            "served": True,
            "storage": storage,
            "schema": {"openAPIV3Schema": schema},
            "subresources": {"status": {}},
            "additionalPrinterColumns": [
                {"jsonPath": ".metadata.creationTimestamp", "name": "Age", "type": "date"},
                {"jsonPath": ".status.phase", "name": "Phase", "type": "string"},
            ],
        }
        if not storage:
            entry["deprecated"] = True
            entry["deprecationWarning"] = (
                "kubevirt.io/v1alpha3 is now deprecated and will be removed in a future release."
            )
        return entry

    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "kubevirts.kubevirt.io", "labels": {"operator.kubevirt.io": ""}},
        "spec": {
            "group": "kubevirt.io",
            "names": {
                "categories": ["all"],
                "kind": "KubeVirt",
                "plural": "kubevirts",
                "shortNames": ["kv", "kvs"],
                "singular": "kubevirt",
            },
            "scope": "Namespaced",
            "versions": [version("v1", True), version("v1alpha3", False)],
        },
    }


class ServedApi:
    """A KubeApiServer on a loop of its own (a daemon thread)."""

    def __init__(self, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.api = KubeApiServer(**options)
        self._run(self.api.start())

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(30)

    def on_loop(self, fn: Callable[[], T]) -> T:
        async def call() -> T:
            return fn()

        result: T = self._run(call())
        return result

    @property
    def url(self) -> str:
        return self.api.url

    def close(self) -> None:
        self._run(self.api.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def kube_client(url: str) -> kubernetes.client.ApiClient:
    config = kubernetes.client.Configuration()
    config.host = url
    return kubernetes.client.ApiClient(config)


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Kubectl:
    def __init__(self, url: str, directory: Path) -> None:
        if shutil.which(KUBECTL) is None:
            raise AssertionError(
                f"{KUBECTL} is missing: the real-client tests need kubectl (scripts/setup-system.sh installs it)"
            )
        self.directory = directory
        self.kubeconfig = directory / "kubeconfig"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "test", "cluster": {"server": url}}],
            "users": [{"name": "test", "user": {}}],
            "contexts": [
                {"name": "test", "context": {"cluster": "test", "user": "test", "namespace": "default"}}
            ],
            "current-context": "test",
        }
        self.kubeconfig.write_text(yaml.safe_dump(config))

    def run(self, *args: str, stdin: str | dict[str, Any] | None = None) -> Ran:
        if isinstance(stdin, dict):
            stdin = json.dumps(stdin)
        command = [
            KUBECTL,
            "--kubeconfig",
            str(self.kubeconfig),
            "--cache-dir",
            str(self.directory / "cache"),
            *args,
        ]
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60, check=False)
        return Ran(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, stdin: str | dict[str, Any] | None = None) -> Ran:
        ran = self.run(*args, stdin=stdin)
        assert ran.code == 0, f"kubectl {' '.join(args)} failed: {ran.err}"
        return ran


def install_kubevirt_crd(kubectl: Kubectl) -> dict[str, Any]:
    """``kubectl apply -f`` KubeVirt's CRD, as an admin installs it; the stored CRD."""
    kubectl.ok("apply", "--validate=false", "-f", "-", stdin=kubevirt_crd())
    stored: dict[str, Any] = kubectl.ok("get", "crd", "kubevirts.kubevirt.io", "-o", "json").json()
    return stored


def body_of(error: ApiException) -> Any:
    return json.loads(error.body or "null")


@dataclass
class World:
    """One API test server, kubectl for it (its own --cache-dir) and the kubernetes client."""

    served: ServedApi
    kubectl: Kubectl
    client: Any

    @property
    def core(self) -> Any:
        return k8s.CoreV1Api(self.client)

    @property
    def custom(self) -> Any:
        return k8s.CustomObjectsApi(self.client)

    @property
    def ext(self) -> Any:
        return k8s.ApiextensionsV1Api(self.client)

    @property
    def rv(self) -> int:
        return self.served.on_loop(lambda: self.served.api.resource_version)

    def node(self, name: str, labels: dict[str, str] | None = None) -> str:
        """A Node put in place by the test API (as an admin would, no checks); its name."""
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": labels or {}},
            "status": {"capacity": {"cpu": "4"}},
        }
        self.served.on_loop(lambda: self.served.api.put_object(body))
        return name

    def stored(self, ref: str) -> dict[str, Any]:
        """What the server stores for ``Kind/name`` or ``Kind/namespace/name``."""
        return self.served.on_loop(lambda: self.served.api.get_object(ref))

    def sent(self, verb: str, path_contains: str = "") -> list[Any]:
        """The requests the server recorded for ``verb`` (RecordedRequest)."""
        return self.served.on_loop(lambda: self.served.api.requests_for(verb, path_contains))

    def kubectl_command(self, *args: str) -> list[str]:
        cache = str(self.kubectl.directory / "cache")
        return [KUBECTL, "--kubeconfig", str(self.kubectl.kubeconfig), "--cache-dir", cache, *args]

    def raw(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        **query: Any,
    ) -> tuple[int, Any, Any]:
        """A request through the kubernetes client's own transport (ApiClient.call_api)."""
        url = self.served.url + path + ("?" + urlencode(query) if query else "")
        headers = {"Content-Type": content_type, "Accept": accept}
        try:
            response = self.client.call_api(method, url, header_params=headers, body=body)
            response.read()
        except ApiException as error:
            return int(error.status), body_of(error), error.headers
        return int(response.status), json.loads(response.data), response.getheaders()
