"""A Kubernetes API test server: just enough kube-apiserver for kvnuma, faithful to the documented
API semantics of what it implements. No kube-apiserver binary is installable from the package
registries this project reaches, so the agent and the webhook are tested against this.

Python API::

    from kubeapi.server import KubeApiServer

    async with KubeApiServer() as api:            # plain HTTP on 127.0.0.1, a free port
        api.url                                   # "http://127.0.0.1:PORT"
        api.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
        api.get_object("Node/n1")                 # cluster-scoped: Kind/name
        api.get_object("KubeVirt/kubevirt/kubevirt")   # namespaced: Kind/namespace/name
        api.delete_object("Node/n1")
        api.resource_version                      # the global counter (int), bumped on every write
        api.compact()                             # older resourceVersions -> 410 Gone (Expired);
                                                  # open watches get an ERROR event (410) and end
        api.bookmark_now()                        # a BOOKMARK to every bookmark-enabled watch
        api.faults.fail_next("patch", r"/nodes/n1$", 409, count=2)
        api.faults.fail_next("*", r"/nodes", 429, retry_after=1)
        api.faults.slow("get", r"/nodes/", seconds=0.5, count=1)
        api.faults.drop_watches()                 # cut open watch streams mid-flight
        api.requests                              # [RecordedRequest(verb, method, path, query, ...)]
        api.open_watches                          # number of watch streams being served

Constructor options: ``port`` (0 = free port; fixed ports let a test start the server after a
client began retrying), ``resources`` (extra ``ResourceType`` values beyond Node and KubeVirt),
``bookmark_interval`` (seconds between BOOKMARK events, default 60 as kube-apiserver; one more is
sent ``bookmark_lead`` seconds, default 2, before ``timeoutSeconds`` ends), ``watch_list`` (False:
behave as a server without the streaming watch-list, ignoring ``sendInitialEvents``),
``expired_watch_as_event`` (answer a watch from a compacted version with HTTP 200 and an ERROR
event, as the watch cache does, instead of HTTP 410), ``ssl_context`` (serve HTTPS).

What it serves (JSON only):
    discovery   GET /version, /api, /api/v1, /apis, /apis/{group}, /apis/{group}/{version}
    openapi     GET /openapi/v3 and /openapi/v3/{api/v1|apis/{group}/{version}}?hash=...: the
                operations and parameters served, custom resources' schemas (kubectl's
                --validate=strict|warn reads it; no /openapi/v2): see kubeapi/openapi.py.
                Built-in kinds have no schema here: ``fieldValidation`` on them is checked (400
                for an unknown mode) but their objects are stored as sent (kube-apiserver drops
                or refuses unknown fields), so their documents do not declare it
    objects     GET (get, list, ``?watch=true``), PATCH, POST (201), PUT, DELETE (one, or the
                collection by selector) on /api/v1/{plural}[/{name}[/status]] and
                /apis/{g}/{v}[/namespaces/{ns}]/{plural}[/{name}[/status]]
    namespaces  /api/v1/namespaces (``kubectl create namespace`` sends protobuf, which this server
                does not read: 415; ``kubectl apply`` works): created Active with the
                ``kubernetes`` finalizer and the ``kubernetes.io/metadata.name`` label; deleted at
                once. Simplification: namespaced objects are not refused in a missing namespace
    CRDs        apiextensions.k8s.io/v1 CustomResourceDefinitions: checked (422), Established,
                their versions served and discovered; custom resources pruned by the structural
                schema with ``fieldValidation`` Ignore/Warn (``Warning: 299 - "unknown field
                \"spec.x\""``)/Strict (400 on create/update, 422 on ``patch`` for a merge or
                JSON patch), validated (422): see kubeapi/crd.py, kubeapi/pruning.py
    validation  metadata names, label and annotation keys/values (422 with details.causes, nothing
                stored): see kubeapi/validation.py
    status      Nodes' and CRs' (when declared) ``/status``: writes to the object keep status, writes
                to /status change only status
    dry run     ``dryRun=All`` (query, or DeleteOptions body): the answer, nothing stored or sent
    delete      DeleteOptions ``preconditions`` (uid, resourceVersion): 409 when stale
    patches     application/merge-patch+json, application/strategic-merge-patch+json (as merge;
                415 on custom resources, as kube-apiserver),
                application/json-patch+json (400 malformed, 422 unappliable e.g. failed ``test``),
                application/apply-patch+yaml (``fieldManager`` required, ``force=true``,
                managedFields kept, 409 on conflicts with other managers, fields a manager
                stopped applying are removed unless someone else owns them)
    concurrency ``metadata.resourceVersion`` in a patch/PUT body must match (else 409);
                a write that changes nothing is not a write (no new resourceVersion, no event)
    pages       ``limit``/``continue`` pages (410 for an expired token, 400 for a foreign one);
                metadata-only answers for ``Accept: ...;as=PartialObjectMetadataList`` (and
                ``as=PartialObjectMetadata`` on get and watch): see kubeapi/listing.py
    list        ``resourceVersion`` + ``resourceVersionMatch`` (NotOlderThan, Exact: the list as it was
                at that version, 410 once compacted; a version from the future answers 504)
    tables      ``Accept: ...;as=Table;g=meta.k8s.io;v=v1`` (what ``kubectl get`` asks for) on get and
                list: the columns kube-apiserver prints (kubeapi/tables.py)
    selectors   ``labelSelector`` and ``fieldSelector`` on list and watch: see kubeapi/selectors.py
    watch       ``resourceVersion`` (unset/"0": ADDED for current objects first; compacted: HTTP 200
                then an ERROR event with a 410 Expired Status),
                ``allowWatchBookmarks``, ``timeoutSeconds``; events are JSON lines; the streaming
                watch-list (``sendInitialEvents=true``, ``resourceVersionMatch=NotOlderThan``):
                ADDED for every object, then a BOOKMARK annotated ``k8s.io/initial-events-end``
    bodies      create/update bodies in JSON or YAML; another media type (protobuf) answers 415
    errors      ``kind: Status`` bodies with code, reason, message (404 NotFound, 409 Conflict,
                410 Expired, 415, 422 Invalid, 429 TooManyRequests + Retry-After, 5xx)
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import ssl
import time
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import yaml
from aiohttp import web

from kubeapi.crd import CRD, check_crd, crd_resources, crd_schema, schema_errors
from kubeapi.faults import Faults
from kubeapi.listing import INITIAL_EVENTS_END, list_body, metadata_only, partial_object, watch_list_requested
from kubeapi.openapi import accepts_json, discovery, documents
from kubeapi.patches import json_patch, merge_patch
from kubeapi.pruning import prune
from kubeapi.selectors import Selector
from kubeapi.status import ApiFailure
from kubeapi.store import KUBEVIRT, NAMESPACE, NODE, ResourceType, Store, Watcher
from kubeapi.tables import table, wants_table
from kubeapi.validation import metadata_causes

__all__ = ["KUBEVIRT", "NODE", "KubeApiServer", "RecordedRequest", "ResourceType"]

MERGE = ("application/merge-patch+json", "application/strategic-merge-patch+json")
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"


@dataclass(frozen=True)
class RecordedRequest:
    verb: str
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: bytes
    user_agent: str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class _Target:
    res: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None = None


class KubeApiServer:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        resources: list[ResourceType] | None = None,
        bookmark_interval: float = 60.0,
        bookmark_lead: float = 2.0,
        watch_list: bool = True,
        expired_watch_as_event: bool = True,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.store = Store([NODE, NAMESPACE, KUBEVIRT, CRD, *(resources or [])])
        self.crds: dict[tuple[str, str], dict[str, Any]] = {}  # (group, plural) -> stored CRD
        self.faults = Faults(self.store.drop_watches)
        self.requests: list[RecordedRequest] = []
        self.bookmark_interval = bookmark_interval
        self.bookmark_lead = bookmark_lead
        self.watch_list = watch_list
        self.expired_watch_as_event = expired_watch_as_event
        self._host, self._port, self._ssl = host, port, ssl_context
        self._runner: web.AppRunner | None = None

    # --- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, ssl_context=self._ssl)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self._port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            self.store.drop_watches()
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> KubeApiServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://{self._host}:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    # --- the test API -------------------------------------------------------------------
    @property
    def resource_version(self) -> int:
        return self.store.rv

    @property
    def open_watches(self) -> int:
        return len(self.store.watchers)

    def put_object(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace an object as an admin would (no checks); emits ADDED/MODIFIED."""
        res = self.store.by_kind(obj.get("apiVersion", ""), obj["kind"])
        body = json.loads(json.dumps(obj))
        body.setdefault("metadata", {}).pop("resourceVersion", None)
        exists = self.store.key_of(res, body) in self.store.objects
        old = self.store.objects.get(self.store.key_of(res, body))
        self.store.record_update(res, old, body, "kubeapi-test")
        return self.store.write(res, body, "MODIFIED" if exists else "ADDED")

    def _ref(self, ref: str) -> tuple[ResourceType, str, str]:
        parts = ref.split("/")
        res = self.store.by_kind("", parts[0])
        if res.namespaced and len(parts) == 3:
            return res, parts[1], parts[2]
        if not res.namespaced and len(parts) == 2:
            return res, "", parts[1]
        raise ValueError(f"object reference {ref!r} is not Kind/name or Kind/namespace/name")

    def get_object(self, ref: str) -> dict[str, Any]:
        res, namespace, name = self._ref(ref)
        return self.store.get(res, namespace, name)

    def delete_object(self, ref: str) -> None:
        res, namespace, name = self._ref(ref)
        self.store.write(res, self.store.get(res, namespace, name), "DELETED")

    def install_schema(self, kind: str, schema: dict[str, Any]) -> None:
        """Prune every later write of ``kind`` by ``schema`` (a CRD's openAPIV3Schema), as
        kube-apiserver does for a custom resource: see kubeapi/pruning.py."""
        res = self.store.by_kind("", kind)
        self.store.schemas[(res.group, res.plural)] = schema

    def compact(self, expire_open_watches: bool = True) -> None:
        self.store.compact(expire_open_watches)

    def bookmark_now(self) -> None:
        self.store.bookmark()

    def requests_for(self, verb: str, path_contains: str = "") -> list[RecordedRequest]:
        return [r for r in self.requests if r.verb == verb and path_contains in r.path]

    # --- HTTP ---------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            found = self._discovery(request.path)
            openapi = request.path.rstrip("/") == "/openapi/v3" or request.path.startswith("/openapi/v3/")
            if (found is not None or openapi) and request.method != "GET":
                raise ApiFailure(405, f"the server does not allow {request.method} on {request.path}")
            if openapi:
                asked = request.path.rstrip("/").removeprefix("/openapi/v3").strip("/")
                return self._openapi(asked, request.query.get("hash", ""), request.headers.get("Accept", ""))
            if found is not None:
                return web.json_response(found)
            target = self._target(request.path)
            verb = self._verb(request, target)
            self.requests.append(
                RecordedRequest(
                    verb,
                    request.method,
                    request.path,
                    dict(request.query),
                    request.content_type,
                    body,
                    request.headers.get("User-Agent", ""),
                )
            )
            delay = self.faults.delay_for(verb, request.path)
            if delay:
                await asyncio.sleep(delay)
            failure = self.faults.failure_for(verb, request.path)
            if failure is not None:
                raise failure
            if verb == "watch":
                return await self._watch(request, target)
            warnings: list[str] = []
            answer = self._serve(verb, request, target, body, warnings)
            response = web.json_response(answer, status=201 if verb == "create" else 200)
            for text in warnings:
                response.headers.add("Warning", _warning(text))
            return response
        except ApiFailure as failure:
            return web.json_response(failure.body, status=failure.code, headers=failure.headers)

    def _discovery(self, path: str) -> dict[str, Any] | None:
        path = path.rstrip("/") or "/"
        groups = sorted({r.group for r in self.store.resources if r.group})
        if path == "/version":
            return {"major": "1", "minor": "33", "gitVersion": "v1.33.0-kvnuma-test"}
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [self._group(g) for g in groups]}
        if path.startswith("/apis/") and path.count("/") == 2 and path.split("/")[2] in groups:
            return {"kind": "APIGroup", "apiVersion": "v1", **self._group(path.split("/")[2])}
        for group_version in {r.api_version for r in self.store.resources}:
            prefix = "/api/" if "/" not in group_version else "/apis/"
            if path == prefix + group_version:
                entries: list[dict[str, Any]] = []
                for r in self.store.resources:
                    if r.api_version != group_version:
                        continue
                    entries.append(
                        {
                            "name": r.plural,
                            "singularName": r.singular or r.kind.lower(),
                            "namespaced": r.namespaced,
                            "kind": r.kind,
                            "verbs": list(r.verbs),
                            **({"shortNames": list(r.short_names)} if r.short_names else {}),
                        }
                    )
                    if r.status:
                        entries.append(
                            {
                                "name": f"{r.plural}/status",
                                "singularName": "",
                                "namespaced": r.namespaced,
                                "kind": r.kind,
                                "verbs": ["get", "patch", "update"],
                            }
                        )
                return {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": group_version,
                    "resources": entries,
                }
        return None

    def _group(self, group: str) -> dict[str, Any]:
        versions = sorted(
            {r.version for r in self.store.resources if r.group == group}, key=_version_priority
        )
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": entries, "preferredVersion": entries[0]}

    def _target(self, path: str) -> _Target:
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 2 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiFailure(404, "the server could not find the requested resource", reason="NotFound")
        namespace: str | None = None
        # /namespaces/{ns}/{plural}...: a namespaced resource; /namespaces/{name}/status: the
        # Namespace's own status subresource
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2:] != ["status"]:
            namespace, rest = rest[1], rest[2:]
        res = self.store.resource(group, version, rest[0]) if rest else None
        subresource = rest[2] if len(rest) == 3 else None
        if (
            res is None
            or len(rest) > 3
            or (namespace is not None and not res.namespaced)
            or (subresource is not None and not (subresource == "status" and res.status))
        ):
            raise ApiFailure(404, "the server could not find the requested resource", reason="NotFound")
        if not res.namespaced:
            namespace = ""
        return _Target(res, namespace, rest[1] if len(rest) >= 2 else None, subresource)

    @staticmethod
    def _verb(request: web.Request, target: _Target) -> str:
        method = request.method
        if method == "GET":
            if target.name is not None:
                return "get"
            return "watch" if request.query.get("watch") in ("true", "1") else "list"
        if method == "DELETE" and target.name is None:
            return "deletecollection"
        verbs = {"PATCH": "patch", "POST": "create", "PUT": "update", "DELETE": "delete"}
        if (
            method not in verbs
            or (method == "POST") != (target.name is None)
            or (target.subresource is not None and method in ("POST", "DELETE"))
        ):
            raise ApiFailure(
                405, f"the server does not allow {method} on this path", reason="MethodNotAllowed"
            )
        return verbs[method]

    def _serve(
        self, verb: str, request: web.Request, target: _Target, body: bytes, warnings: list[str]
    ) -> dict[str, Any]:
        res, store = target.res, self.store
        namespace = target.namespace or ""
        accept = request.headers.get("Accept", "")
        query = request.query
        if verb == "get":
            assert target.name is not None
            obj = store.get(res, namespace, target.name)
            obj["apiVersion"] = res.api_version
            if wants_table(accept):
                rv = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
                return table(res, [obj], rv, self._printer(res), query.get("includeObject", ""))
            return partial_object(obj) if metadata_only(accept, "PartialObjectMetadata") else obj
        if verb == "list":
            as_table = wants_table(accept)
            selector = Selector.from_query(res, query)
            listed = list_body(
                store,
                res,
                target.namespace,
                dict(query),
                metadata=not as_table and metadata_only(accept, "PartialObjectMetadataList"),
                selects=selector.matches if selector.active else None,
            )
            if not as_table:
                return listed
            printer = self._printer(res)
            return table(res, listed["items"], listed["metadata"], printer, query.get("includeObject", ""))
        dry = _dry(request)
        _field_validation(query)
        if verb == "deletecollection":
            dry = dry or _dry_options(_json_object(body) if body.strip() else {})
            selector = Selector.from_query(res, query)
            doomed = [o for o in store.list_objects(res, target.namespace) if selector.matches(o)]
            gone = [obj if dry else self._delete(res, obj) for obj in doomed]
            return {"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": {}, "items": gone}
        agent = request.headers.get("User-Agent", "unknown")
        manager = query.get("fieldManager") or agent.split("/")[0]
        owners = copy.deepcopy(store.owners) if dry else None
        try:
            if verb == "create":
                obj = _body_object(request.content_type, body)
                obj.setdefault("metadata", {})
                if not isinstance(obj["metadata"], dict):
                    raise ApiFailure(400, "metadata must be an object")
                if res.namespaced:
                    obj["metadata"]["namespace"] = namespace
                name = obj["metadata"].get("name")
                if name and store.key_of(res, obj) in store.objects:
                    raise ApiFailure(
                        409,
                        f'{_what(res)} "{name}" already exists',
                        reason="AlreadyExists",
                        details={"name": name, "group": res.group, "kind": res.plural},
                    )
                obj["metadata"].pop("resourceVersion", None)
                if res == NAMESPACE:  # what the namespace strategy and admission add
                    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
                    obj["status"] = {"phase": "Active"}
                    if isinstance(name, str):
                        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
                self._admit(res, target, None, obj, query=query, warnings=warnings)
                store.record_update(res, None, obj, manager)
                return self._write(res, obj, "ADDED", dry)
            assert target.name is not None
            if verb == "delete":
                return self._delete_one(res, namespace, target.name, body, dry)
            if verb == "update":
                current = store.get(res, namespace, target.name)
                new = _body_object(request.content_type, body)
                meta = new.setdefault("metadata", {})
                meta.setdefault("resourceVersion", current["metadata"]["resourceVersion"])
                return self._commit(
                    res, target, current, new, manager, query=query, warnings=warnings, dry=dry
                )
            return self._patch(request, target, body, manager, warnings=warnings, dry=dry)
        finally:
            if owners is not None:
                store.owners = owners

    def _printer(self, res: ResourceType) -> list[dict[str, Any]] | None:
        """A custom resource's additionalPrinterColumns (``[]``: none declared; None: not custom)."""
        crd = self.crds.get((res.group, res.plural))
        if crd is None:
            return [] if res.custom or res == KUBEVIRT else None
        for version in crd["spec"]["versions"]:
            if version["name"] == res.version:
                return list(version.get("additionalPrinterColumns") or [])
        return []

    def _write(self, res: ResourceType, obj: dict[str, Any], event_type: str, dry: bool) -> dict[str, Any]:
        if not dry:
            return self.store.write(res, obj, event_type)
        # dryRun=All: the object as it would be stored, and nothing stored (no new resourceVersion)
        meta = obj.setdefault("metadata", {})
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        if event_type == "ADDED":
            meta.pop("resourceVersion", None)
        return obj

    def _delete_one(
        self, res: ResourceType, namespace: str, name: str, body: bytes, dry: bool
    ) -> dict[str, Any]:
        current = self.store.get(res, namespace, name)
        options = _json_object(body) if body.strip() else {}
        dry = dry or _dry_options(options)
        preconditions = options.get("preconditions") or {}
        meta = current["metadata"]
        for field, have in (("uid", meta.get("uid")), ("resourceVersion", meta.get("resourceVersion"))):
            wanted = preconditions.get(field)
            if wanted is not None and wanted != have:
                label = "UID" if field == "uid" else "ResourceVersion"
                raise ApiFailure(
                    409,
                    f"Precondition failed: {label} in precondition: {wanted}, {label} in object meta: {have}",
                    reason="Conflict",
                    details={"name": name, "group": res.group, "kind": res.plural},
                )
        if dry:
            return current
        gone = self._delete(res, current)
        if res.custom or res == CRD:
            return gone
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "group": res.group, "kind": res.plural, "uid": meta.get("uid")},
        }

    def _delete(self, res: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        gone = self.store.write(res, obj, "DELETED")
        if res == CRD:
            self._unserve(obj)
        return gone

    # --- CustomResourceDefinitions ------------------------------------------------------------
    def _serve_crd(self, crd: dict[str, Any]) -> None:
        spec = crd["spec"]
        group, plural = spec["group"], spec["names"]["plural"]
        self.store.resources[:] = [r for r in self.store.resources if (r.group, r.plural) != (group, plural)]
        self.store.resources.extend(crd_resources(crd))
        self.crds[(group, plural)] = crd
        storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
        self.store.schemas[(group, plural)] = crd_schema(crd, storage)

    def _unserve(self, crd: dict[str, Any]) -> None:
        spec = crd["spec"]
        group, plural = spec["group"], spec["names"]["plural"]
        served = [r for r in self.store.resources if (r.group, r.plural) == (group, plural)]
        if served:
            for obj in self.store.list_objects(served[0], None):
                self.store.write(served[0], obj, "DELETED")
        self.store.resources[:] = [r for r in self.store.resources if (r.group, r.plural) != (group, plural)]
        self.crds.pop((group, plural), None)
        self.store.schemas.pop((group, plural), None)

    def _custom_schema(self, res: ResourceType) -> dict[str, Any] | None:
        """The structural schema a custom resource is pruned and validated by (None: not custom,
        or no schema: stored as sent)."""
        if not res.custom:
            return None
        crd = self.crds.get((res.group, res.plural))
        if crd is not None:
            return crd_schema(crd, res.version)
        return self.store.schemas.get((res.group, res.plural))

    def _openapi(self, path: str, hash_asked: str, accept: str) -> web.Response:
        docs = documents(self.store.resources, self._custom_schema)
        if path == "":
            return web.json_response(discovery(docs))
        doc = docs.get(path)
        if doc is None:
            raise ApiFailure(404, "the server could not find the requested resource", reason="NotFound")
        if not accepts_json(accept):
            return web.Response(status=406, headers={"Vary": "Accept"})
        headers = {"Etag": f'"{doc.hash}"', "Vary": "Accept"}
        if hash_asked and hash_asked != doc.hash:
            return web.Response(status=301, headers={**headers, "Location": doc.server_relative_url})
        if hash_asked:
            headers["Cache-Control"] = "public, immutable"
        return web.Response(body=doc.body, content_type="application/json", headers=headers)

    def _admit(
        self,
        res: ResourceType,
        target: _Target,
        current: dict[str, Any] | None,
        new: dict[str, Any],
        *,
        query: Any,
        warnings: list[str],
        patched: bool = False,
    ) -> None:
        """What kube-apiserver does to a write before storing it: subresource rules, pruning and
        fieldValidation (custom resources), schema and metadata validation (422, nothing stored).
        ``patched``: ``new`` is a merge or JSON patch applied to the stored object."""
        if res.status and target.subresource is None and current is not None:
            # the main resource does not change status
            if "status" in current:
                new["status"] = copy.deepcopy(current["status"])
            else:
                new.pop("status", None)
        elif res.status and target.subresource is None and res.custom:
            new.pop("status", None)  # a CR's create ignores status when it is a subresource
        elif target.subresource == "status" and current is not None:
            # /status changes only status (and nothing of metadata but its resourceVersion check)
            status = new.get("status")
            rv = new.get("metadata", {}).get("resourceVersion")
            new.clear()
            new.update(copy.deepcopy(current))
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
            if rv is not None:
                new["metadata"]["resourceVersion"] = rv
        name = new.get("metadata", {}).get("name", "")
        schema = self._custom_schema(res)
        if schema is not None:
            sent = json.dumps(new, sort_keys=True, separators=(",", ":")) if patched else None
            unknown = prune(new, schema)
            mode = query.get("fieldValidation") or "Warn"
            if unknown and mode == "Strict":
                raise _strict_failure(res, unknown, sent)
            if mode == "Warn":
                warnings.extend(f'unknown field "{path}"' for path in unknown)
            causes = schema_errors(new, schema)
            if causes:
                raise ApiFailure.invalid(res.kind, res.group, name, causes)
        causes = metadata_causes(new.get("metadata"))
        if res == CRD:
            causes += check_crd(new)
        if causes:
            raise ApiFailure.invalid(res.kind, res.group, name, causes)
        if res == CRD and current is None:
            spec = new["spec"]
            group, plural = spec["group"], spec["names"]["plural"]
            if (group, plural) in self.crds:
                raise ApiFailure(
                    409,
                    f'customresourcedefinitions "{plural}.{group}" already exists',
                    reason="AlreadyExists",
                )
            new["status"] = {
                "acceptedNames": copy.deepcopy(spec["names"]),
                "conditions": [
                    {
                        "type": "NamesAccepted",
                        "status": "True",
                        "reason": "NoConflicts",
                        "message": "no conflicts found",
                    },
                    {
                        "type": "Established",
                        "status": "True",
                        "reason": "InitialNamesAccepted",
                        "message": "the initial names have been accepted",
                    },
                ],
                "storedVersions": [v["name"] for v in spec["versions"] if v.get("storage")],
            }
            if not _dry_query(query):
                self._serve_crd(new)

    def _patch(
        self,
        request: web.Request,
        target: _Target,
        body: bytes,
        manager: str,
        *,
        warnings: list[str],
        dry: bool,
    ) -> dict[str, Any]:
        res, store, ctype = target.res, self.store, request.content_type
        assert target.name is not None
        namespace = target.namespace or ""
        query = request.query
        if ctype == APPLY:
            if not query.get("fieldManager"):
                raise ApiFailure(400, f"PATCH, {APPLY} requests must specify a fieldManager")
            applied = _yaml_object(body)
            meta = applied.setdefault("metadata", {})
            if applied.get("apiVersion") != res.api_version or applied.get("kind") != res.kind:
                raise ApiFailure(400, f"apply needs apiVersion {res.api_version} and kind {res.kind}")
            if meta.get("name") != target.name:
                raise ApiFailure(
                    400,
                    f"the name of the object ({meta.get('name')}) does not match "
                    f"the name on the URL ({target.name})",
                )
            if res.namespaced:
                meta["namespace"] = namespace
            try:
                current: dict[str, Any] | None = store.get(res, namespace, target.name)
            except ApiFailure:
                current = None
            owners_before = repr(sorted(store.owners.get(store.key_of(res, applied), {}).items()))
            force = query.get("force") == "true"
            new = store.apply(res, current, applied, query["fieldManager"], force)
            if current is None:
                self._admit(res, target, None, new, query=query, warnings=warnings)
                return self._write(res, new, "ADDED", dry)
            owners_after = repr(sorted(store.owners.get(store.key_of(res, applied), {}).items()))
            changed = owners_before != owners_after
            return self._commit(
                res,
                target,
                current,
                new,
                None,
                query=query,
                warnings=warnings,
                dry=dry,
                ownership_changed=changed,
            )
        current = store.get(res, namespace, target.name)
        merge_types = MERGE[:1] if res.custom or res == CRD else MERGE
        if ctype in merge_types:
            patch = _json_any(body)
            if not isinstance(patch, dict):
                raise ApiFailure(400, "merge patch must be a JSON object")
            new = merge_patch(current, patch)
        elif ctype == JSON_PATCH:
            new = json_patch(current, _json_any(body))
        else:
            accepted = [JSON_PATCH, *merge_types, APPLY]
            raise ApiFailure(
                415,
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{', '.join(accepted)}",
                reason="UnsupportedMediaType",
            )
        return self._commit(
            res, target, current, new, manager, query=query, warnings=warnings, dry=dry, patched=True
        )

    def _commit(
        self,
        res: ResourceType,
        target: _Target,
        current: dict[str, Any],
        new: dict[str, Any],
        manager: str | None,
        *,
        query: Any,
        warnings: list[str],
        dry: bool,
        ownership_changed: bool = False,
        patched: bool = False,
    ) -> dict[str, Any]:
        """Check and write a replacement of ``current``; a no-op is not a write."""
        if not isinstance(new, dict):
            raise ApiFailure(422, "the patched object is not an object", reason="Invalid")
        meta = new.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise ApiFailure(400, "metadata must be an object")
        current_rv = current["metadata"]["resourceVersion"]
        if meta.get("resourceVersion", current_rv) != current_rv:
            raise ApiFailure.modified(res.plural, current["metadata"]["name"], res.group)
        if meta.get("name") != target.name or (res.namespaced and meta.get("namespace") != target.namespace):
            raise ApiFailure(422, "metadata.name: Invalid value: may not be changed", reason="Invalid")
        self._admit(res, target, current, new, query=query, warnings=warnings, patched=patched)
        meta = new["metadata"]
        new["apiVersion"], new["kind"] = res.api_version, res.kind
        meta["resourceVersion"] = current_rv
        for kept in ("uid", "creationTimestamp"):
            if kept in current["metadata"]:
                meta[kept] = current["metadata"][kept]
        meta["managedFields"] = current["metadata"].get("managedFields")
        if meta["managedFields"] is None:
            meta.pop("managedFields")
        compare = copy.deepcopy(current)
        compare["apiVersion"] = res.api_version
        if new == compare and not ownership_changed:
            return compare
        if manager is not None:
            self.store.record_update(res, current, new, manager)
        if res == CRD and not dry:
            self._serve_crd(new)
        return self._write(res, new, "MODIFIED", dry)

    async def _watch(self, request: web.Request, target: _Target) -> web.StreamResponse:
        store, query = self.store, request.query
        bookmarks = query.get("allowWatchBookmarks") == "true"
        partial = metadata_only(request.headers.get("Accept", ""), "PartialObjectMetadata")
        initial_events = watch_list_requested(query) if self.watch_list else False
        try:
            timeout = float(query.get("timeoutSeconds", "1800"))
            since = query.get("resourceVersion", "")
            rv = int(since) if since not in ("", "0") else None
        except ValueError as error:
            raise ApiFailure(400, f"invalid watch parameter: {error}") from error
        selector = Selector.from_query(target.res, query)
        watcher = Watcher(target.res, target.namespace, bookmarks, selector.matches)
        if rv is not None and rv > store.rv:
            raise ApiFailure.too_large(since)
        expired = rv is not None and rv < store.oldest_rv and not initial_events
        if expired and not self.expired_watch_as_event:
            raise ApiFailure.expired(since, store.oldest_rv)
        initial: list[tuple[str, Any]] = []
        if expired:
            initial = [("ERROR", ApiFailure.expired(since, store.oldest_rv).body)]
        elif rv is None or initial_events:
            # "Get State and Start at Most Recent" (and the watch-list's initial events): ADDED
            # for the current objects, then the changes after them.
            initial = [
                ("ADDED", obj)
                for obj in store.list_objects(target.res, target.namespace)
                if selector.matches(obj)
            ]
            store.watchers.add(watcher)
        else:
            initial = [(e.type, e.obj) for e in store.events_since(watcher, rv)]
            store.watchers.add(watcher)
        at_start = store.rv
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        try:
            await response.prepare(request)

            def shown(obj: dict[str, Any]) -> dict[str, Any]:
                if partial:
                    return partial_object(obj)
                return {**obj, "apiVersion": target.res.api_version}  # the version watched

            for kind, obj in initial:
                await _send(response, kind, shown(obj) if kind != "ERROR" else obj)
            if expired:
                await response.write_eof()
                return response
            if initial_events:
                end = _bookmark(target.res, at_start, partial)
                end["metadata"]["annotations"] = {INITIAL_EVENTS_END: "true"}
                await _send(response, "BOOKMARK", end)
            started = time.monotonic()
            deadline = started + timeout
            # kube-apiserver sends a bookmark about once a minute and one shortly before a
            # watch's timeout ends (so a client resumes from a fresh resourceVersion).
            last_call = max(started, deadline - min(self.bookmark_lead, timeout / 2))
            next_bookmark = min(started + self.bookmark_interval, last_call)
            while True:
                now = time.monotonic()
                if now >= deadline:
                    break
                wake = min(deadline, next_bookmark) if bookmarks else deadline
                try:
                    kind, item = await asyncio.wait_for(watcher.queue.get(), max(0.0, wake - now))
                except TimeoutError:
                    if bookmarks and time.monotonic() >= next_bookmark and next_bookmark < deadline:
                        await _send(response, "BOOKMARK", _bookmark(target.res, store.rv, partial))
                        after = time.monotonic() + self.bookmark_interval
                        next_bookmark = after if next_bookmark >= last_call else min(after, last_call)
                    continue
                if kind == "EVENT":
                    await _send(response, item.type, shown(item.obj))
                elif kind == "BOOKMARK":
                    await _send(response, "BOOKMARK", _bookmark(target.res, item, partial))
                elif kind == "EXPIRED":
                    failure = ApiFailure(410, "The resourceVersion for the provided watch is too old.")
                    await _send(response, "ERROR", failure.body)
                    break
                elif kind == "DROP":
                    if request.transport is not None:
                        request.transport.abort()
                    return response
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            store.watchers.discard(watcher)
        return response


def _bookmark(res: ResourceType, rv: int, partial: bool = False) -> dict[str, Any]:
    if partial:
        return {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": str(rv)},
        }
    return {"kind": res.kind, "apiVersion": res.api_version, "metadata": {"resourceVersion": str(rv)}}


async def _send(response: web.StreamResponse, kind: str, obj: Any) -> None:
    await response.write(json.dumps({"type": kind, "object": obj}).encode() + b"\n")


def _warning(text: str) -> str:
    """An RFC 7234 warning as kube-apiserver writes it: ``299 - "text"`` (quotes escaped)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'


def _strict_failure(res: ResourceType, unknown: list[str], patched: str | None) -> ApiFailure:
    """fieldValidation=Strict and unknown fields, as kube-apiserver answers it: a create or update
    is 400 (the body cannot be decoded as the kind); a merge or JSON patch is 422 on ``patch``,
    whose value is the patched object (JSON) before pruning."""
    listed = ", ".join(f'unknown field "{path}"' for path in unknown)
    decoding = f"strict decoding error: {listed}"
    if patched is None:
        message = f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: {decoding}'
        return ApiFailure(400, message, reason="BadRequest")
    cause = {
        "reason": "FieldValueInvalid",
        "message": f"Invalid value: {json.dumps(patched)}: {decoding}",
        "field": "patch",
    }
    return ApiFailure.invalid("", "", "", [cause])


def _what(res: ResourceType) -> str:
    return f"{res.plural}.{res.group}" if res.group else res.plural


def _dry_query(query: Any) -> bool:
    values = query.getall("dryRun", []) if hasattr(query, "getall") else [query.get("dryRun", "")]
    values = [v for v in values if v]
    for value in values:
        if value != "All":
            raise ApiFailure(
                400, f'dryRun: Unsupported value: "{value}": supported values: "All"', reason="BadRequest"
            )
    return bool(values)


def _dry_options(options: dict[str, Any]) -> bool:
    """``dryRun`` in a DeleteOptions body (kubectl sends it there)."""
    values = options.get("dryRun") or []
    if not isinstance(values, list) or any(v != "All" for v in values):
        raise ApiFailure(
            400, f'dryRun: Unsupported value: {values!r}: supported values: "All"', reason="BadRequest"
        )
    return bool(values)


def _dry(request: web.Request) -> bool:
    return _dry_query(request.query)


def _field_validation(query: Any) -> None:
    mode = query.get("fieldValidation", "")
    if mode not in ("", "Ignore", "Warn", "Strict"):
        raise ApiFailure(
            400,
            f'fieldValidation: Unsupported value: "{mode}": supported values: "Ignore", "Strict", "Warn"',
            reason="BadRequest",
        )


def _json_any(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as error:
        raise ApiFailure(400, f"the request body is not valid JSON: {error}") from error


def _body_object(content_type: str, body: bytes) -> dict[str, Any]:
    """A create or update body: JSON (or YAML, as kube-apiserver also decodes); any other media
    type (e.g. protobuf, which this server does not read) answers 415 UnsupportedMediaType."""
    if content_type in ("application/yaml", "application/apply-patch+yaml"):
        return _yaml_object(body)
    if content_type not in ("application/json", "application/octet-stream", ""):
        raise ApiFailure(
            415,
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json, application/yaml",
            reason="UnsupportedMediaType",
        )
    return _json_object(body)


def _json_object(body: bytes) -> dict[str, Any]:
    value = _json_any(body)
    if not isinstance(value, dict):
        raise ApiFailure(400, "the request body must be a JSON object")
    return value


def _yaml_object(body: bytes) -> dict[str, Any]:
    try:
        value = yaml.safe_load(body)
    except yaml.YAMLError as error:
        raise ApiFailure(400, f"error decoding YAML: {error}") from error
    if not isinstance(value, dict):
        raise ApiFailure(400, "the apply configuration must be an object")
    return value


_KUBE_VERSION = re.compile(r"^v([1-9][0-9]*)(?:(alpha|beta)([1-9][0-9]*))?$")


def _version_priority(version: str) -> tuple[int, int, int, str]:
    """Kubernetes' version priority (apimachinery's CompareKubeAwareVersionStrings), first = preferred:
    GA before beta before alpha, higher numbers first (v1alpha2 before v1alpha1), then any other
    string alphabetically."""
    match = _KUBE_VERSION.match(version)
    if match is None:
        return (3, 0, 0, version)
    major, stage, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -int(major), -int(minor or 0), version)
