"""Small helpers to validate nested dicts read from TOML/JSON, with one-line errors.

Every check raises :class:`rlrm.errors.InputError` naming the file and the dotted field.
"""

from __future__ import annotations

import json
import math
import reprlib
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from rlrm.errors import InputError

try:  # Python 3.11+
    import tomllib
except ImportError:  # older Pythons: the same parser, installed as a dependency below 3.11
    import tomli as tomllib  # type: ignore[no-redef]

_MISSING = object()


class Fields:
    """A view on one table of a file that hands out validated values.

    :param data: the table (a dict)
    :param source: the file it came from
    :param prefix: the dotted name of the table within the file ("" at top level)
    """

    def __init__(self, data: Any, source: Union[str, Path], prefix: str = "") -> None:
        self.source = str(source)
        self.prefix = prefix
        if not isinstance(data, Mapping):
            raise InputError(self.source, prefix or "<top>", f"expected a table, got {_kind(data)}")
        self.data = dict(data)
        self._seen: set[str] = set()

    def name(self, key: str) -> str:
        """Dotted field name of ``key`` inside this table."""
        return f"{self.prefix}.{key}" if self.prefix else key

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

    def str(self, key: str, default: Any = _MISSING, choices: Optional[Iterable[str]] = None) -> str:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_kind(value)}")
        if choices is not None:
            allowed = list(choices)
            if value not in allowed:
                raise self.error(key, f"{value!r} is not one of {', '.join(map(repr, allowed))}")
        return value

    def bool(self, key: str, default: Any = _MISSING) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_kind(value)}")
        return value

    def number(
        self,
        key: str,
        default: Any = _MISSING,
        *,
        minimum: Optional[float] = None,
        maximum: Optional[float] = None,
        exclusive_minimum: Optional[float] = None,
        integer: bool = False,
    ) -> Any:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        return check_number(
            value, self.source, self.name(key), minimum=minimum, maximum=maximum,
            exclusive_minimum=exclusive_minimum, integer=integer,
        )

    def numbers(
        self,
        key: str,
        default: Any = _MISSING,
        *,
        minimum: Optional[float] = None,
        exclusive_minimum: Optional[float] = None,
        integer: bool = False,
        increasing: bool = False,
        nondecreasing: bool = False,
        nonempty: bool = True,
    ) -> list:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, list):
            raise self.error(key, f"expected a list of numbers, got {_kind(value)}")
        if nonempty and not value:
            raise self.error(key, "must not be empty")
        out = [
            check_number(v, self.source, f"{self.name(key)}[{i}]", minimum=minimum,
                         exclusive_minimum=exclusive_minimum, integer=integer)
            for i, v in enumerate(value)
        ]
        for i in range(1, len(out)):
            if increasing and not out[i] > out[i - 1]:
                raise InputError(self.source, f"{self.name(key)}[{i}]",
                                 f"values must be strictly increasing ({out[i - 1]} then {out[i]})")
            if nondecreasing and out[i] < out[i - 1]:
                raise InputError(self.source, f"{self.name(key)}[{i}]",
                                 f"values must not decrease ({out[i - 1]} then {out[i]})")
        return out

    def table(self, key: str, default: Any = _MISSING) -> "Fields":
        value = self.raw(key, default)
        if value is default and default is not _MISSING and not isinstance(value, Mapping):
            value = {} if value is None else value
        return Fields(value, self.source, self.name(key))

    def tables(self, key: str, default: Any = _MISSING) -> list["Fields"]:
        value = self.raw(key, default)
        if value is default and default is not _MISSING and value is None:
            return []
        if not isinstance(value, list):
            raise self.error(key, f"expected a list of tables, got {_kind(value)}")
        return [Fields(v, self.source, f"{self.name(key)}[{i}]") for i, v in enumerate(value)]

    def finish(self) -> None:
        """Refuse keys nobody asked for (typos, unknown options)."""
        unknown = sorted(set(self.data) - self._seen)
        if unknown:
            raise self.error(unknown[0], "unknown key")


