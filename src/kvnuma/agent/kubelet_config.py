"""The kubelet's Topology Manager settings, read from its KubeletConfiguration file.

``/var/lib/kubelet/config.yaml`` (kubeadm's path; ``kubelet --config``) is a
``kubelet.config.k8s.io/v1beta1`` ``KubeletConfiguration``. Its ``topologyManagerPolicy``
(``none`` | ``best-effort`` | ``restricted`` | ``single-numa-node``) and ``topologyManagerScope``
(``container`` | ``pod``) become the NodeResourceTopology attributes; a field the file leaves out
has the kubelet's default (``none``, ``container``). Command-line flags of the kubelet
(``--topology-manager-policy``, deprecated) override the file and are not seen here.

Any problem (no file, not readable, not YAML, another kind, an unknown value) leaves both
attributes out and says why in one line: a missing attribute is honest, a wrong one is not.
"""

from __future__ import annotations

from pathlib import Path

from kvnuma.errors import InputError
from kvnuma.inputs import read_document
from kvnuma.topology.nrt import TopologyManager

__all__ = ["DEFAULT_KUBELET_CONFIG", "read_topology_manager"]

DEFAULT_KUBELET_CONFIG = Path("/var/lib/kubelet/config.yaml")
_KIND = "KubeletConfiguration"
_GROUP = "kubelet.config.k8s.io/"
_DEFAULTS = {"topologyManagerPolicy": "none", "topologyManagerScope": "container"}


def read_topology_manager(path: Path) -> tuple[TopologyManager, str]:
    """The settings in ``path`` and a one-line note: where they came from, or why they are unknown
    (then ``TopologyManager()``, so the attributes are left out)."""
    try:
        document = read_document(path)
        kind, api_version = document.get("kind"), document.get("apiVersion")
        if kind != _KIND or not isinstance(api_version, str) or not api_version.startswith(_GROUP):
            raise InputError(
                str(path), f"not a {_GROUP}* {_KIND} (kind {kind!r}, apiVersion {api_version!r})"
            )
        values = {}
        for field, default in _DEFAULTS.items():
            value = document.get(field, default)
            if not isinstance(value, str):
                raise InputError(f"{path}: {field}", f"expected a string, got {type(value).__name__}")
            values[field] = value
        manager = TopologyManager(values["topologyManagerPolicy"], values["topologyManagerScope"])
    except InputError as error:
        problem = (
            error.under(str(path)).one_line() if not error.source.startswith(str(path)) else error.one_line()
        )
        return TopologyManager(), f"{problem}; topology-manager attributes left out"
    defaulted = [field for field in _DEFAULTS if field not in document]
    note = f"{path}: policy {manager.policy}, scope {manager.scope}"
    if defaulted:
        note += f" (kubelet defaults for {', '.join(defaulted)})"
    return manager, note
