"""kvnuma.xmldoc refuses DTDs and entities (one InputError with source, line and column) and keeps
prefixed names verbatim."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from kvnuma.errors import InputError
from kvnuma.xmldoc import MAX_XML_BYTES, XmlDoc, parse_document, parse_element, to_text

_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    ' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n]>\n<lolz>&lol2;</lolz>'
)


@pytest.mark.parametrize(
    ("text", "what"),
    [
        pytest.param(_LAUGHS, "a DOCTYPE declaration", id="billion-laughs"),
        pytest.param(
            '<!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>', "a DOCTYPE declaration", id="external-dtd"
        ),
        pytest.param("<!DOCTYPE x><x/>", "a DOCTYPE declaration", id="bare-doctype"),
    ],
)
def test_dtds_and_entities_are_refused(text: str, what: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_element(text, source="in.xml")
    assert caught.value.source == "in.xml"
    assert what in caught.value.problem
    assert "refused" in caught.value.problem


def test_undeclared_entity_is_malformed() -> None:
    with pytest.raises(InputError, match=r"in\.xml: malformed XML: undefined entity at line 1, column 4"):
        parse_element("<x>&xxe;</x>", source="in.xml")


def test_too_large_is_refused() -> None:
    with pytest.raises(InputError, match="larger than"):
        parse_element("<x>" + " " * MAX_XML_BYTES + "</x>", source="big.xml")


def test_tree_text_tail_and_prefixes_survive() -> None:
    text = (
        "<domain xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
        "<name>vm &amp; co</name>tail<qemu:commandline><qemu:arg value='-s'/></qemu:commandline></domain>"
    )
    root = parse_element(text, source="d.xml")
    assert root.findtext("name") == "vm & co"
    assert root[0].tail == "tail"
    assert root[1].tag == "qemu:commandline"
    assert root.get("xmlns:qemu") == "http://libvirt.org/schemas/domain/qemu/1.0"
    written = to_text(XmlDoc(root))
    assert '<qemu:commandline><qemu:arg value="-s"/></qemu:commandline>' in written
    assert ET.fromstring(written)[1][0].get("value") == "-s"


def test_refusal_names_line_and_column() -> None:
    with pytest.raises(InputError) as caught:
        parse_document('<?xml version="1.0"?>\n\n<!DOCTYPE d>\n<d/>', source="f")
    assert caught.value.one_line().startswith("f: XML with a DOCTYPE declaration at line 3, column ")
