"""The OpenAPI v3 the test server publishes: ``/openapi/v3`` and one document per group-version.

kubectl reads it to decide whether the server validates fields itself (``--validate=strict|warn``):
cli-runtime's ``queryParamVerifierV3`` fetches the group-version's document, finds the PATCH
operation whose ``x-kubernetes-group-version-kind`` is the object's kind and looks for a
``fieldValidation`` parameter on it. Found: kubectl sends ``fieldValidation=Strict|Warn`` and leaves
the checking to the server. Not found: ``strict`` falls back to client-side validation against
``/openapi/v2`` (which this server does not serve, so kubectl says to use ``--validate=false``) and
``warn`` validates nothing.

Kept truthful: a document declares only the operations and query parameters this server
implements for that resource. ``fieldValidation`` is declared on the writes of custom resources
with a structural schema (the only objects this server prunes and checks for unknown fields);
built-in kinds (Node, Namespace, CustomResourceDefinition) are stored as sent, so theirs do not
declare it. Custom resources carry their CRD version's schema as a component, with ``apiVersion``,
``kind`` and ``metadata`` added and ``x-kubernetes-group-version-kind`` set, as kube-apiserver
publishes them; built-in kinds have no schema here (components hold only the metadata types).

As kube-openapi's handler3 does: the discovery maps ``api/v1`` / ``apis/<group>/<version>`` to a
``serverRelativeURL`` ``/openapi/v3/<path>?hash=<SHA-512 of the document, upper-case hex>``; a
document is served with that ``Etag``; asked with the current hash it is ``Cache-Control: public,
immutable``; asked with a stale hash it answers 301 to the current one; an Accept without JSON
(protobuf only) answers 406.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from kubeapi.store import ResourceType

__all__ = ["OpenApiDocument", "accepts_json", "discovery", "documents"]

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
LIST_PARAMETERS = (
    ("allowWatchBookmarks", "boolean", "with watch: send BOOKMARK events"),
    ("continue", "string", "the token of the next page of a limited list"),
    ("fieldSelector", "string", "metadata.name and metadata.namespace (=, ==, !=)"),
    ("labelSelector", "string", "=, ==, !=, in, notin, exists and !"),
    ("limit", "integer", "at most this many items; metadata.continue when more remain"),
    ("resourceVersion", "string", "list or watch from this version"),
    ("resourceVersionMatch", "string", "NotOlderThan or Exact"),
    ("sendInitialEvents", "boolean", "with watch and resourceVersionMatch=NotOlderThan: the watch-list"),
    ("timeoutSeconds", "integer", "end the watch after this long"),
    ("watch", "boolean", "stream ADDED, MODIFIED, DELETED (and BOOKMARK) events"),
)
DRY_RUN = ("dryRun", "string", "All: answer what would happen and persist nothing")
FIELD_MANAGER = ("fieldManager", "string", "the manager recorded in managedFields (required for apply)")
FIELD_VALIDATION = (
    "fieldValidation",
    "string",
    "unknown fields (those the structural schema does not declare): Ignore drops them, "
    "Warn (the default) drops them with a Warning header each, Strict refuses the request",
)
FORCE = ("force", "boolean", "apply: take the fields other managers own")
SELECTORS = tuple(p for p in LIST_PARAMETERS if p[0] in ("fieldSelector", "labelSelector"))
BODY_TYPES = ("application/json", "application/yaml")
PATCH_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",  # built-in kinds only (applied as a merge patch)
)
OBJECT_META: dict[str, Any] = {
    "type": "object",
    "description": "the metadata every persisted object has (names, labels and annotations are validated)",
    "properties": {
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "creationTimestamp": {"type": "string", "format": "date-time"},
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "generateName": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "managedFields": {"type": "array", "items": {"type": "object"}},
        "name": {"type": "string"},
        "namespace": {"type": "string"},
        "resourceVersion": {"type": "string"},
        "uid": {"type": "string"},
    },
}
LIST_META: dict[str, Any] = {
    "type": "object",
    "properties": {
        "continue": {"type": "string"},
        "remainingItemCount": {"type": "integer", "format": "int64"},
        "resourceVersion": {"type": "string"},
    },
}


@dataclass(frozen=True)
class OpenApiDocument:
    path: str  # "api/v1" or "apis/<group>/<version>"
    body: bytes

    @property
    def hash(self) -> str:
        return hashlib.sha512(self.body).hexdigest().upper()

    @property
    def server_relative_url(self) -> str:
        return f"/openapi/v3/{self.path}?{urlencode({'hash': self.hash})}"


def accepts_json(accept: str) -> bool:
    """Whether an Accept header takes the JSON documents (handler3 answers 406 otherwise; the
    protobuf form it also offers is not served here)."""
    if not accept.strip():
        return True
    for clause in accept.split(","):
        media = clause.split(";")[0].strip().lower()
        if media in ("*/*", "application/*", "application/json"):
            return True
    return False


def discovery(docs: dict[str, OpenApiDocument]) -> dict[str, Any]:
    return {"paths": {path: {"serverRelativeURL": doc.server_relative_url} for path, doc in docs.items()}}


def documents(
    resources: list[ResourceType], schema_of: Callable[[ResourceType], dict[str, Any] | None]
) -> dict[str, OpenApiDocument]:
    """One document per served group-version; ``schema_of`` is the structural schema the server
    prunes a custom resource by (None: it stores the kind as sent)."""
    by_path: dict[str, list[ResourceType]] = {}
    for res in resources:
        by_path.setdefault(_api_path(res), []).append(res)
    out = {}
    for path, served in sorted(by_path.items()):
        body = _document(served, schema_of)
        out[path] = OpenApiDocument(path, json.dumps(body, sort_keys=True).encode())
    return out


def _api_path(res: ResourceType) -> str:
    return f"apis/{res.group}/{res.version}" if res.group else f"api/{res.version}"


def _document(
    served: list[ResourceType], schema_of: Callable[[ResourceType], dict[str, Any] | None]
) -> dict[str, Any]:
    first = served[0]
    schemas: dict[str, Any] = {f"{META}.ObjectMeta": OBJECT_META, f"{META}.ListMeta": LIST_META}
    paths: dict[str, Any] = {}
    for res in sorted(served, key=lambda r: r.plural):
        schema = schema_of(res) if res.custom else None
        if schema is not None:
            schemas.update(_components(res, schema))
        paths.update(_paths(res, schema is not None))
    return {
        "openapi": "3.0.0",
        "info": {"title": "kvnuma's Kubernetes API test server", "version": first.api_version},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _schema_name(res: ResourceType, kind: str) -> str:
    """As kube-apiserver names a CRD's schema: the group reversed, the version, the kind."""
    return f"{'.'.join(reversed(res.group.split('.')))}.{res.version}.{kind}"


