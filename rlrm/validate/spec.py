"""Declared fields: one :class:`Spec` per file kind, checked in one call.

A spec lists a table's fields with their kind (:class:`Str`, :class:`Bool`, :class:`Int`,
:class:`Float`, :class:`List`, :class:`Table`, :class:`MapOf`, ...), bounds (finite, and within
plausible ranges), choices, and whether they are required or take a default. ``Spec.check``
returns a plain dict or raises a one-line :class:`~rlrm.errors.InputError` naming the dotted
field (``units.gpu.power.ceff``, ``apps[0].fps``); :func:`load` reads a file and checks it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

from rlrm.errors import InputError
from rlrm.validate.files import PathLike, read_data
from rlrm.validate.values import check_bool, check_finite, check_number, check_str, describe, short_repr

_MISSING = object()
#: default of a required field
REQUIRED: Any = _MISSING


class _OmitType:
    """Default of an optional field that is left out of the result when the file does not set it."""

    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _OmitType()


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
            raise InputError(source, _top(name), f"expected a list, got {describe(value)}")
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
            raise InputError(source, _top(name), f"expected a table, got {describe(value)}")
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
            raise InputError(source, "<top>" if prefix is None else prefix, f"expected a table, got {describe(data)}")
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
