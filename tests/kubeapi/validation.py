"""Object metadata validation, as apimachinery's ``ValidateObjectMeta`` does it.

* ``metadata.name``: a DNS-1123 subdomain (at most 253 characters of ``[a-z0-9.-]``, starting and
  ending alphanumeric) for Nodes and custom resources; ``metadata.generateName`` is not served.
* ``metadata.labels``: keys are qualified names (an optional DNS-1123 subdomain prefix and ``/``, then
  at most 63 characters of ``[A-Za-z0-9_.-]`` starting and ending alphanumeric); values are empty or
  at most 63 such characters.
* ``metadata.annotations``: keys are qualified names; all annotations together at most 256 KiB.

A bad object answers 422 Invalid with ``details.causes`` naming each field; nothing is stored.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["metadata_causes"]

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAME_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
    "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
_ANNOTATIONS_LIMIT = 256 * 1024


def _invalid(field: str, value: Any, detail: str) -> dict[str, str]:
    return {"reason": "FieldValueInvalid", "message": f'Invalid value: "{value}": {detail}', "field": field}


def _qualified_name(key: str) -> list[str]:
    problems = []
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not _SUBDOMAIN.match(prefix)):
        problems.append("prefix part " + _SUBDOMAIN_MSG)
    if not name:
        problems.append("name part must be non-empty")
    elif len(name) > 63:
        problems.append("name part must be no more than 63 characters")
    elif not _NAME_PART.match(name):
        problems.append(_NAME_PART_MSG)
    return problems


def metadata_causes(meta: Any) -> list[dict[str, str]]:
    if not isinstance(meta, dict):
        return [_invalid("metadata", meta, "must be an object")]
    causes: list[dict[str, str]] = []
    name = meta.get("name", "")
    if not name:
        causes.append(
            {
                "reason": "FieldValueRequired",
                "message": "Required value: name or generateName is required",
                "field": "metadata.name",
            }
        )
    elif not isinstance(name, str) or len(name) > 253 or not _SUBDOMAIN.match(name):
        causes.append(_invalid("metadata.name", name, _SUBDOMAIN_MSG))
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        causes.append(_invalid("metadata.labels", labels, "must be a map of strings"))
        labels = {}
    for key, value in labels.items():
        for problem in _qualified_name(str(key)):
            causes.append(_invalid("metadata.labels", key, problem))
        if not isinstance(value, str):
            causes.append(_invalid("metadata.labels", value, "must be a string"))
        elif len(value) > 63:
            causes.append(_invalid("metadata.labels", value, "must be no more than 63 characters"))
        elif not _LABEL_VALUE.match(value):
            causes.append(_invalid("metadata.labels", value, _VALUE_MSG))
    annotations = meta.get("annotations") or {}
    if not isinstance(annotations, dict):
        causes.append(_invalid("metadata.annotations", annotations, "must be a map of strings"))
        annotations = {}
    total = 0
    for key, value in annotations.items():
        for problem in _qualified_name(str(key).lower()):
            causes.append(_invalid("metadata.annotations", key, problem))
        total += len(str(key)) + len(str(value))
    if total > _ANNOTATIONS_LIMIT:
        causes.append(
            {
                "reason": "FieldValueTooLong",
                "message": f"Too long: must have at most {_ANNOTATIONS_LIMIT} bytes",
                "field": "metadata.annotations",
            }
        )
    return causes
