"""List pages (``limit``/``continue``) and metadata-only answers (``PartialObjectMetadata``).

Following the API concepts documentation ("Retrieving large results sets in chunks", "Receiving
resources as metadata"):

* ``limit=N`` returns at most N items and, when more remain, ``metadata.continue`` (an opaque token)
  and ``metadata.remainingItemCount``; every page carries the resourceVersion of the first page.
  A token older than the compaction window answers ``410 Gone`` (reason ``Expired``); a token that is
  not one of this server's answers ``400`` (it names the continue parameter).
* ``Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1`` on a list (and
  ``as=PartialObjectMetadata`` on a get or a watch) answers ``meta.k8s.io/v1`` objects holding only
  ``metadata``.

Simplification: later pages are cut from the current objects (sorted by key), not from a snapshot at
the first page's resourceVersion; a watch from that version replays whatever changed in between.
"""

from __future__ import annotations

import base64
import bisect
import copy
import json
from collections.abc import Callable
from typing import Any

import orjson

from kubeapi.status import ApiFailure
from kubeapi.store import Key, ResourceType, Store

__all__ = ["INITIAL_EVENTS_END", "list_body", "metadata_only", "partial_object", "watch_list_requested"]

_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can start a "
    "new list without the continue parameter."
)


def metadata_only(accept: str, kind: str) -> bool:
    """``accept`` asks for ``kind`` (PartialObjectMetadata or PartialObjectMetadataList) first."""
    first = accept.split(",", maxsplit=1)[0].replace(" ", "")
    return f"as={kind};" in first + ";" and "g=meta.k8s.io" in first


def json_copy(value: Any) -> Any:
    """A deep copy of JSON data, through orjson (about 10x cheaper than ``copy.deepcopy``, which
    made each page of a large list cost this server milliseconds); ``copy.deepcopy`` for what
    orjson cannot encode (an integer beyond 64 bits)."""
    try:
        return orjson.loads(orjson.dumps(value))
    except orjson.JSONEncodeError:
        return copy.deepcopy(value)


def partial_object(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadata",
        "metadata": json_copy(obj.get("metadata", {})),
    }


