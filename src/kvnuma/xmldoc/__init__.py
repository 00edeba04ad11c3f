"""kvnuma's one XML reader and writer: safe (no DTDs, no entities) and preserving, standard
library only.

``parse_document`` / ``parse_element``: expat in (the safe front end), standard
``xml.etree.ElementTree`` elements out; ``to_text``: the same text back out (prefixes, attribute
order, comments, prolog, empty-element forms). Callers work on the tree with ElementTree's API.

Used by the capabilities reader, the domain merge (``kvnuma.render``), PCI placement and the
KubeVirt hook, which runs in the sidecar-shim image where only the standard library exists.
"""

from kvnuma.xmldoc.document import (
    LONG,
    MAX_XML_BYTES,
    SHORT,
    SPACED,
    XmlDoc,
    parse_document,
    parse_element,
    to_text,
)

__all__ = [
    "LONG",
    "MAX_XML_BYTES",
    "SHORT",
    "SPACED",
    "XmlDoc",
    "parse_document",
    "parse_element",
    "to_text",
]
