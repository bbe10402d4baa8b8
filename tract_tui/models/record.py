"""Immutable values for the launch path, without what ``@dataclass`` costs at import.

``@dataclass(frozen=True)`` writes six methods of each class as source text
and compiles them with ``exec`` when its module is imported: about 0.45 ms a
class on the machine of benchmarks/bench.py, where the console defined 29 such
classes before its first frame, 12 ms of a launch whose floor (a bare
Textual app) is about 170 ms, and the target is 1.3x that floor. A
:class:`Record` subclass writes its ``__init__`` like any method (compiled once,
into its ``.pyc``) and names its compared fields; equality, hashing, ``repr``
and immutability come from here, the same as a frozen dataclass's.

Classes off the launch path (models/policy.py, say) stay dataclasses.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any, ClassVar, Self, dataclass_transform


# For type checkers only (at run time it marks the class and costs nothing): they then
# treat each subclass as a frozen dataclass (assigning a field is an error, as at run
# time) while still reading the subclass's own ``__init__``.
@dataclass_transform(frozen_default=True)
class Record:
    """An immutable value: equal to another of its class with equal ``_fields``.

    A subclass declares its attributes (annotations), stores them in
    ``__init__`` with ``self.__dict__.update(...)`` (assignment raises, as
    on a frozen dataclass) and lists in ``_fields``, in ``__init__``'s order,
    those that equality, ``hash`` and ``repr`` use (a frozen dataclass's
    ``compare=True`` fields). :meth:`replace` needs every ``__init__``
    parameter in ``_fields`` or in ``_other_fields``.
    """

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    #: ``__init__`` parameters left out of equality and ``repr`` (``compare=False``).
    _other_fields: ClassVar[tuple[str, ...]] = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def _values(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in self._fields])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Record)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        inside = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({inside})"

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` (``dataclasses.replace``)."""
        values = {name: getattr(self, name) for name in self._fields + self._other_fields}
        values.update(changes)
        return type(self)(**values)
