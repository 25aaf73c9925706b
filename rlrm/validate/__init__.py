"""Reading and validating what rlrm is given (TOML, JSON, YAML files; arguments), with one-line errors.

Every problem is an :class:`rlrm.errors.InputError` naming the file and the dotted field
(``units.gpu.power.ceff``, ``apps[0].fps``). Three layers, each usable alone:

- :mod:`~rlrm.validate.files`: :func:`read_data` reads one file (regular files only, bounded
  size) and parses it by kind; :func:`read_toml`, :func:`read_json`, :func:`read_yaml`.
- :mod:`~rlrm.validate.spec`: a :class:`Spec` declares the fields of one file kind (types,
  finite and plausible ranges, choices, required or optional with defaults, nested tables and
  lists); ``Spec.check(data, source)`` returns a plain dict; :func:`load` reads then checks.
- :mod:`~rlrm.validate.values`: ``check_*`` helpers for one value (an integer in a range, a
  fraction in [0, 1], a finite number, a choice), which governors and the environment use for
  their arguments and the field kinds are built on.

:class:`~rlrm.validate.fields.Fields` is the older hand-driven view of one table, kept for the
loaders that still use it. Runs on Python 3.8 (``tomli`` stands in for ``tomllib`` before 3.11).
"""

from __future__ import annotations

from rlrm.validate.fields import Fields
from rlrm.validate.files import (MAX_FILE_BYTES, SUFFIXES, PathLike, read_bytes, read_data, read_json,
                                 read_toml, read_yaml)
from rlrm.validate.spec import (OMIT, REQUIRED, Any_, Bool, Field, Float, Fraction, Int, List, MapOf, Nullable,
                                Spec, StrictInt, Str, Table, load)
from rlrm.validate.values import (check_bool, check_choice, check_finite, check_fraction, check_int, check_number,
                                  check_str, describe, is_finite_number, short_repr)

__all__ = [
    "MAX_FILE_BYTES", "OMIT", "REQUIRED", "SUFFIXES", "Any_", "Bool", "Field", "Fields", "Float", "Fraction",
    "Int", "List", "MapOf", "Nullable", "PathLike", "Spec", "Str", "StrictInt", "Table", "check_bool",
    "check_choice", "check_finite", "check_fraction", "check_int", "check_number", "check_str", "describe",
    "is_finite_number", "load", "read_bytes", "read_data", "read_json", "read_toml", "read_yaml", "short_repr",
]
