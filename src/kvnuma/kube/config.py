"""How to reach the API server: in-cluster service account, a kubeconfig file, or a plain URL.

In a pod (``KUBERNETES_SERVICE_HOST``/``KUBERNETES_SERVICE_PORT`` set) the token and CA come
from ``/var/run/secrets/kubernetes.io/serviceaccount``; the token file is re-read on every
request, since bound service-account tokens are rotated by the kubelet. A kubeconfig gives
the current context's cluster server and CA and the user's token or client certificate.

Credentials given inline (``certificate-authority-data``, ``client-certificate-data``,
``client-key-data``) stay in memory: the CA is handed to ``ssl`` as data, and the client pair,
which ``ssl`` can load only from files, is written into a private temporary folder (mode 0700)
just for ``load_cert_chain`` and deleted at once. A kubeconfig that is not UTF-8 text, not
YAML, or whose inline data is not base64 is one InputError naming the file.
"""

from __future__ import annotations

import base64
import binascii
import os
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from kvnuma.errors import InputError

__all__ = ["SERVICE_ACCOUNT_DIR", "ClusterConfig", "check_server", "load_config"]

_MAX_KUBECONFIG = 4 << 20

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
    ca_data: bytes | None = None
    client_cert_data: bytes | None = None
    client_key_data: bytes | None = None

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
        context = ssl.create_default_context(
            cafile=str(self.ca_file) if self.ca_file else None,
            cadata=self.ca_data.decode("ascii", "replace") if self.ca_data else None,
        )
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.client_cert_data is not None:
            with tempfile.TemporaryDirectory(prefix="kvnuma-kube-") as private:  # mode 0700, removed at once
                cert = _private_file(Path(private) / "cert.pem", self.client_cert_data)
                key = (
                    _private_file(Path(private) / "key.pem", self.client_key_data)
                    if self.client_key_data
                    else None
                )
                context.load_cert_chain(str(cert), str(key) if key else None)
        elif self.client_cert is not None:
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
            with path.open("rb") as handle:
                raw = handle.read(_MAX_KUBECONFIG + 1)
        except OSError as error:
            raise InputError(str(path), f"cannot read kubeconfig: {error.strerror or error}") from None
        if len(raw) > _MAX_KUBECONFIG:
            raise InputError(str(path), f"kubeconfig larger than {_MAX_KUBECONFIG >> 20} MiB")
        try:
            doc = yaml.safe_load(raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise InputError(
                str(path), f"kubeconfig is not UTF-8 text ({error.reason} at byte {error.start})"
            ) from None
        except yaml.YAMLError as error:
            problem = " ".join(str(getattr(error, "problem", None) or "malformed YAML").split())
            raise InputError(str(path), f"cannot read kubeconfig: {problem}") from None
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
            check_server(server, source=f"{path}: server"),
            token=user.get("token"),
            token_file=_path(user.get("tokenFile"), base),
            ca_file=_path(cluster.get("certificate-authority"), base),
            client_cert=_path(user.get("client-certificate"), base),
            client_key=_path(user.get("client-key"), base),
            insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
            ca_data=_data(cluster, "certificate-authority-data", path),
            client_cert_data=_data(user, "client-certificate-data", path),
            client_key_data=_data(user, "client-key-data", path),
        )


def load_config(
    *, server: str | None = None, kubeconfig: Path | None = None, env: Mapping[str, str] | None = None
) -> ClusterConfig:
    """``--server`` wins, then ``--kubeconfig``, then in-cluster, then ``$KUBECONFIG``."""
    env = os.environ if env is None else env
    if server:
        return ClusterConfig(check_server(server, source="--server"))
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


def _data(section: dict[str, Any], key: str, path: Path) -> bytes | None:
    data = section.get(key)
    if not data:
        return None
    try:
        return base64.b64decode(str(data), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(str(path), f"{key} is not base64") from None


def _private_file(path: Path, data: bytes) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def check_server(server: str, *, source: str) -> str:
    """``server`` without a trailing ``/``; InputError unless it is an http(s) URL with a host."""
    parts = urlsplit(server.strip())
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
        raise InputError(source, f"{server[:80]!r} is not an API server URL (https://HOST[:PORT])")
    return server.strip().rstrip("/")
