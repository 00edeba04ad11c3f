"""How to reach the API server: in-cluster service account, a kubeconfig file, or a plain URL.

In a pod (``KUBERNETES_SERVICE_HOST``/``KUBERNETES_SERVICE_PORT`` set) the token and CA come
from ``/var/run/secrets/kubernetes.io/serviceaccount``; the token file is re-read on every
request, since bound service-account tokens are rotated by the kubelet. A kubeconfig gives
the current context's cluster server and CA and the user's token or client certificate.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kvnuma.errors import InputError

__all__ = ["SERVICE_ACCOUNT_DIR", "ClusterConfig", "load_config"]

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class ClusterConfig:
    server: str
    token: str | None = None
    token_file: Path | None = None
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    insecure: bool = False

    def bearer(self) -> str | None:
        if self.token_file is not None:
            try:
                return self.token_file.read_text().strip()
            except OSError:
                return self.token
        return self.token

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.server.startswith("https://"):
            return None
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.client_cert is not None:
            context.load_cert_chain(str(self.client_cert), str(self.client_key) if self.client_key else None)
        return context

    @classmethod
    def in_cluster(cls, env: Mapping[str, str], account_dir: Path = SERVICE_ACCOUNT_DIR) -> ClusterConfig:
        host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
        if not host or not port:
            raise InputError("KUBERNETES_SERVICE_HOST", "not running in a cluster (service host/port unset)")
        token_file = account_dir / "token"
        if not token_file.is_file():
            raise InputError(str(token_file), "service account token not found")
        ca = account_dir / "ca.crt"
        host = f"[{host}]" if ":" in host else host
        return cls(f"https://{host}:{port}", token_file=token_file, ca_file=ca if ca.is_file() else None)

    @classmethod
    def from_kubeconfig(cls, path: Path, context: str | None = None) -> ClusterConfig:
        try:
            doc = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as error:
            raise InputError(str(path), f"cannot read kubeconfig: {error}") from error
        if not isinstance(doc, dict):
            raise InputError(str(path), "kubeconfig is not a mapping")
        wanted = context or doc.get("current-context")
        ctx = _named(doc, "contexts", wanted, path).get("context", {})
        cluster = _named(doc, "clusters", ctx.get("cluster"), path).get("cluster", {})
        user = _named(doc, "users", ctx.get("user"), path).get("user", {}) if ctx.get("user") else {}
        server = cluster.get("server")
        if not isinstance(server, str) or not server:
            raise InputError(str(path), "the current context's cluster has no server")
        base = path.parent
        return cls(
            server.rstrip("/"),
            token=user.get("token"),
            token_file=_path(user.get("tokenFile"), base),
            ca_file=_file_or_data(cluster, "certificate-authority", base),
            client_cert=_file_or_data(user, "client-certificate", base),
            client_key=_file_or_data(user, "client-key", base),
            insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        )


def load_config(
    *, server: str | None = None, kubeconfig: Path | None = None, env: Mapping[str, str] | None = None
) -> ClusterConfig:
    """``--server`` wins, then ``--kubeconfig``, then in-cluster, then ``$KUBECONFIG``."""
    env = os.environ if env is None else env
    if server:
        return ClusterConfig(server.rstrip("/"))
    if kubeconfig is not None:
        return ClusterConfig.from_kubeconfig(kubeconfig)
    if env.get("KUBERNETES_SERVICE_HOST"):
        return ClusterConfig.in_cluster(env)
    if env.get("KUBECONFIG"):
        return ClusterConfig.from_kubeconfig(Path(env["KUBECONFIG"].split(os.pathsep)[0]))
    raise InputError("--server/--kubeconfig", "no API server given and not running in a cluster")


def _named(doc: dict[str, Any], section: str, name: Any, path: Path) -> dict[str, Any]:
    for entry in doc.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    raise InputError(str(path), f"no {section[:-1]} named {name!r}")


def _path(value: Any, base: Path) -> Path | None:
    if not value:
        return None
    candidate = Path(str(value))
    return candidate if candidate.is_absolute() else base / candidate


def _file_or_data(section: dict[str, Any], key: str, base: Path) -> Path | None:
    data = section.get(f"{key}-data")
    if data:
        handle = tempfile.NamedTemporaryFile(prefix="kvnuma-kube-", suffix=".pem", delete=False)  # noqa: SIM115
        with handle:
            handle.write(base64.b64decode(data))
        return Path(handle.name)
    return _path(section.get(key), base)
