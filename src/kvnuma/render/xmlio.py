"""Reading and writing domain XML with the standard library, keeping what a merge must keep.

``parse_domain`` drives expat directly, like ``kvnuma.topology.safexml``: names are kept
verbatim (``qemu:commandline`` and its ``xmlns:qemu`` survive untouched), any DOCTYPE, entity
declaration or external entity is refused, and - unlike the capabilities reader - comments and
processing instructions are kept so a merged document loses nothing ElementTree can hold.
``write_domain`` writes the tree back, with the original XML declaration if there was one.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import NoReturn
from xml.parsers import expat

from kvnuma.errors import InputError

__all__ = ["ParsedDomain", "parse_domain", "write_domain"]

_MAX_BYTES = 16 << 20
_DECLARATION = re.compile(r"^\s*(<\?xml[^>]*\?>)")


class _Refused(Exception):
    pass


def _refuse(what: str) -> Callable[..., NoReturn]:
    def handler(*_args: object) -> NoReturn:
        raise _Refused(what)

    return handler


class ParsedDomain:
    """The root element and the XML declaration line (or "")."""

    def __init__(self, root: ET.Element, declaration: str) -> None:
        self.root = root
        self.declaration = declaration


def parse_domain(text: str, *, source: str) -> ParsedDomain:
    if len(text) > _MAX_BYTES:
        raise InputError(source, f"domain XML larger than {_MAX_BYTES} bytes")
    builder = ET.TreeBuilder(insert_comments=True, insert_pis=True)
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.CommentHandler = builder.comment
    parser.ProcessingInstructionHandler = builder.pi
    parser.StartDoctypeDeclHandler = _refuse("a DOCTYPE declaration")
    parser.EntityDeclHandler = _refuse("an entity declaration")
    parser.UnparsedEntityDeclHandler = _refuse("an unparsed entity declaration")
    parser.ExternalEntityRefHandler = _refuse("an external entity reference")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(text, True)
    except _Refused as refused:
        raise InputError(
            source, f"XML with {refused} is refused (DTDs and entities are not allowed)"
        ) from None
    except expat.ExpatError as error:
        reason = expat.ErrorString(error.code) if error.code is not None else str(error)
        raise InputError(
            source, f"malformed XML: {reason} at line {error.lineno}, column {error.offset + 1}"
        ) from None
    root = builder.close()
    if root.tag != "domain":
        raise InputError(source, f"expected a <domain> document, found <{root.tag}>")
    match = _DECLARATION.match(text)
    return ParsedDomain(root, match.group(1) if match else "")


def write_domain(root: ET.Element, declaration: str = "") -> str:
    body = ET.tostring(root, encoding="unicode")
    return f"{declaration}\n{body}\n" if declaration else f"{body}\n"