def _gvk(res: ResourceType, kind: str | None = None) -> dict[str, str]:
    return {"group": res.group, "version": res.version, "kind": kind or res.kind}


def _components(res: ResourceType, schema: dict[str, Any]) -> dict[str, Any]:
    item = copy.deepcopy(schema)
    properties = item.setdefault("properties", {})
    properties["apiVersion"] = {"type": "string", "description": "the versioned schema of this object"}
    properties["kind"] = {"type": "string", "description": "the REST resource this object represents"}
    properties["metadata"] = {"$ref": f"#/components/schemas/{META}.ObjectMeta"}
    item["x-kubernetes-group-version-kind"] = [_gvk(res)]
    listed = {
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"},
            "items": {
                "type": "array",
                "items": {"$ref": f"#/components/schemas/{_schema_name(res, res.kind)}"},
            },
            "kind": {"type": "string"},
            "metadata": {"$ref": f"#/components/schemas/{META}.ListMeta"},
        },
        "x-kubernetes-group-version-kind": [_gvk(res, f"{res.kind}List")],
    }
    return {_schema_name(res, res.kind): item, _schema_name(res, f"{res.kind}List"): listed}


def _parameter(name: str, kind: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": kind, "uniqueItems": True},
    }


def _path_parameter(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "uniqueItems": True}}


