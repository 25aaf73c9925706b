"""The hand-driven view of one table: :class:`Fields` hands out checked values one key at a time.

Kept for the loaders that build their result as they go; new loaders declare a
:class:`~rlrm.validate.spec.Spec` instead, and ``Fields.get(key, field)`` takes a declared field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, List as ListType, Mapping, Optional, Union

from rlrm.errors import InputError
from rlrm.validate.spec import OMIT, REQUIRED, Field, Float, Int, List
from rlrm.validate.values import check_bool, check_number, check_str, describe

_MISSING = REQUIRED


class Fields:
    """A view on one table of a file that hands out validated values (the ``check_*`` helpers).

    :param data: the table (a dict)
    :param source: the file it came from
    :param prefix: the dotted name of the table within the file ("" at top level)
    """

    def __init__(self, data: Any, source: Union[str, Path], prefix: str = "") -> None:
        self.source = str(source)
        self.prefix = prefix
        if not isinstance(data, Mapping):
            raise InputError(self.source, prefix or "<top>", f"expected a table, got {describe(data)}")
        self.data = dict(data)
        self._seen: set = set()

    def name(self, key: str) -> str:
        """Dotted field name of ``key`` inside this table."""
        return f"{self.prefix}.{key}" if self.prefix else str(key)

    def error(self, key: str, problem: str) -> InputError:
        """An :class:`InputError` for ``key`` of this table."""
        return InputError(self.source, self.name(key), problem)

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        self._seen.add(key)
        if key not in self.data:
            if default is _MISSING:
                raise self.error(key, "missing required field")
            return default
        return self.data[key]

    def get(self, key: str, field: Field) -> Any:
        """The value of ``key`` checked by a declared :class:`Field` (its default when absent)."""
        self._seen.add(key)
        if key not in self.data:
            if field.required:
                raise self.error(key, "missing required field")
            return None if field.default is OMIT else field.default
        return field.check(self.data[key], self.source, self.name(key))

    def str(self, key: str, default: Any = _MISSING, choices: Optional[Iterable[str]] = None) -> str:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        return check_str(value, self.source, self.name(key), choices)

    def bool(self, key: str, default: Any = _MISSING) -> bool:
        return check_bool(self.raw(key, default), self.source, self.name(key))

    def number(self, key: str, default: Any = _MISSING, *, minimum: Optional[float] = None,
               maximum: Optional[float] = None, exclusive_minimum: Optional[float] = None,
               integer: bool = False) -> Any:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        return check_number(value, self.source, self.name(key), minimum=minimum, maximum=maximum,
                            exclusive_minimum=exclusive_minimum, integer=integer)

    def numbers(self, key: str, default: Any = _MISSING, *, minimum: Optional[float] = None,
                exclusive_minimum: Optional[float] = None, integer: bool = False, increasing: bool = False,
                nondecreasing: bool = False, nonempty: bool = True) -> list:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        item = (Int if integer else Float)(minimum=minimum, exclusive_minimum=exclusive_minimum)
        out = List(item, nonempty=nonempty, increasing=increasing).check(value, self.source, self.name(key))
        for i in range(1, len(out)):
            if nondecreasing and out[i] < out[i - 1]:
                raise InputError(self.source, f"{self.name(key)}[{i}]",
                                 f"values must not decrease ({out[i - 1]} then {out[i]})")
        return out

    def table(self, key: str, default: Any = _MISSING) -> "Fields":
        value = self.raw(key, default)
        if value is default and default is not _MISSING and not isinstance(value, Mapping):
            value = {} if value is None else value
        return Fields(value, self.source, self.name(key))

    def tables(self, key: str, default: Any = _MISSING) -> ListType["Fields"]:
        value = self.raw(key, default)
        if value is default and default is not _MISSING and value is None:
            return []
        if not isinstance(value, list):
            raise self.error(key, f"expected a list of tables, got {describe(value)}")
        return [Fields(v, self.source, f"{self.name(key)}[{i}]") for i, v in enumerate(value)]

    def format(self, expected: str, version: int, what: str) -> None:
        """Check ``format`` is ``expected`` and ``format_version`` is ``version`` (a file of
        kind ``what`` that this rlrm reads)."""
        fmt = self.str("format")
        if fmt != expected:
            raise self.error("format", f"{fmt!r} is not {what} (expected {expected!r})")
        found = self.number("format_version", integer=True)
        if found != version:
            raise self.error("format_version", f"version {found} is not supported (this rlrm reads {version})")

    def finish(self) -> None:
        """Refuse keys nobody asked for (typos, unknown options)."""
        unknown = sorted(set(self.data) - self._seen, key=str)
        if unknown:
            raise self.error(unknown[0], "unknown key")
