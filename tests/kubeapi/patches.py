"""The three patch kinds kvnuma sends, applied to plain JSON values.

* JSON merge patch (RFC 7386, ``application/merge-patch+json``): maps merge, ``null`` deletes,
  anything else replaces. ``application/strategic-merge-patch+json`` is served the same way: for
  the maps kvnuma writes (labels, annotations) strategic merge and merge patch agree; list merge
  keys and ``$patch`` directives are not implemented (rejected with 400 rather than guessed).
* JSON patch (RFC 6902, ``application/json-patch+json``): add, remove, replace, move, copy, test.
  A body that is not a patch is 400; an operation that cannot be applied (a failed ``test``, a
  missing path) is 422, as kube-apiserver answers.
* Field ownership for server-side apply: a manager owns a set of field paths (tuples of map
  keys; lists are atomic, as for ``x-kubernetes-list-type: atomic``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from kubeapi.status import ApiFailure

__all__ = [
    "FieldPath",
    "get_path",
    "json_patch",
    "leaf_paths",
    "merge_patch",
    "remove_path",
]

FieldPath = tuple[str, ...]
_UNTRACKED: frozenset[FieldPath] = frozenset(
    {
        ("apiVersion",),
        ("kind",),
        ("metadata", "name"),
        ("metadata", "namespace"),
        ("metadata", "resourceVersion"),
        ("metadata", "managedFields"),
        ("metadata", "uid"),
        ("metadata", "creationTimestamp"),
        ("metadata", "generation"),
    }
)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 MergePatch(target, patch)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if isinstance(key, str) and key.startswith("$"):
            raise ApiFailure(400, f"strategic merge directive {key!r} is not supported by this test server")
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- RFC 6902 -------------------------------------------------------------------------------
def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise ApiFailure(400, f"invalid JSON pointer {path!r}")
    if path == "":
        return []
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _invalid(message: str) -> ApiFailure:
    return ApiFailure(422, message, reason="Invalid")


def _walk(doc: Any, parts: list[str], path: str) -> Any:
    """The node ``parts`` lead to in ``doc`` (422 naming ``path`` when one is missing)."""
    node = doc
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise _invalid(f"doc is missing path: {path!r}")
    return node


def _parent(doc: Any, parts: list[str], path: str) -> tuple[Any, str]:
    return _walk(doc, parts[:-1], path), parts[-1]


def _get(doc: Any, path: str) -> Any:
    return _walk(doc, _pointer(path), path)


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return copy.deepcopy(value)
    parent, key = _parent(doc, parts, path)
    if isinstance(parent, dict):
        parent[key] = copy.deepcopy(value)
    elif isinstance(parent, list):
        if key == "-":
            parent.append(copy.deepcopy(value))
        elif key.isdigit() and int(key) <= len(parent):
            parent.insert(int(key), copy.deepcopy(value))
        else:
            raise _invalid(f"add operation index out of range: {path!r}")
    else:
        raise _invalid(f"doc is missing path: {path!r}")
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    parts = _pointer(path)
    if not parts:
        raise _invalid("cannot remove the whole document")
    parent, key = _parent(doc, parts, path)
    if isinstance(parent, dict) and key in parent:
        return doc, parent.pop(key)
    if isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
        return doc, parent.pop(int(key))
    raise _invalid(f"unable to remove nonexistent key: {path!r}")


def json_patch(doc: Any, operations: Any) -> Any:
    """Apply an RFC 6902 patch to a copy of ``doc``."""
    if not isinstance(operations, list):
        raise ApiFailure(400, "json patch must be a list of operations")
    result = copy.deepcopy(doc)
    for index, op in enumerate(operations):
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ApiFailure(400, f"json patch operation {index} needs 'op' and 'path'")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise ApiFailure(400, f"json patch operation {index} ({kind}) needs 'value'")
        if kind == "add":
            result = _add(result, path, op["value"])
        elif kind == "remove":
            result, _ = _remove(result, path)
        elif kind == "replace":
            result, _ = _remove(result, path)
            result = _add(result, path, op["value"])
        elif kind in ("move", "copy"):
            if "from" not in op:
                raise ApiFailure(400, f"json patch operation {index} ({kind}) needs 'from'")
            if kind == "move":
                result, value = _remove(result, op["from"])
            else:
                value = _get(result, op["from"])
            result = _add(result, path, value)
        elif kind == "test":
            if _get(result, path) != op["value"]:
                raise _invalid(f"testing value {path} failed")
        else:
            raise ApiFailure(400, f"unknown json patch operation {kind!r}")
    return result


# --- field paths for server-side apply --------------------------------------------------------
def leaf_paths(value: Any, prefix: FieldPath = ()) -> Iterator[FieldPath]:
    """Paths of the scalars, lists and empty maps in ``value`` (the fields it sets)."""
    if isinstance(value, dict) and value:
        for key, child in value.items():
            path = (*prefix, key)
            if path in _UNTRACKED:
                continue
            yield from leaf_paths(child, path)
    elif prefix:
        yield prefix


_MISSING = object()


def get_path(doc: Any, path: FieldPath) -> Any:
    node = doc
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def is_missing(value: Any) -> bool:
    return value is _MISSING


def remove_path(doc: dict[str, Any], path: FieldPath) -> None:
    node: Any = doc
    for key in path[:-1]:
        if not isinstance(node, dict) or key not in node:
            return
        node = node[key]
    if isinstance(node, dict):
        node.pop(path[-1], None)


def fields_v1(paths: set[FieldPath]) -> dict[str, Any]:
    """The ``fieldsV1`` form of a path set: ``{"f:metadata": {"f:labels": {"f:x": {}}}}``."""
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return tree
