"""Domain XML in and out with the standard library only, keeping what ElementTree would lose.

``parse_domain`` drives expat without namespace processing, so ``<qemu:commandline>`` stays
``qemu:commandline`` and ``xmlns:qemu`` stays an attribute where it was written: the document goes
back out with the same prefixes, namespace declarations, attribute order and comments. It refuses
any ``<!DOCTYPE>`` or entity declaration, so no entity expansion or external entity can happen.

``to_xml`` writes empty elements the way the input did: KubeVirt's Go ``encoding/xml`` writes
``<x></x>``, libvirt writes ``<x/>``.

Standard library only: this runs in KubeVirt's sidecar-shim image.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from xml.parsers import expat

from kvnuma.errors import InputError

__all__ = ["DomainDoc", "parse_domain", "to_xml"]

MAX_DOMAIN_CHARS = 16 << 20


class _Refused(Exception):
    pass


def _refuse(what: str) -> Callable[..., int]:
    def handler(*_args: object) -> int:
        raise _Refused(what)

    return handler


@dataclass
class DomainDoc:
    """A parsed domain: the root element and how the input wrote empty elements."""

    root: ET.Element
    short_empty_elements: bool


def parse_domain(text: str, *, source: str = "domain XML") -> DomainDoc:
    """Parse ``text``; InputError naming ``source``, the line and the problem if it is not a
    well-formed ``<domain>`` document or declares a DTD or entities."""
    if len(text) > MAX_DOMAIN_CHARS:
        raise InputError(source, f"larger than {MAX_DOMAIN_CHARS} characters")
    builder = ET.TreeBuilder(insert_comments=True)
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.ordered_attributes = True

    def start(name: str, attributes: list[str]) -> None:
        builder.start(name, {attributes[i]: attributes[i + 1] for i in range(0, len(attributes), 2)})

    parser.StartElementHandler = start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.CommentHandler = builder.comment
    parser.StartDoctypeDeclHandler = _refuse("a DOCTYPE declaration")
    parser.EntityDeclHandler = _refuse("an entity declaration")
    parser.UnparsedEntityDeclHandler = _refuse("an unparsed entity declaration")
    parser.ExternalEntityRefHandler = _refuse("an external entity reference")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(text, True)
    except _Refused as refused:
        raise InputError(source, f"refused: the document contains {refused}") from None
    except expat.ExpatError as error:
        problem = expat.ErrorString(error.code)
        raise InputError(
            source, f"not well-formed XML: {problem} at line {error.lineno}, column {error.offset + 1}"
        ) from None
    root = builder.close()
    if root.tag != "domain":
        raise InputError(source, f"the root element is <{root.tag}>, expected <domain>")
    return DomainDoc(root=root, short_empty_elements="/>" in text)


def to_xml(doc: DomainDoc) -> str:
    """The document as text, without an XML declaration, ending in a newline."""
    text = ET.tostring(doc.root, encoding="unicode", short_empty_elements=doc.short_empty_elements)
    if doc.short_empty_elements:
        text = text.replace(" />", "/>")  # ElementTree writes <x />; libvirt writes <x/>
    return text + "\n"
