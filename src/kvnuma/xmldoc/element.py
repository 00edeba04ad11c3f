"""A small element tree with ElementTree's interface, in plain Python.

``xml.etree.ElementTree`` costs the hook process about 13 ms to import (it pulls in ``re``,
``enum``, ``weakref``...), more than the whole placement; this class is what kvnuma's XML code
uses instead. It keeps ElementTree's names and behaviour for what kvnuma needs: ``tag``,
``attrib`` (in document order), ``text``, ``tail``, children by index, ``find``/``findall``/
``findtext``/``iter`` with simple paths (``a/b``, ``*``, ``.``, ``.//x``, ``[@name]``,
``[@name='value']``), ``Element``, ``SubElement``, ``Comment``, ``ProcessingInstruction`` and
``indent``. Comments and processing instructions are elements whose ``tag`` is the ``Comment``
or ``ProcessingInstruction`` function, as in ElementTree.

``form`` remembers how the input wrote an empty element (``"/>"``, ``" />"`` or ``"></"``) so a
document goes back out the way it came in; elements made here have ``form`` None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET
    from collections.abc import Iterator
    from typing import overload
else:

    def overload(function: object) -> object:
        return function


__all__ = ["Comment", "Element", "ProcessingInstruction", "SubElement", "copy_tree", "indent"]


class Element:
    __slots__ = ("attrib", "children", "form", "tag", "tail", "text")

    def __init__(self, tag: str, attrib: dict[str, str] | None = None, **extra: str) -> None:
        self.tag: str = tag
        self.attrib: dict[str, str] = {**attrib, **extra} if attrib else extra
        self.text: str | None = None
        self.tail: str | None = None
        self.children: list[Element] = []
        self.form: str | None = None

    def __repr__(self) -> str:
        return f"<Element {self.tag!r} at {id(self):#x}>"

    def __len__(self) -> int:
        return len(self.children)

    def __bool__(self) -> bool:
        return True  # an element is never false, whatever its number of children

    def __iter__(self) -> Iterator[Element]:
        return iter(self.children)

    def __getitem__(self, index: int) -> Element:
        return self.children[index]

    def append(self, child: Element) -> None:
        self.children.append(child)

    def extend(self, children: list[Element]) -> None:
        self.children.extend(children)

    def insert(self, index: int, child: Element) -> None:
        self.children.insert(index, child)

    def remove(self, child: Element) -> None:
        for position, candidate in enumerate(self.children):
            if candidate is child:
                del self.children[position]
                return
        raise ValueError("Element.remove(x): x not in list")

    @overload
    def get(self, key: str, default: None = None) -> str | None: ...
    @overload
    def get(self, key: str, default: str) -> str: ...  # noqa: F811 - overload, see TYPE_CHECKING
    def get(self, key: str, default: str | None = None) -> str | None:  # noqa: F811
        return self.attrib.get(key, default)

    def set(self, key: str, value: str) -> None:
        self.attrib[key] = value

    def keys(self) -> list[str]:
        return list(self.attrib)

    def items(self) -> list[tuple[str, str]]:
        return list(self.attrib.items())

    def iter(self, tag: str | None = None) -> Iterator[Element]:
        """This element and its descendants in document order (``tag`` None or "*": all)."""
        if tag is None or tag in ("*", self.tag):
            yield self
        for child in self.children:
            yield from child.iter(tag)

    def find(self, path: str) -> Element | None:
        if path in _PLAIN or _plain(path):  # a child's tag: no path to walk
            for child in self.children:
                if child.tag == path:
                    return child
            return None
        return next(iter(_select(self, path)), None)

    def findall(self, path: str) -> list[Element]:
        if path in _PLAIN or _plain(path):
            return [child for child in self.children if child.tag == path]
        return _select(self, path)

    def findtext(self, path: str, default: str | None = None) -> str | None:
        found = self.find(path)
        return default if found is None else found.text or ""

    def copy_tree(self) -> Element:
        """A deep copy (``copy.deepcopy`` does the same through ``__deepcopy__``)."""
        twin = Element.__new__(Element)
        twin.tag = self.tag
        twin.attrib = dict(self.attrib)
        twin.text = self.text
        twin.tail = self.tail
        twin.form = self.form
        twin.children = [child.copy_tree() for child in self.children]
        return twin

    def __deepcopy__(self, memo: dict[int, object]) -> Element:
        return self.copy_tree()


def SubElement(parent: Element, tag: str, attrib: dict[str, str] | None = None, **extra: str) -> Element:
    element = Element(tag, attrib, **extra)
    parent.children.append(element)
    return element


def _special(tag: object, text: str | None) -> Element:
    element = Element.__new__(Element)
    element.tag = tag  # type: ignore[assignment]
    element.attrib = {}
    element.text = text
    element.tail = None
    element.children = []
    element.form = None
    return element


def Comment(text: str | None = None) -> Element:
    return _special(Comment, text)


def ProcessingInstruction(target: str, text: str | None = None) -> Element:
    return _special(ProcessingInstruction, f"{target} {text}" if text else target)


def copy_tree(tree: Element | ET.Element) -> Element:
    """A deep copy of ``tree``, an ``Element`` or an ``xml.etree.ElementTree`` element."""
    if isinstance(tree, Element):
        return tree.copy_tree()
    tag: object = tree.tag
    if isinstance(tag, str):
        twin = Element(tag, dict(tree.attrib))
    else:  # ElementTree marks comments and processing instructions by these functions as tag
        kind = getattr(tag, "__name__", "")
        twin = _special(Comment if kind == "Comment" else ProcessingInstruction, tree.text)
    twin.text = tree.text
    twin.tail = tree.tail
    twin.children = [copy_tree(child) for child in tree]
    return twin


def indent(tree: Element, space: str = "  ", level: int = 0) -> None:
    """Indent ``tree``'s descendants in place, as ``xml.etree.ElementTree.indent`` does."""
    if level < 0:
        raise ValueError(f"Initial indentation level must be >= 0, got {level}")
    if not len(tree):
        return
    indentations = ["\n" + level * space]

    def indent_children(element: Element, depth: int) -> None:
        if len(indentations) <= depth + 1:
            indentations.append(indentations[depth] + space)
        inner = indentations[depth + 1]
        if not element.text or not element.text.strip():
            element.text = inner
        for child in element.children:
            if len(child):
                indent_children(child, depth + 1)
            if not child.tail or not child.tail.strip():
                child.tail = inner
        last = element.children[-1]
        if not (last.tail or "").strip():
            last.tail = indentations[depth]

    indent_children(tree, 0)


