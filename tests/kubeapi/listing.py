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
from typing import Any

from kubeapi.status import ApiFailure
from kubeapi.store import Key, ResourceType, Store

__all__ = ["list_body", "metadata_only", "partial_object"]

_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can start a "
    "new list without the continue parameter."
)


def metadata_only(accept: str, kind: str) -> bool:
    """``accept`` asks for ``kind`` (PartialObjectMetadata or PartialObjectMetadataList) first."""
    first = accept.split(",", maxsplit=1)[0].replace(" ", "")
    return f"as={kind};" in first + ";" and "g=meta.k8s.io" in first


def partial_object(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadata",
        "metadata": copy.deepcopy(obj.get("metadata", {})),
    }


def _token(rv: int, start: Key) -> str:
    raw = json.dumps({"rv": rv, "start": list(start)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _untoken(text: str, res: ResourceType) -> tuple[int, Key]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        rv, start = int(raw["rv"]), tuple(str(part) for part in raw["start"])
    except (ValueError, KeyError, TypeError) as error:
        raise ApiFailure(400, f"continue key is not valid: {error}", reason="BadRequest") from error
    if len(start) != 4 or start[:2] != (res.group, res.plural):
        raise ApiFailure(400, "continue key is not valid: it belongs to another list", reason="BadRequest")
    return rv, (start[0], start[1], start[2], start[3])


class _Keys:
    """The sorted keys of one resource, kept until the next write (pages bisect into it)."""

    def __init__(self) -> None:
        self._at: tuple[int, str, str] | None = None
        self._keys: list[Key] = []

    def of(self, store: Store, res: ResourceType) -> list[Key]:
        at = (store.rv, res.group, res.plural)
        if at != self._at:
            self._keys = sorted(k for k in store.objects if (k[0], k[1]) == (res.group, res.plural))
            self._at = at
        return self._keys


_KEYS = _Keys()


def list_body(
    store: Store,
    res: ResourceType,
    namespace: str | None,
    query: dict[str, str],
    *,
    metadata: bool,
) -> dict[str, Any]:
    try:
        limit = int(query.get("limit") or 0)
    except ValueError as error:
        raise ApiFailure(400, f"limit: {error}", reason="BadRequest") from error
    token = query.get("continue", "")
    rv = store.rv
    keys = _KEYS.of(store, res)
    start = 0
    if token:
        rv, after = _untoken(token, res)
        if rv < store.oldest_rv:
            raise ApiFailure(410, _EXPIRED, reason="Expired")
        start = bisect.bisect_right(keys, after)
    chosen: list[Key] = []
    index = start
    while index < len(keys) and (limit <= 0 or len(chosen) < limit):
        if namespace in (None, keys[index][2]):
            chosen.append(keys[index])
        index += 1
    if limit <= 0:
        remaining = 0
    elif namespace is None:
        remaining = len(keys) - index
    else:
        remaining = sum(1 for k in keys[index:] if k[2] == namespace)
    convert = partial_object if metadata else copy.deepcopy
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if remaining:
        meta["continue"] = _token(rv, chosen[-1])
        meta["remainingItemCount"] = remaining
    return {
        "kind": "PartialObjectMetadataList" if metadata else f"{res.kind}List",
        "apiVersion": "meta.k8s.io/v1" if metadata else res.api_version,
        "metadata": meta,
        "items": [convert(store.objects[k]) for k in chosen],
    }
