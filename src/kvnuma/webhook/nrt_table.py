"""The NodeResourceTopology side of the webhook's cache (``--nrt=on``).

Fed like the Node side (a ``kvnuma.kube.Reflector`` drives ``replacement()`` / ``on_event``), it
keeps per node only the digest of its NRT object (``kvnuma.webhook.nrt_digest``) and tells the
cache through ``on_change(node name, digest or None)`` whenever the digest a node's threshold
should use changes: a valid object's digest wins over the Node's annotations, None gives the
node back to its annotations (the object was deleted, became ignored, or the API went away).

An ignored object is logged in one line and reported through ``on_ignored`` (the metric
``kvnuma_webhook_nrt_ignored_total{reason}``) once each time it becomes ignored or its problem
changes, not on every re-list. A list applies each object as it is read, as a watch event would
(each is the object's current state, so nothing half-built is ever served: a node is measured by
its current object or by its annotations), and when it is complete drops the objects it did not
see (deleted meanwhile); so the work of a list of 10,000 objects is spread over its steps rather
than done in one swap that would stall admission.

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
        self._seen: set[str] = set()

    def add(self, objects: list[dict[str, Any]]) -> None:
        upsert, seen = self._table._upsert, self._seen
        for obj in objects:
            seen.add(upsert(obj))

    def commit(self) -> None:
        self._table._commit(self._seen)


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
            self._upsert(obj)
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
            self._drop_unseen(set())
            self.listed = False
        if self.listed:
            return False  # the table still holds the last good list; the reflector re-lists
        changed = problem != self.unavailable
        self.unavailable = problem
        return changed

    # --- internals --------------------------------------------------------------------------
    def _upsert(self, obj: Mapping[str, Any]) -> str:
        name, found = self._digest(obj)
        if isinstance(found, Ignored):
            self._report(found)
            self.ignored[name] = found
            self._set(name, None)
        elif name:
            self.ignored.pop(name, None)
            self._set(name, found)
        return name

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

    def _drop_unseen(self, seen: set[str]) -> None:
        for name in [name for name in self.ignored if name not in seen]:
            del self.ignored[name]
        for name in [name for name in self.digests if name not in seen]:
            self._set(name, None)

    def _commit(self, seen: set[str]) -> None:
        was = self.unavailable
        self._drop_unseen(seen)
        self.listed = self.settled = True
        self.unavailable = ""
        self.lists += 1
        if was:
            _log.info(
                "NodeResourceTopology: listed %d objects (%d ignored); a valid one's capacity wins "
                "over its Node's annotations",
                len(seen - {""}),
                len(self.ignored),
            )
