"""The test server's storage: objects, one global resourceVersion, history, watchers, ownership.

Every write bumps the global ``resourceVersion`` (as etcd's revision does), stamps it on the
object and appends the event to the history that watches replay from. ``compact()`` drops the
history: watches from older versions then get ``410 Gone`` (reason ``Expired``).
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kubeapi.patches import FieldPath, fields_v1, get_path, is_missing, leaf_paths, remove_path
from kubeapi.pruning import prune_object
from kubeapi.status import ApiFailure

__all__ = ["KUBEVIRT", "NAMESPACE", "NODE", "Event", "ResourceType", "Store", "Watcher"]


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = (
        "get",
        "list",
        "watch",
        "patch",
        "create",
        "update",
        "delete",
        "deletecollection",
    )
    status: bool = False  # a /status subresource: writes to the main resource keep status
    custom: bool = False  # served from a CustomResourceDefinition (pruned, no strategic merge)
    short_names: tuple[str, ...] = ()
    singular: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


NODE = ResourceType("", "v1", "nodes", "Node", namespaced=False, status=True)
NAMESPACE = ResourceType(
    "", "v1", "namespaces", "Namespace", namespaced=False, status=True, short_names=("ns",)
)
KUBEVIRT = ResourceType("kubevirt.io", "v1", "kubevirts", "KubeVirt", namespaced=True)

Key = tuple[str, str, str, str]  # (group, plural, namespace, name)
Owner = tuple[str, str]  # (manager, operation)


@dataclass(frozen=True)
class Event:
    rv: int
    resource: ResourceType
    namespace: str
    type: str
    obj: dict[str, Any]
    old: dict[str, Any] | None = None


def _everything(obj: dict[str, Any]) -> bool:
    return True


@dataclass(eq=False)
class Watcher:
    resource: ResourceType
    namespace: str | None
    bookmarks: bool
    selects: Callable[[dict[str, Any]], bool] = _everything
    queue: asyncio.Queue[tuple[str, Any]] = field(default_factory=asyncio.Queue)

    def matches(self, event: Event) -> bool:
        return self.seen(event) is not None

    def seen(self, event: Event) -> Event | None:
        """The event as this watch sees it: with a selector, an object that starts matching is
        ADDED and one that stops matching is DELETED (as the watch cache answers)."""
        if (event.resource.group, event.resource.plural) != (self.resource.group, self.resource.plural):
            return None
        if self.namespace not in (None, event.namespace):
            return None
        now = self.selects(event.obj) and event.type != "DELETED"
        before = event.old is not None and self.selects(event.old)
        if event.type == "DELETED":
            return event if self.selects(event.obj) else None
        if now and before:
            return event
        if now:
            return Event(event.rv, event.resource, event.namespace, "ADDED", event.obj, event.old)
        if before:
            return Event(event.rv, event.resource, event.namespace, "DELETED", event.obj, event.old)
        return None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    def __init__(self, resources: list[ResourceType], first_rv: int = 1000) -> None:
        self.resources = resources
        self.rv = first_rv
        self.oldest_rv = first_rv  # watches from below this are expired
        self.objects: dict[Key, dict[str, Any]] = {}
        self.owners: dict[Key, dict[Owner, set[FieldPath]]] = {}
        self.history: list[Event] = []
        self.watchers: set[Watcher] = set()
        self.sorted_keys: dict[tuple[str, str], tuple[int, list[Key]]] = {}  # listing's page index
        self.schemas: dict[tuple[str, str], dict[str, Any]] = {}  # (group, plural) -> structural schema

    # --- lookups ------------------------------------------------------------------------
    def resource(self, group: str, version: str, plural: str) -> ResourceType | None:
        for res in self.resources:
            if (res.group, res.version, res.plural) == (group, version, plural):
                return res
        return None

    def by_kind(self, api_version: str, kind: str) -> ResourceType:
        for res in self.resources:
            if res.kind == kind and api_version in (res.api_version, ""):
                return res
        raise KeyError(f"no resource of kind {kind!r} ({api_version})")

    def get(self, res: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        obj = self.objects.get((res.group, res.plural, namespace, name))
        if obj is None:
            raise ApiFailure.not_found(res.plural, name, res.group)
        return copy.deepcopy(obj)

    def list_objects(self, res: ResourceType, namespace: str | None) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(obj)
            for (group, plural, ns, _name), obj in sorted(self.objects.items())
            if (group, plural) == (res.group, res.plural) and namespace in (None, ns)
        ]

    # --- writes -------------------------------------------------------------------------
    def write(self, res: ResourceType, obj: dict[str, Any], event_type: str) -> dict[str, Any]:
        schema = self.schemas.get((res.group, res.plural))
        if schema is not None and event_type != "DELETED":
            obj = prune_object(obj, schema)
        meta = obj.setdefault("metadata", {})
        namespace = meta.get("namespace", "") if res.namespaced else ""
        key = (res.group, res.plural, namespace, meta["name"])
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        old = copy.deepcopy(self.objects.get(key))
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        if event_type == "DELETED":
            self.objects.pop(key, None)
            self.owners.pop(key, None)
        else:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", _now())
            self._render_managed_fields(key, obj, res)
            self.objects[key] = copy.deepcopy(obj)
        event = Event(self.rv, res, namespace, event_type, copy.deepcopy(obj), old)
        self.history.append(event)
        for watcher in list(self.watchers):
            seen = watcher.seen(event)
            if seen is not None:
                watcher.queue.put_nowait(("EVENT", seen))
        return copy.deepcopy(obj)

    def record_update(
        self, res: ResourceType, old: dict[str, Any] | None, new: dict[str, Any], manager: str
    ) -> None:
        """A non-apply write: the manager takes the fields it changed; removed fields lose owners."""
        schema = self.schemas.get((res.group, res.plural))
        if schema is not None:  # ownership of what is stored: pruned fields are nobody's
            new = prune_object(new, schema)
        key = self.key_of(res, new)
        owners = self.owners.setdefault(key, {})
        old_paths = set(leaf_paths(old)) if old is not None else set()
        new_paths = set(leaf_paths(new))
        changed = {p for p in new_paths if old is None or get_path(old, p) != get_path(new, p)}
        for paths in owners.values():
            paths.difference_update(changed, old_paths - new_paths)
        if changed:
            owners.setdefault((manager, "Update"), set()).update(changed)
        self._drop_empty(owners)

    def apply(
        self,
        res: ResourceType,
        current: dict[str, Any] | None,
        applied: dict[str, Any],
        manager: str,
        force: bool,
    ) -> dict[str, Any]:
        """Server-side apply of ``applied`` by ``manager``; returns the new object (not yet written)."""
        key = self.key_of(res, applied)
        owners = self.owners.setdefault(key, {})
        base = copy.deepcopy(current) if current is not None else {}
        wanted = set(leaf_paths(applied))
        conflicts: list[tuple[str, FieldPath]] = []
        for (other, op), paths in owners.items():
            if (other, op) == (manager, "Apply"):
                continue
            for path in sorted(paths & wanted):
                mine, theirs = get_path(applied, path), get_path(base, path)
                if isinstance(mine, dict) and isinstance(theirs, dict):
                    continue  # an empty map applied only asks that the map exist
                if mine != theirs:
                    conflicts.append((other, path))
        if conflicts and not force:
            causes = [
                {"type": "FieldManagerConflict", "message": f'conflict with "{who}"', "field": _dotted(p)}
                for who, p in conflicts
            ]
            listed = "\n".join(f"* {c['message']}: {c['field']}" for c in causes)
            noun = "conflict" if len(conflicts) == 1 else "conflicts"
            raise ApiFailure(
                409,
                f"Apply failed with {len(conflicts)} {noun}: {listed}",
                details={"name": applied["metadata"]["name"], "kind": res.plural, "causes": causes},
            )
        for other, path in conflicts:  # force: the other managers lose the fields
            for (who, _op), paths in owners.items():
                if who == other:
                    paths.discard(path)
        previous = owners.get((manager, "Apply"), set())
        for path in previous - wanted:
            still_owned = any(path in paths for owner, paths in owners.items() if owner != (manager, "Apply"))
            if not still_owned and not is_missing(get_path(base, path)):
                remove_path(base, path)
        result: dict[str, Any] = _deep_merge(base, applied)
        owners[(manager, "Apply")] = wanted
        self._drop_empty(owners)
        return result

    def key_of(self, res: ResourceType, obj: dict[str, Any]) -> Key:
        meta = obj.get("metadata", {})
        return (res.group, res.plural, meta.get("namespace", "") if res.namespaced else "", meta["name"])

    @staticmethod
    def _drop_empty(owners: dict[Owner, set[FieldPath]]) -> None:
        for owner in [o for o, paths in owners.items() if not paths]:
            del owners[owner]

    def _render_managed_fields(self, key: Key, obj: dict[str, Any], res: ResourceType) -> None:
        owners = self.owners.get(key, {})
        entries = [
            {
                "manager": manager,
                "operation": op,
                "apiVersion": res.api_version,
                "time": _now(),
                "fieldsType": "FieldsV1",
                "fieldsV1": fields_v1(paths),
            }
            for (manager, op), paths in sorted(owners.items())
        ]
        if entries:
            obj["metadata"]["managedFields"] = entries
        else:
            obj["metadata"].pop("managedFields", None)

    # --- watch plumbing -----------------------------------------------------------------
    def events_since(self, watcher: Watcher, rv: int) -> list[Event]:
        seen = (watcher.seen(e) for e in self.history if e.rv > rv)
        return [e for e in seen if e is not None]

    def objects_at(self, res: ResourceType, rv: int) -> dict[Key, dict[str, Any]] | None:
        """The objects of ``res`` as they were at ``rv`` (None when the history no longer knows)."""
        if rv < self.oldest_rv:
            return None
        state = {k: v for k, v in self.objects.items() if (k[0], k[1]) == (res.group, res.plural)}
        for event in reversed(self.history):
            if event.rv <= rv:
                break
            if (event.resource.group, event.resource.plural) != (res.group, res.plural):
                continue
            key = self.key_of(res, event.obj)
            if event.old is None:
                state.pop(key, None)
            else:
                state[key] = event.old
        return {k: copy.deepcopy(v) for k, v in state.items()}

    def compact(self, expire_open_watches: bool = True) -> None:
        self.oldest_rv = self.rv
        self.history.clear()
        if expire_open_watches:
            for watcher in list(self.watchers):
                watcher.queue.put_nowait(("EXPIRED", None))

    def bookmark(self) -> None:
        for watcher in list(self.watchers):
            if watcher.bookmarks:
                watcher.queue.put_nowait(("BOOKMARK", self.rv))

    def drop_watches(self) -> None:
        for watcher in list(self.watchers):
            watcher.queue.put_nowait(("DROP", None))


def _deep_merge(base: Any, applied: Any) -> Any:
    if isinstance(base, dict) and isinstance(applied, dict):
        result = dict(base)
        for key, value in applied.items():
            result[key] = _deep_merge(base.get(key), value)
        return result
    return copy.deepcopy(applied)


def _dotted(path: FieldPath) -> str:
    return "." + ".".join(path)
