"""Checks of one value read from a file or passed as an argument, with one-line errors.

Every check raises :class:`rlrm.errors.InputError` naming the source and the field, and returns
the value (converted where the check says so). Governors, the environment and the declared
field kinds of :mod:`rlrm.validate.spec` are built on these.
"""

from __future__ import annotations

import math
import reprlib
from typing import Any, Iterable, Mapping, Optional, Sequence

from rlrm.errors import InputError


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
        raise InputError(source, field, f"expected a number, got {describe(value)}{_quoted_number_hint(value)}")
    if not is_finite_number(value):
        raise InputError(source, field, f"must be finite, got {describe(value)}")
    if integer and isinstance(value, float):
        if not value.is_integer():
            raise InputError(source, field, f"expected an integer, got {value}")
        value = int(value)
    if minimum is not None and value < minimum:
        raise InputError(source, field, f"must be >= {minimum:g}, got {_short_number(value)}")
    if exclusive_minimum is not None and value <= exclusive_minimum:
        raise InputError(source, field, f"must be > {exclusive_minimum:g}, got {_short_number(value)}")
    if maximum is not None and value > maximum:
        raise InputError(source, field, f"must be <= {maximum:g}, got {_short_number(value)}")
    if exclusive_maximum is not None and value >= exclusive_maximum:
        raise InputError(source, field, f"must be < {exclusive_maximum:g}, got {_short_number(value)}")
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
        raise InputError(source, field, f"expected true or false, got {describe(value)}")
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
        raise InputError(source, field, f"expected a string, got {describe(value)}")
    if nonempty and not value:
        raise InputError(source, field, "must not be empty")
    if choices is not None:
        check_choice(value, source, field, choices)
    return value


def _quoted_number_hint(value: Any) -> str:
    """A hint when a number came as a string (YAML reads ``1e-4`` as one)."""
    if not isinstance(value, str) or len(value) > 40:
        return ""
    try:
        float(value)
    except ValueError:
        return ""
    return " (YAML reads 1e-4 as a string: write 1.0e-4)" if "e" in value.lower() else " (a number in quotes?)"


def _short_number(value: Any) -> str:
    return "a huge integer" if isinstance(value, int) and abs(value) >= 10**30 else str(value)


def describe(value: Any) -> str:
    """A short description of a value read from a file: ``the number 3``, ``a list``, ``a huge integer``."""
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
