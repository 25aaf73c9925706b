"""Reading and validating the files rlrm takes (TOML, JSON, YAML), with one-line errors.

Three layers, each usable alone; every problem is an :class:`rlrm.errors.InputError` naming the
file and the dotted field (``units.gpu.power.ceff``, ``apps[0].fps``):

- :func:`read_data` reads one file (bounded size, regular files only) and parses it by kind;
  :func:`read_toml`, :func:`read_json` and :func:`read_yaml` are its three spellings.
- A :class:`Spec` declares the fields of one file kind (types, finite and plausible ranges,
  choices, required or optional with defaults, nested tables and lists); ``Spec.check`` turns a
  parsed file into a plain dict, and :func:`load` does ``read_data`` then ``check``.
- ``check_*`` helpers validate one value (an integer in a range, a fraction in [0, 1], a finite
  number, a choice): governors and the environment check their arguments with them, and the
  field kinds of a :class:`Spec` are built on them.

:class:`Fields` is the older hand-driven view of one table, kept for the loaders that still use it.
Runs on Python 3.8 (``tomli`` stands in for ``tomllib`` before 3.11).
"""

from __future__ import annotations

import json
import math
import os
import reprlib
import stat
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]

from rlrm.errors import InputError

PathLike = Union[str, "os.PathLike[str]"]
#: largest file any loader reads (profiles, scenarios, traces, configs, tables: all far below)
MAX_FILE_BYTES = 16 * 2**20
#: file kinds :func:`read_data` parses, by suffix
SUFFIXES = {".toml": "toml", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}

_MISSING = object()
#: default of a required field
REQUIRED: Any = _MISSING


class _OmitType:
    """Default of an optional field that is left out of the result when the file does not set it."""

    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _OmitType()


