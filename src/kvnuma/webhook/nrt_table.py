"""The NodeResourceTopology side of the webhook's cache (``--nrt=on``).

Fed like the Node side (a ``kvnuma.kube.Reflector`` drives ``replacement()`` / ``on_event``), it
keeps per node only the digest of its NRT object (``kvnuma.webhook.nrt_digest``) and tells the
cache through ``on_change(node name, digest or None)`` whenever the digest a node's threshold
should use changes: a valid object's digest wins over the Node's annotations, None gives the
node back to its annotations (the object was deleted, became ignored, or the API went away).

An ignored object is logged in one line and reported through ``on_ignored`` (the metric
``kvnuma_webhook_nrt_ignored_total{reason}``) once each time it becomes ignored or its problem
changes, not on every re-list. A re-list is built beside the current table and swapped in
when complete (only the nodes whose digest differs are passed on).

Availability: ``settled`` turns true after the first list or the first failure, whichever comes
first, so readiness never waits longer for NRT; ``unavailable`` says why no object is read (the
CRD is not installed, RBAC forbids it, the API failed) until a list succeeds. A 404 or 403 drops
the table (the objects are gone or not ours to read); other failures keep it, as the Node cache
keeps the last good list.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kvnuma.webhook.min_counts import Digest
from kvnuma.webhook.nrt_digest import Ignored, NrtDigester, nrt_name

__all__ = ["NrtTable"]

_log = logging.getLogger("kvnuma.webhook")

ChangeCallback = Callable[[str, Digest | None], None]


class _NrtBuild:
    def __init__(self, table: NrtTable) -> None:
        self._table = table
        self._digests: dict[str, Digest] = {}
        self._ignored: dict[str, Ignored] = {}

    def add(self, objects: list[dict[str, Any]]) -> None:
        table = self._table
        for obj in objects:
            name, found = table._digest(obj)
            if isinstance(found, Ignored):
                table._report(found)
                self._ignored[name] = found
                self._digests.pop(name, None)
            elif name:
                self._digests[name] = found
                self._ignored.pop(name, None)

    def commit(self) -> None:
        self._table._commit(self._digests, self._ignored)


class NrtTable:
    def __init__(self, on_change: ChangeCallback) -> None:
        self.digests: dict[str, Digest] = {}
        self.ignored: dict[str, Ignored] = {}
        self.on_change = on_change
        self.on_ignored: Callable[[Ignored], None] = lambda _ignored: None
        self.listed = False  # a list is in the table (until the API goes away)
        self.settled = False
        self.unavailable = "not listed yet"
        self.lists = 0
        self.failures = 0  # failed lists and watches
        self._digest = NrtDigester()

    # --- the sink a Reflector feeds ---------------------------------------------------------
    def replacement(self) -> _NrtBuild:
        return _NrtBuild(self)

    def on_replace(self, objects: Iterable[Mapping[str, Any]]) -> None:
        build = _NrtBuild(self)
        build.add(list(objects))  # type: ignore[arg-type]
        build.commit()

    def on_event(self, event_type: str, obj: Mapping[str, Any]) -> None:
        if event_type in ("ADDED", "MODIFIED"):
            name, found = self._digest(obj)
            if isinstance(found, Ignored):
                self._report(found)
                self.ignored[name] = found
                self._set(name, None)
            elif name:
                self.ignored.pop(name, None)
                self._set(name, found)
        elif event_type == "DELETED":
            name = nrt_name(obj)
            self.ignored.pop(name, None)
            self._set(name, None)

    # --- the API's state --------------------------------------------------------------------
    def failed(self, problem: str, *, drop: bool) -> bool:
        """The list or watch failed with ``problem``; ``drop``: the objects are gone (404) or not
        ours to read (403). True when this changes what ``unavailable`` says (log it then)."""
        self.settled = True
        self.failures += 1
        if drop and (self.digests or self.ignored or self.listed):
            self._swap({}, {})
            self.listed = False
        if self.listed:
            return False  # the table still holds the last good list; the reflector re-lists
        changed = problem != self.unavailable
        self.unavailable = problem
        return changed

    # --- internals --------------------------------------------------------------------------
    def _report(self, ignored: Ignored) -> None:
        if self.ignored.get(ignored.name) == ignored:
            return
        _log.warning("%s; ignored, the Node's annotations are used", ignored.problem)
        self.on_ignored(ignored)

    def _set(self, name: str, digest: Digest | None) -> None:
        old = self.digests.get(name)
        if digest is None:
            if old is None:
                return
            del self.digests[name]
        elif old == digest:
            return
        else:
            self.digests[name] = digest
        self.on_change(name, digest)

    def _swap(self, digests: dict[str, Digest], ignored: dict[str, Ignored]) -> None:
        old = self.digests
        self.digests = digests
        self.ignored = ignored
        for name, digest in old.items():
            if digests.get(name) != digest:
                self.on_change(name, digests.get(name))
        for name, digest in digests.items():
            if name not in old:
                self.on_change(name, digest)

    def _commit(self, digests: dict[str, Digest], ignored: dict[str, Ignored]) -> None:
        was = self.unavailable
        self._swap(digests, ignored)
        self.listed = self.settled = True
        self.unavailable = ""
        self.lists += 1
        if was:
            _log.info(
                "NodeResourceTopology: listed %d objects (%d ignored); a valid one's capacity wins "
                "over its Node's annotations",
                len(digests) + len(ignored),
                len(ignored),
            )
