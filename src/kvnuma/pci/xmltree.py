"""Former names of PCI placement's XML reader and writer; both are ``kvnuma.xmldoc``'s now.

Kept for ``kvnuma.placement.pci_step``; new code calls ``kvnuma.xmldoc.parse_document`` and
``to_text``. Not part of the hook bundle.
"""

from __future__ import annotations

from kvnuma.xmldoc import XmlDoc, parse_document, to_text

__all__ = ["DomainDoc", "parse_domain", "to_xml"]

DomainDoc = XmlDoc


def parse_domain(text: str, *, source: str = "domain XML") -> XmlDoc:
    return parse_document(text, source=source, root="domain")


def to_xml(doc: XmlDoc) -> str:
    return to_text(doc)