# ====================================================================== one value
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
    exclusive_maximum: Optional[float] = None,
    integer: bool = False,
) -> Any:
    """Validate one finite number and return it (an int when ``integer``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(source, field, f"expected a number, got {_kind(value)}{_quoted_number_hint(value)}")
    if not is_finite_number(value):
        raise InputError(source, field, f"must be finite, got {_kind(value)}")
    if integer and isinstance(value, float):
        if not value.is_integer():
            raise InputError(source, field, f"expected an integer, got {value}")
        value = int(value)
    if minimum is not None and value < minimum:
        raise InputError(source, field, f"must be >= {minimum:g}, got {_kind_short(value)}")
    if exclusive_minimum is not None and value <= exclusive_minimum:
        raise InputError(source, field, f"must be > {exclusive_minimum:g}, got {_kind_short(value)}")
    if maximum is not None and value > maximum:
        raise InputError(source, field, f"must be <= {maximum:g}, got {_kind_short(value)}")
    if exclusive_maximum is not None and value >= exclusive_maximum:
        raise InputError(source, field, f"must be < {exclusive_maximum:g}, got {_kind_short(value)}")
    return value


def check_int(value: Any, source: str, field: str, minimum: Optional[int] = None,
              maximum: Optional[int] = None, why: str = "") -> int:
    """An integer (not a bool, not a float) in ``minimum..maximum`` (either end open when None).

    :param why: said in brackets after the range, e.g. ``"a kernel's HZ"``
    """
    if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum) \
            or (maximum is not None and value > maximum):
        if minimum is not None and maximum is not None:
            rng = f" in {minimum}..{maximum}"
        elif minimum is not None:
            rng = f" >= {minimum}"
        elif maximum is not None:
            rng = f" <= {maximum}"
        else:
            rng = ""
        extra = f" ({why})" if why else ""
        raise InputError(source, field, f"must be an integer{rng}{extra}, got {short_repr(value)}")
    return int(value)


def check_finite(value: Any, source: str, field: str, *, minimum: Optional[float] = None,
                 maximum: Optional[float] = None, exclusive_minimum: Optional[float] = None,
                 exclusive_maximum: Optional[float] = None) -> float:
    """A finite number (int or float, not a bool, not NaN or infinite) within the bounds given, as a float."""
    return float(check_number(value, source, field, minimum=minimum, maximum=maximum,
                              exclusive_minimum=exclusive_minimum, exclusive_maximum=exclusive_maximum))


def check_fraction(value: Any, source: str, field: str) -> float:
    """A number in [0, 1] (NaN refused), as a float."""
    if isinstance(value, bool) or not is_finite_number(value) or not 0.0 <= value <= 1.0:
        raise InputError(source, field, f"must be a number in [0, 1], got {short_repr(value)}")
    return float(value)


def check_bool(value: Any, source: str, field: str) -> bool:
    """``True`` or ``False`` (not 0 or 1)."""
    if not isinstance(value, bool):
        raise InputError(source, field, f"expected true or false, got {_kind(value)}")
    return value


def check_choice(value: Any, source: str, field: str, choices: Iterable[Any]) -> Any:
    """One of ``choices`` (compared by type and value: ``True`` is not ``1``)."""
    allowed = list(choices)
    if not any(type(value) is type(c) and value == c for c in allowed):
        raise InputError(source, field, f"{short_repr(value)} is not one of {', '.join(map(repr, allowed))}")
    return value


def check_str(value: Any, source: str, field: str, choices: Optional[Iterable[str]] = None,
              nonempty: bool = False) -> str:
    """A string (optionally non-empty, optionally one of ``choices``)."""
    if not isinstance(value, str):
        raise InputError(source, field, f"expected a string, got {_kind(value)}")
    if nonempty and not value:
        raise InputError(source, field, "must not be empty")
    if choices is not None:
        check_choice(value, source, field, choices)
    return value


# ====================================================================== declared fields
Check = Callable[[Any, str, str], Any]


class Field:
    """One field of a table: what it holds, its bounds, and its default.

    Subclasses say the kind (:class:`Str`, :class:`Bool`, :class:`Int`, :class:`Float`,
    :class:`List`, :class:`Table`, :class:`MapOf`, :class:`Any_`); ``check(value, source, name)``
    returns the validated value or raises a one-line :class:`InputError`.

    :param default: :data:`REQUIRED` (the default), :data:`OMIT` (optional, left out of the
        result when absent) or the value an absent field takes
    :param then: a further check ``then(value, source, name) -> value`` run on the validated value
    """

    #: the Python type a validated value has
    type: type = object

    def __init__(self, default: Any = REQUIRED, then: Optional[Check] = None) -> None:
        self.default = default
        self.then = then

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    def check(self, value: Any, source: str, name: str) -> Any:
        value = self._check(value, source, name)
        return self.then(value, source, name) if self.then is not None else value

    def _check(self, value: Any, source: str, name: str) -> Any:
        return value


class Any_(Field):
    """A field of any value, checked by ``then`` alone when given (``type``: what it holds once checked)."""

    def __init__(self, default: Any = REQUIRED, then: Optional[Check] = None, type: type = object) -> None:
        super().__init__(default, then)
        self.type = type


class Str(Field):
    """A string; ``choices`` limits it, ``nonempty`` refuses ``""``."""

    type = str

    def __init__(self, default: Any = REQUIRED, *, choices: Optional[Sequence[str]] = None,
                 nonempty: bool = False, then: Optional[Check] = None) -> None:
        super().__init__(default, then)
        self.choices, self.nonempty = choices, nonempty

    def _check(self, value: Any, source: str, name: str) -> Any:
        return check_str(value, source, name, self.choices, self.nonempty)


class Bool(Field):
    """``true`` or ``false``."""

    type = bool

    def _check(self, value: Any, source: str, name: str) -> Any:
        return check_bool(value, source, name)


class Int(Field):
    """A finite integer in ``minimum..maximum`` (a float with no fraction, like ``4.0``, is accepted)."""

    type = int

    def __init__(self, default: Any = REQUIRED, *, minimum: Optional[int] = None, maximum: Optional[int] = None,
                 exclusive_minimum: Optional[int] = None, then: Optional[Check] = None) -> None:
        super().__init__(default, then)
        self.minimum, self.maximum, self.exclusive_minimum = minimum, maximum, exclusive_minimum

    def _check(self, value: Any, source: str, name: str) -> Any:
        return int(check_number(value, source, name, minimum=self.minimum, maximum=self.maximum,
                                exclusive_minimum=self.exclusive_minimum, integer=True))


class StrictInt(Int):
    """An integer written as one (``4``, not ``4.0``), in ``minimum..maximum``."""

    def _check(self, value: Any, source: str, name: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            low = self.minimum if self.minimum is not None else (
                None if self.exclusive_minimum is None else self.exclusive_minimum + 1)
            raise InputError(source, name, f"expected an integer{f' >= {low}' if low is not None else ''}, "
                                           f"got {short_repr(value)}")
        return super()._check(value, source, name)


class Float(Field):
    """A finite number within the bounds given, returned as a float."""

    type = float

    def __init__(self, default: Any = REQUIRED, *, minimum: Optional[float] = None,
                 maximum: Optional[float] = None, exclusive_minimum: Optional[float] = None,
                 exclusive_maximum: Optional[float] = None, then: Optional[Check] = None) -> None:
        super().__init__(default, then)
        self.minimum, self.maximum = minimum, maximum
        self.exclusive_minimum, self.exclusive_maximum = exclusive_minimum, exclusive_maximum

    def _check(self, value: Any, source: str, name: str) -> Any:
        return check_finite(value, source, name, minimum=self.minimum, maximum=self.maximum,
                            exclusive_minimum=self.exclusive_minimum, exclusive_maximum=self.exclusive_maximum)


class Fraction(Float):
    """A number in [0, 1]."""

    def __init__(self, default: Any = REQUIRED, then: Optional[Check] = None) -> None:
        super().__init__(default, minimum=0.0, maximum=1.0, then=then)


class List(Field):
    """A list whose members are each an ``item`` field (named ``field[i]`` in errors).

    :param nonempty: refuse ``[]``
    :param max_len: most members
    :param increasing: members must be strictly increasing
    """

    type = list

    def __init__(self, item: Field, default: Any = REQUIRED, *, nonempty: bool = True,
                 max_len: Optional[int] = None, increasing: bool = False, then: Optional[Check] = None) -> None:
        super().__init__(default, then)
        self.item, self.nonempty, self.max_len, self.increasing = item, nonempty, max_len, increasing

    def _check(self, value: Any, source: str, name: str) -> Any:
        if not isinstance(value, list):
            raise InputError(source, _top(name), f"expected a list, got {_kind(value)}")
        if self.nonempty and not value:
            raise InputError(source, name, "must not be empty")
        if self.max_len is not None and len(value) > self.max_len:
            raise InputError(source, name, f"at most {self.max_len} entries, got {len(value)}")
        out = [self.item.check(v, source, f"{name}[{i}]") for i, v in enumerate(value)]
        if self.increasing:
            for i in range(1, len(out)):
                if not out[i] > out[i - 1]:
                    raise InputError(source, f"{name}[{i}]",
                                     f"values must be strictly increasing ({out[i - 1]} then {out[i]})")
        return out


class Nullable(Field):
    """``null`` (None) or a value ``item`` accepts; absent, it takes ``default`` (None unless given)."""

    def __init__(self, item: Field, default: Any = None, then: Optional[Check] = None) -> None:
        super().__init__(default, then)
        self.item = item
        self.type = item.type

    def _check(self, value: Any, source: str, name: str) -> Any:
        return None if value is None else self.item.check(value, source, name)


class Table(Field):
    """A nested table declared by a :class:`Spec`."""

    type = dict

    def __init__(self, spec: "Spec", default: Any = REQUIRED, then: Optional[Check] = None) -> None:
        super().__init__(default, then)
        self.spec = spec

    def _check(self, value: Any, source: str, name: str) -> Any:
        return self.spec.check(value, source, name)


class MapOf(Field):
    """A table of free keys (names), each value an ``item`` field (``units.<name>``)."""

    type = dict

    def __init__(self, item: Field, default: Any = REQUIRED, *, nonempty: bool = False,
                 then: Optional[Check] = None) -> None:
        super().__init__(default, then)
        self.item, self.nonempty = item, nonempty

    def _check(self, value: Any, source: str, name: str) -> Any:
        if not isinstance(value, Mapping):
            raise InputError(source, _top(name), f"expected a table, got {_kind(value)}")
        if self.nonempty and not value:
            raise InputError(source, _top(name), "must not be empty")
        return {k: self.item.check(v, source, _dotted(name, k)) for k, v in value.items()}


class Spec:
    """The declared fields of one table (or one whole file).

    ``Spec.check(data, source)`` returns a dict of the validated fields, absent optional ones
    at their defaults (:data:`OMIT` ones left out), and refuses unknown keys unless ``open``.

    :param fields: field name -> :class:`Field`, in the order they are checked
    :param what: what a field is called in the unknown-key error ("key", "hyperparameter")
    :param open: keep unknown keys as they are instead of refusing them
    :param switch: ``(key, {value: Spec})``: the fields of the named variant are checked too
        (a background's ``kind = "periodic"`` brings ``period_s`` and ``duty``)
    """

    def __init__(self, fields: Mapping[str, Field], *, what: str = "key", open: bool = False,
                 switch: Optional[Tuple[str, Mapping[str, "Spec"]]] = None) -> None:
        self.fields: Dict[str, Field] = dict(fields)
        self.what, self.open, self.switch = what, open, switch

    def __getitem__(self, key: str) -> Field:
        return self.fields[key]

    def __contains__(self, key: object) -> bool:
        return key in self.fields

    def extend(self, fields: Mapping[str, Field]) -> "Spec":
        """A spec with these fields added (or replaced)."""
        return Spec({**self.fields, **fields}, what=self.what, open=self.open, switch=self.switch)

    def check(self, data: Any, source: Union[str, Path], prefix: Optional[str] = None) -> Dict[str, Any]:
        """Validate ``data`` (the table at dotted name ``prefix`` of ``source``, None: the whole file)
        and return its fields."""
        source = str(source)
        if not isinstance(data, Mapping):
            raise InputError(source, "<top>" if prefix is None else prefix, f"expected a table, got {_kind(data)}")
        fields = dict(self.fields)
        variant = None
        if self.switch is not None:
            key, variants = self.switch
            out = self._fields({key: fields.pop(key)}, data, source, prefix)
            variant = variants[out[key]]
            fields.update(variant.fields)
        else:
            out = {}
        if not self.open:
            known = set(fields) | set(out)
            for key in data:
                if key not in known:
                    raise InputError(source, _dotted(prefix, key),
                                     f"unknown {self.what} (known: {', '.join(sorted(known))})")
        out.update(self._fields(fields, data, source, prefix))
        if self.open:
            out.update({k: v for k, v in data.items() if k not in out and k not in fields})
        return out

    @staticmethod
    def _fields(fields: Mapping[str, Field], data: Mapping, source: str, prefix: Optional[str]) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for key, field in fields.items():
            name = _dotted(prefix, key)
            if key in data:
                out[key] = field.check(data[key], source, name)
            elif field.required:
                raise InputError(source, name, "missing required field")
            elif field.default is not OMIT:
                out[key] = field.default
        return out


def load(path: PathLike, spec: Spec, kind: Optional[str] = None) -> Dict[str, Any]:
    """Read a TOML / JSON / YAML file (kind from its suffix unless given) and check it against ``spec``."""
    return spec.check(read_data(path, kind), Path(path))


def _top(name: Optional[str]) -> str:
    return "<top>" if name is None else name


def _dotted(prefix: Optional[str], key: Any) -> str:
    """``prefix.key``; at the top of a file (``prefix`` None) ``key`` alone."""
    text = str(key) or '""'  # an empty key ("" = 1 in TOML) still names a field
    return text if prefix is None else f"{prefix}.{text}"


# ====================================================================== reading files
def read_bytes(path: PathLike, what: str = "file", limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; anything else is an InputError on ``<file>``.

    A FIFO, device or socket is refused without blocking on it.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputError(path, "<file>", "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "<file>", f"is a directory, expected a {what}") from None
    except (OSError, ValueError) as err:  # permission denied, a NUL in the name, ...
        raise InputError(path, "<file>", f"cannot read: {getattr(err, 'strerror', None) or err}") from None
    try:
        with os.fdopen(fd, "rb") as fh:
            mode = os.fstat(fh.fileno()).st_mode
            if stat.S_ISDIR(mode):
                raise InputError(path, "<file>", f"is a directory, expected a {what}")
            if not stat.S_ISREG(mode):
                raise InputError(path, "<file>", f"not a regular file, expected a {what}")
            data = fh.read(limit + 1)
    except OSError as err:  # an I/O error
        raise InputError(path, "<file>", f"cannot read: {err.strerror or err}") from None
    if len(data) > limit:
        raise InputError(path, "<file>", f"larger than {limit} bytes, too large for a {what}")
    return data


def read_data(path: PathLike, kind: Optional[str] = None) -> Any:
    """Read and parse a TOML, JSON or YAML file (``kind``, or from its suffix).

    Any problem is one :class:`InputError`: on ``<file>`` (missing, a directory, not a regular
    file, too large, unreadable) or on ``<toml>`` / ``<json>`` / ``<yaml>`` (not UTF-8, not
    valid, nested too deeply, a NaN in JSON, a duplicate YAML key).
    """
    path = Path(path)
    kind = kind or SUFFIXES.get(path.suffix.lower())
    if kind not in _PARSERS:
        raise InputError(path, "<file>", f"unknown file kind {path.suffix or kind!r} (expected .toml, .json, .yaml)")
    label, parse = _PARSERS[kind]
    raw = read_bytes(path, f"{label} file")
    tag = f"<{kind}>"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(path, tag, "not valid UTF-8 text") from None
    try:
        return parse(text, path)
    except RecursionError:
        raise InputError(path, tag, "nested too deeply") from None
    except ValueError as err:  # TOMLDecodeError, JSONDecodeError, YAML errors, ints over 4300 digits
        if isinstance(err, InputError):
            raise
        raise InputError(path, tag, f"not valid {label}: {err}") from None


def read_toml(path: PathLike) -> dict:
    """Read a TOML file (see :func:`read_data`)."""
    return read_data(path, "toml")


def read_json(path: PathLike) -> Any:
    """Read a JSON file; NaN and infinities are refused (see :func:`read_data`)."""
    return read_data(path, "json")


def read_yaml(path: PathLike) -> Any:
    """Read a YAML file with a safe loader that refuses duplicate keys (see :func:`read_data`)."""
    return read_data(path, "yaml")


def _parse_toml(text: str, path: Path) -> Any:
    return tomllib.loads(text)


def _parse_json(text: str, path: Path) -> Any:
    constants: List[str] = []
    data = json.loads(text, parse_constant=lambda name: _Constant(name, constants))
    if constants:
        raise InputError(path, _where(data, lambda v: isinstance(v, _Constant)) or "<json>",
                         f"{constants[0]} is not allowed (JSON has no NaN or infinity)")
    return data


class _YamlError(ValueError):
    """A PyYAML error, as the ValueError :func:`read_data` reports."""


def _parse_yaml(text: str, path: Path) -> Any:
    import yaml  # not needed to decide on the board

    try:
        return yaml.load(text, Loader=_strict_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise _YamlError(str(err)) from None


_PARSERS: Dict[str, Tuple[str, Callable[[str, Path], Any]]] = {
    "toml": ("TOML", _parse_toml), "json": ("JSON", _parse_json), "yaml": ("YAML", _parse_yaml),
}
_LOADER: List[type] = []


def _strict_loader() -> type:
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (PyYAML keeps the last)."""
    if _LOADER:
        return _LOADER[0]
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> dict:
            if isinstance(node, yaml.MappingNode):
                seen: set = set()
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":  # "<<: *defaults" may be overridden
                        continue
                    key = self.construct_object(key_node, deep=deep)
                    try:
                        duplicate = key in seen  # 1 and 1.0 count as the same key, as in the dict they make
                        seen.add(key)
                    except TypeError:  # an unhashable key: construct_mapping reports it
                        continue
                    if duplicate:
                        raise yaml.constructor.ConstructorError(None, None, f"duplicate key {short_repr(key)}",
                                                                key_node.start_mark)
            return super().construct_mapping(node, deep=deep)

    _LOADER.append(StrictLoader)
    return StrictLoader


class _Constant(float):
    """A ``NaN`` / ``Infinity`` / ``-Infinity`` in a JSON file: parsed only to tell where it is, then refused."""

    def __new__(cls, name: str, seen: list) -> "_Constant":
        seen.append(name)
        return super().__new__(cls, "nan")


def _where(data: Any, match: Any) -> str:
    """The dotted field (``a.b[2].c``) of the first value in ``data`` for which ``match`` is true ("" if none)."""
    stack: List[Tuple[str, Any]] = [("", data)]
    while stack:
        name, value = stack.pop()
        if match(value):
            return name
        if isinstance(value, dict):
            stack.extend((f"{name}.{k}" if name else str(k), v) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((f"{name}[{i}]", v) for i, v in reversed(list(enumerate(value))))
    return ""


# ====================================================================== the hand-driven view
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
            raise InputError(self.source, prefix or "<top>", f"expected a table, got {_kind(data)}")
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

    def tables(self, key: str, default: Any = _MISSING) -> List["Fields"]:
        value = self.raw(key, default)
        if value is default and default is not _MISSING and value is None:
            return []
        if not isinstance(value, list):
            raise self.error(key, f"expected a list of tables, got {_kind(value)}")
        return [Fields(v, self.source, f"{self.name(key)}[{i}]") for i, v in enumerate(value)]

    def finish(self) -> None:
        """Refuse keys nobody asked for (typos, unknown options)."""
        unknown = sorted(set(self.data) - self._seen, key=str)
        if unknown:
            raise self.error(unknown[0], "unknown key")


# ====================================================================== short descriptions
def _quoted_number_hint(value: Any) -> str:
    """A hint when a number came as a string (YAML reads ``1e-4`` as one)."""
    if not isinstance(value, str) or len(value) > 40:
        return ""
    try:
        float(value)
    except ValueError:
        return ""
    return " (YAML reads 1e-4 as a string: write 1.0e-4)" if "e" in value.lower() else " (a number in quotes?)"


def _kind_short(value: Any) -> str:
    return "a huge integer" if isinstance(value, int) and abs(value) >= 10**30 else str(value)


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
    if value is None:
        return "nothing (null)"
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