def _operation_id(verb: str, res: ResourceType, suffix: str = "") -> str:
    group = "".join(part.capitalize() for part in res.group.split(".")) if res.group else "Core"
    scope = "Namespaced" if res.namespaced and verb != "listAllNamespaces" else ""
    kind = res.kind if verb != "listAllNamespaces" else f"{res.kind}ForAllNamespaces"
    verb = "list" if verb == "listAllNamespaces" else verb
    return f"{verb}{group}{res.version.capitalize()}{scope}{kind}{suffix}"


def _paths(res: ResourceType, pruned: bool) -> dict[str, Any]:
    """The operations on ``res``; ``pruned``: the server prunes it by a schema (so it validates
    fields, and the schema is a component to refer to)."""
    prefix = f"/apis/{res.group}/{res.version}" if res.group else f"/api/{res.version}"
    scoped = f"{prefix}/namespaces/{{namespace}}/{res.plural}" if res.namespaced else f"{prefix}/{res.plural}"
    scope_parameters = [_path_parameter("namespace")] if res.namespaced else []
    writes = (DRY_RUN, FIELD_MANAGER, *((FIELD_VALIDATION,) if pruned else ()))
    patch_types = PATCH_TYPES[:3] if res.custom else PATCH_TYPES

    def operation(
        verb: str, action: str, parameters: tuple[tuple[str, str, str], ...], suffix: str = "", **more: Any
    ) -> dict[str, Any]:
        reply: dict[str, Any] = {"description": "OK"}
        if pruned:
            kind = f"{res.kind}List" if action in ("list", "deletecollection") else res.kind
            reply["content"] = {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{_schema_name(res, kind)}"}}
            }
        answers = {"200": reply, **({"201": reply} if action == "post" else {})}
        return {
            "operationId": _operation_id(verb, res, suffix),
            "parameters": [_parameter(*p) for p in parameters],
            "responses": answers,
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": _gvk(res),
            **more,
        }

    def body(types: tuple[str, ...]) -> dict[str, Any]:
        return {
            "requestBody": {"required": True, "content": {t: {"schema": {"type": "object"}} for t in types}}
        }

    verbs = set(res.verbs)
    collection: dict[str, Any] = {"parameters": scope_parameters}
    if "list" in verbs:
        collection["get"] = operation("list", "list", LIST_PARAMETERS)
    if "create" in verbs:
        collection["post"] = operation("create", "post", writes, **body(BODY_TYPES))
    if "deletecollection" in verbs:
        collection["delete"] = operation("deleteCollection", "deletecollection", (DRY_RUN, *SELECTORS))
    item: dict[str, Any] = {"parameters": [_path_parameter("name"), *scope_parameters]}
    if "get" in verbs:
        item["get"] = operation("read", "get", ())
    if "update" in verbs:
        item["put"] = operation("replace", "put", writes, **body(BODY_TYPES))
    if "patch" in verbs:
        item["patch"] = operation("patch", "patch", (*writes, FORCE), **body(patch_types))
    if "delete" in verbs:
        item["delete"] = operation("delete", "delete", (DRY_RUN,))
    paths = {scoped: collection, f"{scoped}/{{name}}": item}
    if res.namespaced and "list" in verbs:
        paths[f"{prefix}/{res.plural}"] = {"get": operation("listAllNamespaces", "list", LIST_PARAMETERS)}
    if res.status:
        status: dict[str, Any] = {"parameters": item["parameters"]}
        status["get"] = operation("read", "get", (), "Status")
        status["put"] = operation("replace", "put", writes, "Status", **body(BODY_TYPES))
        status["patch"] = operation("patch", "patch", (*writes, FORCE), "Status", **body(patch_types))
        paths[f"{scoped}/{{name}}/status"] = status
    return paths
