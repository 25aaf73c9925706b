"""Small helpers to validate nested dicts read from TOML/JSON, with one-line errors.

Every check raises :class:`rlrm.errors.InputError` naming the file and the dotted field.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from rlrm.errors import InputError

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
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(source, field, f"must be finite, got {value}")
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
    except tomllib.TOMLDecodeError as err:
        raise InputError(path, "<toml>", f"not valid TOML: {err}") from None
    except UnicodeDecodeError:
        raise InputError(path, "<toml>", "not valid UTF-8 text") from None


def read_json(path: Union[str, Path]) -> Any:
    """Read a JSON file; a missing or unparsable file is an :class:`InputError`."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            return json.loads(fh.read().decode("utf-8"), parse_constant=_refuse_constant)
    except FileNotFoundError:
        raise InputError(path, "<file>", "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "<file>", "is a directory, expected a JSON file") from None
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as err:
        raise InputError(path, "<json>", f"not valid JSON: {err}") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}" if len(value) < 40 else "a string"
    if isinstance(value, Sequence):
        return "a list"
    if isinstance(value, Mapping):
        return "a table"
    return type(value).__name__
