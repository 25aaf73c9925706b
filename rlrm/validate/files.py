"""One reader for the files rlrm takes: TOML, JSON and YAML.

:func:`read_data` reads a regular file of bounded size and parses it by kind; any problem is
one :class:`~rlrm.errors.InputError` on ``<file>`` (missing, a directory, not a regular file,
too large, unreadable) or on ``<toml>`` / ``<json>`` / ``<yaml>`` (not UTF-8, not valid, nested
too deeply, a NaN in JSON, a duplicate YAML key). Runs on Python 3.8: ``tomli`` stands in for
``tomllib`` before 3.11, and PyYAML is imported only to read YAML.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]

from rlrm.errors import InputError
from rlrm.validate.values import short_repr

PathLike = Union[str, "os.PathLike[str]"]
#: largest file any loader reads (profiles, scenarios, traces, configs, tables: all far below)
MAX_FILE_BYTES = 16 * 2**20
#: file kinds :func:`read_data` parses, by suffix
SUFFIXES = {".toml": "toml", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}


def read_bytes(path: PathLike, what: str = "a file", limit: int = MAX_FILE_BYTES,
               follow_symlinks: bool = True) -> bytes:
    """The bytes of ``path``, a regular file of at most ``limit`` bytes; anything else (missing,
    a directory, a FIFO or device such as ``/dev/zero``, too big, a symbolic link when
    ``follow_symlinks`` is False) is an :class:`InputError` on ``<file>`` raised before a byte is
    read, so nothing hangs and nothing unbounded is allocated.

    :param what: what the file should be, for the message (``a weights file``, ``a TOML file``)
    :param follow_symlinks: False for a file that must be itself, not point elsewhere (a
        checkpoint's weights: a link could make rlrm read and hash any file)
    """
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
    if not follow_symlinks:
        if path.is_symlink():
            raise InputError(path, "<file>", f"is a symbolic link, expected {what}")
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise InputError(path, "<file>", "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "<file>", f"is a directory, expected {what}") from None
    except PermissionError:
        raise InputError(path, "<file>", "permission denied") from None
    except (OSError, ValueError) as err:  # a NUL in the name, ...
        raise InputError(path, "<file>", f"cannot read: {getattr(err, 'strerror', None) or err}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise InputError(path, "<file>", f"is a directory, expected {what}")
        if not stat.S_ISREG(st.st_mode):
            raise InputError(path, "<file>", f"not a regular file (a FIFO, socket or device), expected {what}")
        if st.st_size > limit:
            raise InputError(path, "<file>", f"{st.st_size} bytes, more than the {limit} allowed for {what}")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
    except OSError as err:  # an I/O error
        raise InputError(path, "<file>", f"cannot read: {err.strerror or err}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise InputError(path, "<file>", f"more than the {limit} bytes allowed for {what}")
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
    raw = read_bytes(path, f"a {label} file")
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
