# ruff: noqa: E501
"""CustomResourceDefinitions (``apiextensions.k8s.io/v1``) and the custom resources they serve.

Following the "Extend the Kubernetes API with CustomResourceDefinitions" page and the
apiextensions-apiserver's behaviour:

* a CRD is checked before it is stored (names, scope, one storage version, a structural
  ``openAPIV3Schema`` on every version); a bad one answers 422 Invalid naming the field, and
  nothing is stored. A stored CRD is ``Established`` and its versions are served at once.
* pruning (kubeapi/pruning.py) drops the fields a structural schema does not declare;
  ``fieldValidation`` says what happens to them: ``Ignore`` drops them silently, ``Warn`` (the
  default) adds a ``Warning: 299 - "unknown field \\"spec.x\\""`` header per field, ``Strict``
  answers 400 BadRequest ``X in version "v1" cannot be handled as a X: strict decoding error:
  unknown field "spec.x"`` (create, update; a merge or JSON patch: 422 Invalid on ``patch``).
* validation after pruning: ``type`` (with ``nullable`` and ``x-kubernetes-int-or-string``),
  ``required``, ``enum``, ``minimum``/``maximum``, ``minLength``/``maxLength``, ``pattern``,
  ``minItems``/``maxItems``; a failure answers 422 Invalid with one cause per field.

Not implemented: defaulting, CEL rules, conversion webhooks (versions are served from one
storage with ``apiVersion`` rewritten, as the ``None`` conversion strategy does). Differs: a
server-side apply carrying a field the schema does not declare is treated like any write here
(pruned, and ``fieldValidation`` applies); kube-apiserver refuses it whatever ``fieldValidation``
says ("failed to create typed patch object ... field not declared in schema", an HTTP 500 that
kubernetes#139253 reports as a bug).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from kubeapi.pruning import META_KEPT
from kubeapi.store import ResourceType

__all__ = ["CRD", "check_crd", "crd_resources", "crd_schema", "schema_errors"]

CRD = ResourceType(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    "CustomResourceDefinition",
    False,
    status=True,
    short_names=("crd", "crds"),
)

_TYPES = {"object", "array", "string", "integer", "number", "boolean"}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


def _cause(field: str, message: str, reason: str = "FieldValueInvalid") -> dict[str, str]:
    return {"reason": reason, "message": message, "field": field}


def _structural(node: Any, path: str, causes: list[dict[str, str]], root: bool = False) -> None:
    """The structural-schema rules that matter to pruning: every node says its type (unless it is
    int-or-string or preserves unknown fields), types are known, arrays have items."""
    if not isinstance(node, dict):
        causes.append(_cause(path, "Invalid value: must be an object"))
        return
    kind = node.get("type")
    loose = node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")
    if kind is None and not loose:
        causes.append(
            _cause(
                f"{path}.type",
                "Required value: must not be empty for specified object fields",
                "FieldValueRequired",
            )
        )
    elif kind is not None and kind not in _TYPES:
        causes.append(
            _cause(
                f"{path}.type",
                f'Unsupported value: "{kind}": supported values: "array", "boolean", "integer", "number", "object", "string"',
                "FieldValueNotSupported",
            )
        )
    if root and kind != "object":
        causes.append(_cause(f"{path}.type", f'Invalid value: "{kind}": must be object at the root'))
    if kind == "array" and "items" not in node:
        causes.append(_cause(f"{path}.items", "Required value: must be specified", "FieldValueRequired"))
    if "properties" in node and "additionalProperties" in node and node["additionalProperties"] is not False:
        causes.append(
            _cause(
                f"{path}.additionalProperties",
                "Forbidden: additionalProperties and properties are mutual exclusive",
                "FieldValueForbidden",
            )
        )
    for name, child in (node.get("properties") or {}).items():
        _structural(child, f"{path}.properties[{name}]", causes)
    if isinstance(node.get("items"), dict):
        _structural(node["items"], f"{path}.items", causes)
    if isinstance(node.get("additionalProperties"), dict):
        _structural(node["additionalProperties"], f"{path}.additionalProperties", causes)


def check_crd(crd: dict[str, Any]) -> list[dict[str, str]]:
    """The reasons ``crd`` is invalid (empty when it may be stored)."""
    causes: list[dict[str, str]] = []
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural = spec.get("group", ""), names.get("plural", "")
    if not group or not _DNS_SUBDOMAIN.match(group) or "." not in group:
        causes.append(
            _cause("spec.group", f'Invalid value: "{group}": should be a domain with at least one dot')
        )
    if not plural or not _DNS_LABEL.match(plural):
        causes.append(
            _cause("spec.names.plural", f'Invalid value: "{plural}": a lowercase RFC 1123 label is required')
        )
    for field in ("singular",):
        value = names.get(field, "")
        if value and not _DNS_LABEL.match(value):
            causes.append(
                _cause(
                    f"spec.names.{field}", f'Invalid value: "{value}": a lowercase RFC 1123 label is required'
                )
            )
    kind = names.get("kind", "")
    if not _KIND.match(kind):
        causes.append(_cause("spec.names.kind", "Required value" if not kind else f'Invalid value: "{kind}"'))
    name = crd.get("metadata", {}).get("name", "")
    if name != f"{plural}.{group}":
        causes.append(
            _cause("metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group')
        )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(
            _cause(
                "spec.scope",
                f'Unsupported value: "{spec.get("scope", "")}": supported values: "Cluster", "Namespaced"',
                "FieldValueNotSupported",
            )
        )
    versions = spec.get("versions") or []
    if not versions:
        causes.append(
            _cause("spec.versions", "Invalid value: must have exactly one version marked as storage version")
        )
    if sum(1 for v in versions if isinstance(v, dict) and v.get("storage")) != 1:
        causes.append(
            _cause("spec.versions", "Invalid value: must have exactly one version marked as storage version")
        )
    for index, version in enumerate(versions):
        where = f"spec.versions[{index}]"
        if not isinstance(version, dict) or not _DNS_LABEL.match(str(version.get("name", ""))):
            causes.append(_cause(f"{where}.name", "Invalid value: must be a DNS-1035 label"))
            continue
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            causes.append(
                _cause(
                    f"{where}.schema.openAPIV3Schema",
                    "Required value: schemas are required",
                    "FieldValueRequired",
                )
            )
        else:
            _structural(schema, f"{where}.schema.openAPIV3Schema", causes, root=True)
    return causes


def crd_resources(crd: dict[str, Any]) -> list[ResourceType]:
    spec = crd["spec"]
    names = spec["names"]
    return [
        ResourceType(
            spec["group"],
            version["name"],
            names["plural"],
            names["kind"],
            spec["scope"] == "Namespaced",
            status="status" in (version.get("subresources") or {}),
            custom=True,
            short_names=tuple(names.get("shortNames") or ()),
            singular=names.get("singular") or names["kind"].lower(),
        )
        for version in spec["versions"]
        if version.get("served")
    ]


def crd_schema(crd: dict[str, Any], version: str) -> dict[str, Any]:
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            schema: dict[str, Any] = entry["schema"]["openAPIV3Schema"]
            return schema
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


# --- validation -------------------------------------------------------------------------------
def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return True


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else f'"{value}"'
    return (
        text if isinstance(value, (str, int, float, bool)) or value is None else f'"{type(value).__name__}"'
    )


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _string(value: Any) -> bool:
    return isinstance(value, str)


def _array(value: Any) -> bool:
    return isinstance(value, list)


# The bounds a schema may set: (keyword, the values it applies to, value beyond the bound?,
# the message kube-apiserver gives (field, value, bound), the cause's reason).
_BOUNDS: tuple[
    tuple[str, Callable[[Any], bool], Callable[[Any, Any], bool], Callable[[str, Any, Any], str], str], ...
] = (
    ("minimum", _number, lambda v, b: v < b,
     lambda f, v, b: f"Invalid value: {v}: {f} in body should be greater than or equal to {b}", "FieldValueInvalid"),
    ("maximum", _number, lambda v, b: v > b,
     lambda f, v, b: f"Invalid value: {v}: {f} in body should be less than or equal to {b}", "FieldValueInvalid"),
    ("minLength", _string, lambda v, b: len(v) < b,
     lambda f, v, b: f'Invalid value: "{v}": {f} in body should be at least {b} chars long', "FieldValueInvalid"),
    ("maxLength", _string, lambda v, b: len(v) > b,
     lambda f, v, b: f"Too long: may not be more than {b} bytes", "FieldValueTooLong"),
    ("minItems", _array, lambda v, b: len(v) < b,
     lambda f, v, b: f"Invalid value: {len(v)}: {f} in body should have at least {b} items", "FieldValueInvalid"),
    ("maxItems", _array, lambda v, b: len(v) > b,
     lambda f, v, b: f"Too many: {len(v)}: must have at most {b} items", "FieldValueTooMany"),
)  # fmt: skip


def schema_errors(obj: Any, schema: dict[str, Any]) -> list[dict[str, str]]:
    causes: list[dict[str, str]] = []
    _validate(obj, schema, "", causes, root=True)
    return causes


def _validate(
    value: Any, schema: Any, path: str, causes: list[dict[str, str]], *, root: bool = False
) -> None:
    if not isinstance(schema, dict):
        return
    field = path or "<root>"
    if value is None:
        if not schema.get("nullable") and schema.get("type"):
            causes.append(
                _cause(
                    field, f'Invalid value: "null": {field} in body must be of type {schema["type"]}: "null"'
                )
            )
        return
    kind = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        if not isinstance(value, (int, str)) or isinstance(value, bool):
            causes.append(
                _cause(
                    field,
                    f"Invalid value: {_show(value)}: {field} in body must be of type integer,string: {_show(value)}",
                )
            )
            return
    elif kind and not _type_ok(value, kind):
        shown = {
            dict: "object",
            list: "array",
            str: "string",
            bool: "boolean",
            int: "integer",
            float: "number",
        }
        actual = shown.get(type(value), "unknown")
        causes.append(
            _cause(field, f'Invalid value: "{actual}": {field} in body must be of type {kind}: "{actual}"')
        )
        return
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(_show(v) for v in schema["enum"])
        causes.append(
            _cause(
                field,
                f"Unsupported value: {_show(value)}: supported values: {allowed}",
                "FieldValueNotSupported",
            )
        )
    for keyword, applies, beyond, message, reason in _BOUNDS:
        if keyword in schema and applies(value) and beyond(value, schema[keyword]):
            causes.append(_cause(field, message(field, value, schema[keyword]), reason))
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        causes.append(
            _cause(field, f"Invalid value: \"{value}\": {field} in body should match '{schema['pattern']}'")
        )
    if isinstance(value, list):
        for index, item in enumerate(value):
            _validate(item, schema.get("items"), f"{path}[{index}]", causes)
    if isinstance(value, dict):
        for name in schema.get("required") or []:
            if name not in value:
                causes.append(_cause(_join(path, name), "Required value", "FieldValueRequired"))
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, child in value.items():
            if root and key in META_KEPT:
                continue
            if key in properties:
                _validate(child, properties[key], _join(path, key), causes)
            elif isinstance(additional, dict):
                _validate(child, additional, _join(path, key), causes)