# --- paths ------------------------------------------------------------------------------------
# A step is (descendants?, tag or "*" or ".", attribute name or "", attribute value or None).
_Step = tuple[bool, str, str, "str | None"]
_PATHS: dict[str, list[_Step]] = {}
_PLAIN: set[str] = set()


def _plain(path: str) -> bool:
    """``path`` is a bare tag name (remembered in ``_PLAIN`` when it is)."""
    if path in ("", ".", "..", "*") or "/" in path or "[" in path:
        return False
    _PLAIN.add(path)
    return True


def _compile(path: str) -> list[_Step]:
    steps: list[_Step] = []
    descendants = False
    for raw in path.split("/"):
        if not raw:
            if descendants or not steps:
                raise SyntaxError(f"unsupported path {path!r}")
            descendants = True
            continue
        tag, bracket, predicate = raw.partition("[")
        name, value = "", None
        if bracket:
            body = predicate[:-1] if predicate.endswith("]") else ""
            name, equals, quoted = body.partition("=")
            if not name.startswith("@") or (equals and (len(quoted) < 2 or quoted[0] != quoted[-1])):
                raise SyntaxError(f"unsupported path {path!r}: only [@name] and [@name='value']")
            name = name[1:]
            value = quoted[1:-1] if equals else None
        if not tag or "[" in predicate[:-1]:
            raise SyntaxError(f"unsupported path {path!r}")
        steps.append((descendants, tag, name, value))
        descendants = False
    if descendants:
        raise SyntaxError(f"unsupported path {path!r}")
    return steps


def _matches(element: Element, tag: str, name: str, value: str | None) -> bool:
    if tag != element.tag and (tag != "*" or not isinstance(element.tag, str)):
        return False
    if not name:
        return True
    return name in element.attrib if value is None else element.attrib.get(name) == value


def _select(element: Element, path: str) -> list[Element]:
    steps = _PATHS.get(path)
    if steps is None:
        steps = _PATHS[path] = _compile(path)
    current = [element]
    for descendants, tag, name, value in steps:
        found: list[Element] = []
        for parent in current:
            if tag == ".":
                found.extend(list(parent.iter())[1:] if descendants else [parent])
                continue
            candidates = list(parent.iter())[1:] if descendants else parent.children
            found.extend(c for c in candidates if _matches(c, tag, name, value))
        current = found
    return current