def _token(rv: int, start: Key) -> str:
    raw = json.dumps({"rv": rv, "start": list(start)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _untoken(text: str, res: ResourceType) -> tuple[int, Key]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        rv, start = int(raw["rv"]), tuple(str(part) for part in raw["start"])
    except (ValueError, KeyError, TypeError) as error:
        raise ApiFailure(
            400, f"invalid continue token: continue key is not valid: {error}", reason="BadRequest"
        ) from error
    if len(start) != 4 or start[:2] != (res.group, res.plural):
        raise ApiFailure(
            400,
            "invalid continue token: continue key is not valid: it belongs to another list",
            reason="BadRequest",
        )
    return rv, (start[0], start[1], start[2], start[3])


def _sorted_keys(store: Store, res: ResourceType) -> list[Key]:
    """The sorted keys of one resource, kept on the store until its next write (pages bisect into it)."""
    cached = store.sorted_keys.get((res.group, res.plural))
    if cached is None or cached[0] != store.rv:
        keys = sorted(k for k in store.objects if (k[0], k[1]) == (res.group, res.plural))
        cached = (store.rv, keys)
        store.sorted_keys[(res.group, res.plural)] = cached
    return cached[1]


def _list_rv(store: Store, res: ResourceType, query: dict[str, str]) -> tuple[int, dict[Key, Any] | None]:
    """The resourceVersion a list answers at, following "Semantics for get and list": unset ->
    most recent; ``NotOlderThan`` (or an rv without a match) -> at least that version; ``Exact`` ->
    exactly that version (410 Expired once compacted). Returns a snapshot for past versions."""
    match, since = query.get("resourceVersionMatch", ""), query.get("resourceVersion", "")
    if match and match not in ("NotOlderThan", "Exact"):
        raise ApiFailure.invalid_options(
            "resourceVersionMatch", match, 'supported values: "Exact", "NotOlderThan"'
        )
    if match and not since:
        raise ApiFailure.invalid_options(
            "resourceVersionMatch",
            match,
            "resourceVersionMatch is forbidden unless resourceVersion is provided",
        )
    if match and query.get("continue"):
        raise ApiFailure.invalid_options(
            "resourceVersionMatch", match, "resourceVersionMatch is forbidden when continue is provided"
        )
    if match == "Exact" and since == "0":
        raise ApiFailure.invalid_options(
            "resourceVersionMatch", match, 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'
        )
    if not since or since == "0":
        return store.rv, None
    try:
        wanted = int(since)
    except ValueError as error:
        raise ApiFailure(400, f"invalid resource version: {since!r}", reason="BadRequest") from error
    if wanted > store.rv:
        raise ApiFailure.too_large(since)
    if match != "Exact" or wanted == store.rv:
        return store.rv, None
    snapshot = store.objects_at(res, wanted)
    if snapshot is None:
        raise ApiFailure.expired(since, store.oldest_rv)
    return wanted, snapshot


def list_body(
    store: Store,
    res: ResourceType,
    namespace: str | None,
    query: dict[str, str],
    *,
    metadata: bool,
    selects: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any]:
    try:
        limit = int(query.get("limit") or 0)
    except ValueError as error:
        raise ApiFailure(400, f"limit: {error}", reason="BadRequest") from error
    token = query.get("continue", "")
    rv, snapshot = _list_rv(store, res, query)
    objects = store.objects if snapshot is None else snapshot
    keys = _sorted_keys(store, res) if snapshot is None else sorted(snapshot)
    start = 0
    if token:
        rv, after = _untoken(token, res)
        if rv < store.oldest_rv:
            raise ApiFailure(410, _EXPIRED, reason="Expired")
        start = bisect.bisect_right(keys, after)

    def wanted(key: Key) -> bool:
        return namespace in (None, key[2]) and (selects is None or selects(objects[key]))

    chosen: list[Key] = []
    index = start
    while index < len(keys) and (limit <= 0 or len(chosen) < limit):
        if wanted(keys[index]):
            chosen.append(keys[index])
        index += 1
    if limit <= 0:
        remaining = 0
    elif selects is None and (namespace is None or not res.namespaced):  # every key counts: no scan
        remaining = len(keys) - index
    else:
        remaining = sum(1 for k in keys[index:] if wanted(k))
    convert = partial_object if metadata else json_copy
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if remaining:
        meta["continue"] = _token(rv, chosen[-1])
        if selects is None:
            meta["remainingItemCount"] = remaining
    items = [convert(objects[k]) for k in chosen]
    for item in items:
        if not metadata:
            item["apiVersion"] = res.api_version
    return {
        "kind": "PartialObjectMetadataList" if metadata else f"{res.kind}List",
        "apiVersion": "meta.k8s.io/v1" if metadata else res.api_version,
        "metadata": meta,
        "items": items,
    }


INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def watch_list_requested(query: Any) -> bool:
    """``sendInitialEvents=true`` (the streaming watch-list), checked as ValidateListOptions does:
    it needs ``resourceVersionMatch=NotOlderThan`` and ``allowWatchBookmarks=true``; a
    ``resourceVersionMatch`` on a watch needs ``sendInitialEvents``."""
    send = query.get("sendInitialEvents", "")
    match = query.get("resourceVersionMatch", "")
    if send not in ("", "true", "false"):
        raise ApiFailure(400, f"sendInitialEvents: invalid value {send!r}", reason="BadRequest")
    if not send:
        if match:
            raise ApiFailure.invalid_options(
                "resourceVersionMatch",
                match,
                "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            )
        return False
    if match != "NotOlderThan":
        raise ApiFailure.invalid_options(
            "resourceVersionMatch",
            match,
            "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        )
    if query.get("allowWatchBookmarks") != "true":
        raise ApiFailure.invalid_options(
            "allowWatchBookmarks",
            query.get("allowWatchBookmarks", ""),
            "sendInitialEvents requires setting allowWatchBookmarks to true",
        )
    return bool(send == "true")
