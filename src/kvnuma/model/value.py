"""``FrozenValue``: the base of the model's immutable values, without the ``dataclasses`` module.

The model is on every command's start-up path, and importing ``dataclasses`` (which imports
``inspect``, ``ast``, ``dis``, ``tokenize`` ...) plus building the classes cost about half of
``kvnuma discover -o json`` (~20 ms of ~40 on the reference machine). A subclass names its fields
in ``__slots__`` (declaration order), annotates them, and writes a plain ``__init__`` that sets
them with ``object.__setattr__``. It gets what ``@dataclass(frozen=True, slots=True)`` gave:

* ``==`` and ``hash`` over the fields (only against the same class), a ``repr`` in the dataclass
  form, ``__match_args__``, assignment and deletion refused (``FrozenInstanceError``, an
  ``AttributeError``), ``copy``/``pickle`` support;
* ``dataclasses.replace``, ``fields``, ``asdict`` and ``is_dataclass`` still work: the
  ``__dataclass_fields__`` they read are built, and ``dataclasses`` imported, on first use.
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from dataclasses import Field
    from typing import Any, ClassVar, dataclass_transform
else:

    def dataclass_transform(**_options: object) -> Callable[[type], type]:
        """At run time a no-op; for mypy, subclasses are frozen dataclasses (fields read-only)."""
        return lambda cls: cls


__all__ = ["FrozenInstanceError", "FrozenValue"]


class FrozenInstanceError(AttributeError):
    """A model value was assigned to (as ``dataclasses.FrozenInstanceError``, an AttributeError)."""


class _DataclassFields:
    """The class's ``__dataclass_fields__``, made on first access from a ``dataclasses`` twin."""

    def __get__(self, obj: object, owner: type[FrozenValue]) -> dict[str, Field[Any]]:
        import dataclasses

        annotations: dict[str, object] = {}
        for klass in reversed(owner.__mro__):
            annotations.update(getattr(klass, "__annotations__", {}))
        twin = dataclasses.make_dataclass(
            owner.__name__, [(name, annotations.get(name, "object")) for name in owner.__slots__], frozen=True
        )
        fields = {field.name: field for field in dataclasses.fields(twin)}
        setattr(owner, "__dataclass_fields__", fields)  # noqa: B010 (later lookups skip this)
        return fields


@dataclass_transform(frozen_default=True, eq_default=True)
class FrozenValue:
    __slots__: tuple[str, ...] = ()
    if TYPE_CHECKING:
        __dataclass_fields__: ClassVar[dict[str, Field[Any]]]
        _values: ClassVar[attrgetter[Any]]
    else:
        __dataclass_fields__ = _DataclassFields()

    def __init_subclass__(cls) -> None:
        setattr(cls, "__match_args__", cls.__slots__)  # noqa: B010 (mypy: read-only name)
        cls._values = attrgetter(*cls.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return bool(self._values(self) == self._values(other))

    def __hash__(self) -> int:
        return hash(self._values(self))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__qualname__}({inner})"

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[type[FrozenValue], tuple[object, ...]]:
        return type(self), tuple(getattr(self, name) for name in self.__slots__)
