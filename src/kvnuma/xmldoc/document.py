"""Safe, preserving XML in and out: expat builds standard ``xml.etree.ElementTree`` elements.

``parse_document`` drives expat directly, without namespace processing, and refuses any
``<!DOCTYPE>``, entity declaration or external entity reference: no entity expansion ("billion
laughs") and no external entity (file or network read) can happen. Every refusal and every
syntax error is one ``InputError`` naming the source, the line and the column. The tree it
builds is plain ElementTree (``ET.Element``, comments as ``ET.Comment``, processing instructions
as ``ET.ProcessingInstruction``): callers use ElementTree's own API on it.

What comes back out with ``to_text``, as it came in:

* names verbatim: ``<qemu:commandline>`` stays ``qemu:commandline`` and ``xmlns:qemu`` stays an
  attribute where it was written (no ``{uri}local`` names: expat runs without namespaces);
* attribute order, comments and processing instructions (inside the root and after it);
* the prolog (XML declaration, comments before the root) byte for byte;
* how each empty element was written: ``<x/>`` (libvirt), ``<x />`` or ``<x></x>`` (KubeVirt's Go
  ``encoding/xml``); elements added later take the form most of the input used.

What ElementTree cannot do, and so is done here: an ``ET.Element`` has no place for how an empty
element was written, and ``ET.tostring`` writes every empty element one way and drops the prolog.
So ``XmlDoc.forms`` remembers each parsed empty element's form (keyed by the element) and
``to_text`` is a small writer of its own, escaping as ``ET.tostring`` does
(``tests/xmldoc/test_round_trip.py`` checks both against ElementTree). And ElementTree's paths
read ``qemu:arg`` as a namespace prefix (``find("qemu:arg")`` raises SyntaxError): a verbatim
prefixed tag is found with ``iter("qemu:arg")`` or by comparing ``tag``, never by a path.

Not kept: attribute quote characters (always ``"``), character references and CDATA sections
(written as escaped text), whitespace inside tags.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pyexpat import ErrorString, ExpatError, ParserCreate
from typing import TYPE_CHECKING, Any, NoReturn

from kvnuma.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "LONG",
    "MAX_XML_BYTES",
    "MAX_XML_DEPTH",
    "MAX_XML_ELEMENTS",
    "SHORT",
    "SPACED",
    "XmlDoc",
    "parse_document",
    "parse_element",
    "to_text",
]

MAX_XML_BYTES = 16 << 20
"""Refuse documents larger than this (16 MiB): no libvirt document comes near it."""

MAX_XML_DEPTH = 200
"""Refuse elements nested deeper than this (a libvirt domain is under 10 deep): every walk over
the tree, ours and ElementTree's, then stays far from Python's recursion limit."""

MAX_XML_ELEMENTS = 100_000
"""Refuse documents with more elements than this (a domain has a few hundred): bounds memory."""

SHORT, SPACED, LONG = "/>", " />", "></"
"""The ways to write an empty element: ``<x/>``, ``<x />``, ``<x></x>``."""


@dataclass
class XmlDoc:
    """A parsed document: ``root``, the raw ``prolog`` before it and ``epilog`` after it,
    ``empty``: how to write an empty element whose form the input did not record, and ``forms``:
    how the input wrote each of its empty elements.

    A plain dataclass, not ``slots=True``: the hook bundle runs this on Python 3.9."""

    root: ET.Element
    prolog: str = ""
    epilog: str = ""
    empty: str = SHORT
    forms: dict[ET.Element, str] = field(default_factory=dict)

    @property
    def declaration(self) -> str:
        """The XML declaration (``<?xml version="1.0"?>``) the prolog starts with, or ""."""
        head = self.prolog.lstrip()
        return head[: head.index("?>") + 2] if head.startswith("<?xml") and "?>" in head else ""


class _Refused(Exception):
    pass


class _TooBig(Exception):
    pass


def _refuse(what: str) -> Callable[..., NoReturn]:
    def handler(*_args: object) -> NoReturn:
        raise _Refused(what)

    return handler


def parse_element(text: str | bytes, *, source: str) -> ET.Element:
    """The root element, without comments and processing instructions (for readers)."""
    return _parse(text, source, keep=False).root


def parse_document(text: str | bytes, *, source: str, root: str | None = None) -> XmlDoc:
    """The whole document (see the module text); InputError naming ``source`` if it is not
    well-formed XML, declares a DTD or entities, or (``root`` given) has another root element."""
    doc = _parse(text, source, keep=True)
    if root is not None and doc.root.tag != root:
        raise InputError(source, f"expected a <{root}> document, found <{doc.root.tag}>")
    return doc


def _parse(text: str | bytes, source: str, *, keep: bool) -> XmlDoc:
    if len(text) > MAX_XML_BYTES:
        raise InputError(source, f"XML document larger than {MAX_XML_BYTES} bytes")
    data = text.encode() if isinstance(text, str) else text
    if len(data) > MAX_XML_BYTES:
        raise InputError(source, f"XML document larger than {MAX_XML_BYTES} bytes")
    parser = ParserCreate("utf-8" if isinstance(text, str) else None)
    parser.buffer_text = True
    stack: list[ET.Element] = []
    top: list[ET.Element] = []
    last_child: list[ET.Element[Any] | None] = []  # per open element: its latest child
    marks = {"root": -1, "epilog": -1, "elements": 0}
    counts = {SHORT: 0, SPACED: 0, LONG: 0}
    forms: dict[ET.Element, str] = {}

    def add(child: ET.Element[Any]) -> None:
        stack[-1].append(child)
        last_child[-1] = child

    def start(name: str, attributes: dict[str, str]) -> None:
        if len(stack) >= MAX_XML_DEPTH:
            raise _TooBig(f"elements nested deeper than {MAX_XML_DEPTH} levels")
        marks["elements"] += 1
        if marks["elements"] > MAX_XML_ELEMENTS:
            raise _TooBig(f"more than {MAX_XML_ELEMENTS} elements")
        element = ET.Element(name, attributes)
        if stack:
            add(element)
        else:
            top.append(element)
            marks["root"] = parser.CurrentByteIndex
        stack.append(element)
        last_child.append(None)

    def end(_name: str) -> None:
        element = stack.pop()
        if last_child.pop() is not None or element.text is not None:
            return
        at = parser.CurrentByteIndex  # after "/>" for <x/>, at "</x>" for <x></x>
        form = (
            (SPACED if data[at - 3 : at - 2] in b" \t\r\n" else SHORT) if data[at - 2 : at] == b"/>" else LONG
        )
        if keep:
            forms[element] = form
        counts[form] += 1

    def characters(chunk: str) -> None:
        if not stack:
            return
        last = last_child[-1]
        if last is not None:
            last.tail = chunk if last.tail is None else last.tail + chunk
        else:
            element = stack[-1]
            element.text = chunk if element.text is None else element.text + chunk

    def outside() -> bool:
        if stack:
            return False
        if top and marks["epilog"] < 0:
            marks["epilog"] = parser.CurrentByteIndex
        return True

    def comment(body: str) -> None:
        if not outside() and keep:
            add(ET.Comment(body))

    def instruction(target: str, body: str) -> None:
        if not outside() and keep:
            add(ET.ProcessingInstruction(target, body))

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    parser.CommentHandler = comment
    parser.ProcessingInstructionHandler = instruction
    parser.StartDoctypeDeclHandler = _refuse("a DOCTYPE declaration")
    parser.EntityDeclHandler = _refuse("an entity declaration")
    parser.UnparsedEntityDeclHandler = _refuse("an unparsed entity declaration")
    parser.ExternalEntityRefHandler = _refuse("an external entity reference")
    parser.SetParamEntityParsing(0)  # XML_PARAM_ENTITY_PARSING_NEVER
    try:
        parser.Parse(data, True)
    except _TooBig as too_big:
        where = f"line {parser.CurrentLineNumber}, column {parser.CurrentColumnNumber + 1}"
        raise InputError(source, f"XML with {too_big} at {where} is refused") from None
    except _Refused as refused:
        where = f"line {parser.CurrentLineNumber}, column {parser.CurrentColumnNumber + 1}"
        raise InputError(
            source, f"XML with {refused} at {where} is refused (DTDs and entities are not allowed)"
        ) from None
    except ExpatError as error:
        reason = ErrorString(error.code) if error.code is not None else str(error)
        raise InputError(
            source, f"malformed XML: {reason} at line {error.lineno}, column {error.offset + 1}"
        ) from None
    prolog = data[: marks["root"]].decode("utf-8", "replace")
    epilog = data[marks["epilog"] :].decode("utf-8", "replace").rstrip() if marks["epilog"] >= 0 else ""
    empty = max((SHORT, SPACED, LONG), key=lambda form: counts[form])  # ties: SHORT, libvirt's
    return XmlDoc(top[0], prolog, epilog if keep else "", empty, forms)


# --- out ----------------------------------------------------------------------------------------
def _text(value: str) -> str:
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    return value


def _attribute(value: str) -> str:
    value = _text(value)
    for raw, escaped in (('"', "&quot;"), ("\r", "&#13;"), ("\n", "&#10;"), ("\t", "&#09;")):
        if raw in value:
            value = value.replace(raw, escaped)
    return value


def _attributes(attributes: dict[str, str]) -> str:
    """`` name="value"`` for each attribute, escaped as ElementTree does."""
    return "".join(
        f' {name}="{_attribute(value)}"'
        if "&" in value
        or "<" in value
        or ">" in value
        or '"' in value
        or "\n" in value
        or "\r" in value
        or "\t" in value
        else f' {name}="{value}"'
        for name, value in attributes.items()
    )


def _write(element: ET.Element, out: list[str], empty: str, forms: dict[ET.Element, str] | None) -> None:
    tag: object = element.tag
    if tag is ET.Comment:
        out.append(f"<!--{element.text or ''}-->")
    elif tag is ET.ProcessingInstruction:
        out.append(f"<?{element.text or ''}?>")
    else:
        start = f"<{tag}{_attributes(element.attrib)}" if element.attrib else f"<{tag}"
        text = element.text
        if len(element) or text:
            out.append(f"{start}>{_text(text)}" if text else f"{start}>")
            for child in element:
                _write(child, out, empty, forms)
            out.append(f"</{tag}>")
        else:
            form = empty if forms is None else forms.get(element, empty)
            out.append(f"{start}></{tag}>" if form == LONG else start + form)
    if element.tail:
        out.append(_text(element.tail))


def to_text(doc: XmlDoc, *, empty: str | None = None) -> str:
    """The document as text ending in a newline: prolog, root, epilog. ``empty`` (SHORT, SPACED
    or LONG) writes every empty element that way instead of as the input did."""
    out = [doc.prolog]
    _write(doc.root, out, empty or doc.empty, None if empty is not None else doc.forms)
    if doc.epilog:
        out.append("\n" + doc.epilog)
    out.append("\n")
    return "".join(out)