def is_finite_number(value: Any) -> bool:
    """``value`` is an int or float (not a bool) that is finite as a float (``10**400`` is not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond the float range
        return False


def check_number(
    value: Any,
    source: str,
    field: str,
    *,
    minimum: Optional[float] = None,
    maximum: Optional[float] = None,
    exclusive_minimum: Optional[float] = None,
    integer: bool = False,
) -> Any:
    """Validate one number and return it (int when ``integer``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(source, field, f"expected a number, got {_kind(value)}")
    if not is_finite_number(value):
        raise InputError(source, field, f"must be finite, got {_kind(value)}")
    if integer:
        if isinstance(value, float):
            if not value.is_integer():
                raise InputError(source, field, f"expected an integer, got {value}")
            value = int(value)
    if minimum is not None and value < minimum:
        raise InputError(source, field, f"must be >= {minimum}, got {value}")
    if exclusive_minimum is not None and value <= exclusive_minimum:
        raise InputError(source, field, f"must be > {exclusive_minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise InputError(source, field, f"must be <= {maximum}, got {value}")
    return value


def check_bool(value: Any, source: str, field: str) -> bool:
    """Validate a true/false value and return it (``1`` and ``0`` are not booleans)."""
    if not isinstance(value, bool):
        raise InputError(source, field, f"expected true or false, got {_kind(value)}")
    return value


def check_fraction(value: Any, source: str, field: str) -> float:
    """Validate a number in [0, 1] and return it as a float."""
    return float(check_number(value, source, field, minimum=0.0, maximum=1.0))


def read_toml(path: Union[str, Path]) -> dict:
    """Read a TOML file; a missing or unparsable file is an :class:`InputError`."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(path, "<file>", "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "<file>", "is a directory, expected a TOML file") from None
    except OSError as err:  # permission denied, I/O error, ...
        raise InputError(path, "<file>", f"cannot read: {err.strerror or err}") from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(path, "<toml>", f"not valid TOML: {err}") from None
    except UnicodeDecodeError:
        raise InputError(path, "<toml>", "not valid UTF-8 text") from None
    except RecursionError:
        raise InputError(path, "<toml>", "nested too deeply") from None


def read_json(path: Union[str, Path]) -> Any:
    """Read a JSON file; a missing or unparsable file is an :class:`InputError`."""
    path = Path(path)
    constants: list[str] = []
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read().decode("utf-8"), parse_constant=lambda name: _Constant(name, constants))
    except FileNotFoundError:
        raise InputError(path, "<file>", "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "<file>", "is a directory, expected a JSON file") from None
    except OSError as err:  # permission denied, I/O error, ...
        raise InputError(path, "<file>", f"cannot read: {err.strerror or err}") from None
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as err:
        raise InputError(path, "<json>", f"not valid JSON: {err}") from None
    except RecursionError:
        raise InputError(path, "<json>", "nested too deeply") from None
    if constants:
        raise InputError(path, _where(data, lambda v: isinstance(v, _Constant)) or "<json>",
                         f"{constants[0]} is not allowed (JSON has no NaN or infinity)")
    return data


class _Constant(float):
    """A ``NaN`` / ``Infinity`` / ``-Infinity`` in a JSON file: parsed only to tell where it is, then refused."""

    def __new__(cls, name: str, seen: list) -> "_Constant":
        seen.append(name)
        return super().__new__(cls, "nan")


def _where(data: Any, match: Any) -> str:
    """The dotted field (``a.b[2].c``) of the first value in ``data`` for which ``match`` is true ("" if none)."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        name, value = stack.pop()
        if match(value):
            return name
        if isinstance(value, dict):
            stack.extend((f"{name}.{k}" if name else str(k), v) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((f"{name}[{i}]", v) for i, v in reversed(list(enumerate(value))))
    return ""


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int) and abs(value) >= 10**30:  # str() refuses more than 4300 digits
        return "a huge integer"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}" if len(value) < 40 else "a string"
    if isinstance(value, Sequence):
        return "a list"
    if isinstance(value, Mapping):
        return "a table"
    return type(value).__name__


class _ShortRepr(reprlib.Repr):
    """:mod:`reprlib` limits, and no ``repr`` of ints too long for ``str`` (4300 digits)."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxstring, self.maxother, self.maxlong = 2, 40, 40, 40
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = 4

    def repr_int(self, x: int, level: int) -> str:
        return "<huge integer>" if abs(x) >= 10**40 else super().repr_int(x, level)


_SHORT = _ShortRepr()


def short_repr(value: Any) -> str:
    """``repr`` of a value read from a file, cut short: error messages stay short even for a
    YAML alias bomb or a 5000-digit integer."""
    return _SHORT.repr(value)
