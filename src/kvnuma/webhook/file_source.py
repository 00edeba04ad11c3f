"""``--source file:DIR``: a cluster in a folder.

Every ``*.yaml``/``*.yml``/``*.json`` file in DIR (not recursive) may hold Nodes, KubeVirt CRs, or
``kind: List`` / ``NodeList`` / ``KubeVirtList`` documents of them, and with ``--nrt=on``
NodeResourceTopology objects (or a ``NodeResourceTopologyList``); other kinds are ignored. Loading
replaces the cache's contents, exactly as a re-list would. ``FolderWatch`` tells when a file in the
folder changed so a server can reload without a restart.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kvnuma.errors import InputError
from kvnuma.inputs import read_documents
from kvnuma.webhook.cache import ClusterCache

__all__ = ["FolderWatch", "load_folder", "parse_source"]

_SUFFIXES = (".yaml", ".yml", ".json")


def parse_source(text: str) -> Path | None:
    """``file:DIR`` -> DIR; ``kube`` -> None; anything else is an InputError."""
    if text == "kube":
        return None
    if text.startswith("file:") and len(text) > len("file:"):
        return Path(text[len("file:") :])
    raise InputError("--source", f"expected 'kube' or 'file:DIR', got {text!r}")


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise InputError(str(folder), "not a directory (expected a folder of Node/KubeVirt YAML or JSON)")
    return sorted(p for p in folder.iterdir() if p.suffix in _SUFFIXES and p.is_file())


def _objects(doc: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    kind = doc.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
        for item in doc["items"]:
            if isinstance(item, Mapping):
                inner = dict(item)
                if "kind" not in inner and kind != "List":
                    inner["kind"] = kind[: -len("List")]
                yield inner
    else:
        yield doc


def load_folder(folder: Path, cache: ClusterCache) -> tuple[int, int]:
    """Replace the cache's Nodes and KubeVirt CRs with the folder's; (nodes, kubevirts) read.

    All or nothing: every file is read and every object built beside the current cache before
    either is committed, so a malformed folder leaves the last good cluster in place. Any
    failure is one InputError naming the folder or file."""
    nodes: list[dict[str, Any]] = []
    kubevirts: list[dict[str, Any]] = []
    nrts: list[dict[str, Any]] = []
    for path in _files(folder):
        for doc in read_documents(path):
            for obj in _objects(doc):
                if obj.get("kind") == "Node":
                    nodes.append(dict(obj))
                elif obj.get("kind") == "KubeVirt":
                    kubevirts.append(dict(obj))
                elif obj.get("kind") == "NodeResourceTopology":
                    nrts.append(dict(obj))
    node_build = cache.nodes.replacement()
    kubevirt_build = cache.kubevirts.replacement()
    nrt_build = cache.nrt.replacement() if cache.nrt is not None else None
    try:
        if nrt_build is not None:
            nrt_build.add(nrts)
        node_build.add(nodes)
        kubevirt_build.add(kubevirts)
    except InputError as error:
        raise error.under(str(folder)) from None
    except Exception as error:  # a malformed object the cache could not take
        problem = " ".join(str(error).split())[:200]
        raise InputError(
            str(folder), f"malformed Node or KubeVirt object ({type(error).__name__}: {problem})"
        ) from None
    if nrt_build is not None:
        nrt_build.commit()
    node_build.commit()
    kubevirt_build.commit()
    return len(nodes), len(kubevirts)


class FolderWatch:
    """Changes of the folder's files, by (name, size, mtime); ``changed()`` is true once per change."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._seen = self._signature()

    def _signature(self) -> tuple[tuple[str, int, int], ...]:
        try:
            entries = []
            for path in _files(self._folder):
                stat = os.stat(path)
                entries.append((path.name, stat.st_size, stat.st_mtime_ns))
            return tuple(entries)
        except (InputError, OSError):
            return ()

    def changed(self) -> bool:
        now = self._signature()
        if now == self._seen:
            return False
        self._seen = now
        return True
