"""kvnuma's one XML reader and writer: safe (no DTDs, no entities) and preserving, standard
library only, fast to import.

    element     ``Element``: ElementTree's interface in plain Python (``find``, ``SubElement``,
                ``indent``, comments...), without importing ``xml.etree`` (13 ms in the hook)
    document    ``parse_document`` / ``to_text``: expat in, the same text back out (prefixes,
                attribute order, comments, prolog, empty-element forms); ``parse_element`` for
                readers that only want the tree

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
from kvnuma.xmldoc.element import Comment, Element, ProcessingInstruction, SubElement, copy_tree, indent

__all__ = [
    "LONG",
    "MAX_XML_BYTES",
    "SHORT",
    "SPACED",
    "Comment",
    "Element",
    "ProcessingInstruction",
    "SubElement",
    "XmlDoc",
    "copy_tree",
    "indent",
    "parse_document",
    "parse_element",
    "to_text",
]
