"""XML parsing that refuses DTDs and entities, with the standard library only.

``parse_xml`` drives expat directly (as defusedxml does) and builds an ``ElementTree`` element.
It refuses any ``<!DOCTYPE>``, entity declaration or external entity reference, so neither
entity expansion ("billion laughs") nor external entities (file or network reads) can happen.
Names are taken verbatim, without namespace processing: ``<qemu:commandline>`` stays
``qemu:commandline`` and its ``xmlns:qemu`` stays an attribute, so a document written back with
``ElementTree.tostring`` keeps its prefixes (libvirt domain XML relies on them).

Standard library only on purpose: KubeVirt's hook-sidecar image has nothing else.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import NoReturn
from xml.parsers import expat

from kvnuma.errors import InputError

__all__ = ["MAX_XML_BYTES", "parse_xml"]

MAX_XML_BYTES = 16 << 20
"""Refuse documents larger than this (16 MiB): no libvirt document comes near it."""


class _Refused(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def _refuse(what: str) -> Callable[..., NoReturn]:
    def handler(*_args: object) -> NoReturn:
        raise _Refused(what)

    return handler


def parse_xml(text: str | bytes, *, source: str) -> ET.Element:
    """The document's root element; InputError naming ``source`` (and the line and column) if the
    text is not well-formed XML or declares a DTD or entities."""
    if len(text) > MAX_XML_BYTES:
        raise InputError(source, f"XML document larger than {MAX_XML_BYTES} bytes")
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = _refuse("a DOCTYPE declaration")
    parser.EntityDeclHandler = _refuse("an entity declaration")
    parser.UnparsedEntityDeclHandler = _refuse("an unparsed entity declaration")
    parser.ExternalEntityRefHandler = _refuse("an external entity reference")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(text, True)
    except _Refused as refused:
        raise InputError(
            source,
            f"XML with {refused.what} at line {parser.CurrentLineNumber}, "
            f"column {parser.CurrentColumnNumber + 1} is refused (DTDs and entities are not allowed)",
        ) from None
    except expat.ExpatError as error:
        reason = expat.ErrorString(error.code) if error.code is not None else str(error)
        raise InputError(
            source, f"malformed XML: {reason} at line {error.lineno}, column {error.offset + 1}"
        ) from None
    return builder.close()
