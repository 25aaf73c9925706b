"""Root-relative reads and writes of sysfs files, with validation.

Every path rlrm touches is taken under one root directory: ``/`` on a board, a fake tree in
tests and containers. The root comes from an argument, else ``RLRM_SYSFS_ROOT``, else ``/``.

Reads validate what they get: a value that is not what the kernel would print (not a number,
out of range, an empty or binary file) raises :class:`rlrm.errors.InputError` naming the file.
Writes are one ``write(2)`` of the whole value plus a newline, like ``echo VALUE > FILE``; they
never create a file that is not there.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Protocol, Union

from rlrm.errors import InputError

#: Environment variable naming the sysfs root when no argument does.
ROOT_ENV = "RLRM_SYSFS_ROOT"

PathLike = Union[str, "os.PathLike[str]"]

_INT_RE = re.compile(r"[+-]?[0-9]+")
_WORD_RE = re.compile(r"[A-Za-z0-9_.:+-]+")
_CPULIST_RE = re.compile(r"[0-9]+(-[0-9]+)?")
#: Biggest file rlrm reads from sysfs; a sysfs attribute is at most one page.
_MAX_READ = 1 << 16


def resolve_root(root: Optional[PathLike] = None) -> Path:
    """The sysfs root: ``root`` if given, else ``$RLRM_SYSFS_ROOT``, else ``/``."""
    if root is None or str(root) == "":
        root = os.environ.get(ROOT_ENV) or "/"
    return Path(os.path.abspath(os.fspath(root)))


#: The full root-relative path of every file rlrm may write (after symlinks are resolved the
#: file must still lie under the root, in a folder of the same name): cpufreq policy limits,
#: governor and set speed; a devfreq node's limits and governor; an INA231 ``enable``.
_NAME = r"[A-Za-z0-9_:@,+-][A-Za-z0-9_.:@,+-]*"
WRITABLE_PATTERNS = (
    re.compile(r"sys/devices/system/cpu/cpufreq/policy[0-9]{1,4}/"
               r"(scaling_min_freq|scaling_max_freq|scaling_governor|scaling_setspeed)", re.ASCII),
    re.compile(rf"sys/(class/devfreq|devices(/{_NAME}){{1,12}}/devfreq)/{_NAME}/(min_freq|max_freq|governor)",
               re.ASCII),
    re.compile(r"sys/bus/i2c/drivers/INA231/[0-9]{1,4}-00[0-9a-f]{2}/enable", re.ASCII),
)
#: What a value written to sysfs may contain: printable ASCII, no line break.
_VALUE_RE = re.compile(r"[\x21-\x7e]([\x20-\x7e]{0,62}[\x21-\x7e])?", re.ASCII)


def writable_path_problem(rel: str) -> Optional[str]:
    """Why rlrm must never write the root-relative ``rel`` (None when it matches a pattern of
    :data:`WRITABLE_PATTERNS` in full and has no ``.``/``..``/empty component)."""
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return f"{_show(rel)} is not a plain path under the root"
    if not any(p.fullmatch(rel) for p in WRITABLE_PATTERNS):
        return (f"{_show(rel)} is not a cpufreq policy, devfreq node or INA231 file rlrm writes "
                "(sys/devices/system/cpu/cpufreq/policyN/scaling_{min,max}_freq|scaling_governor|"
                "scaling_setspeed, .../devfreq/NAME/{min,max}_freq|governor, "
                "sys/bus/i2c/drivers/INA231/BUS-00XX/enable)")
    return None


def confined_path(root: Path, rel: str) -> str:
    """The real absolute path of ``rel`` under ``root``, refusing (PermissionError, EPERM)
    a path that rlrm never writes or that a symlink leads out of the root.

    The result has no symlink in it; :func:`kernel_write` then walks it one component at a
    time with ``O_NOFOLLOW``, so a symlink swapped in after this check is not followed either.
    """
    problem = writable_path_problem(rel)
    if problem is not None:
        raise PermissionError(errno.EPERM, f"refused: {problem}", str(root / rel))
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, rel))
    inside = os.path.commonpath([real_root, real]) == real_root and real != real_root
    wanted = rel.split("/")
    got = real.split("/")
    if not inside or got[-2:] != wanted[-2:]:
        raise PermissionError(errno.EPERM, f"refused: {rel} leads to {_show(real)} through a symlink, "
                                           f"which is not the same file under the root {real_root}",
                              str(root / rel))
    return real


def open_nofollow(path: str, flags: int) -> int:
    """Open the absolute ``path`` walking from ``/`` one component at a time, never following a
    symlink (ELOOP / ENOTDIR instead), and only if it is a regular file (sysfs attributes are)."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    walk = getattr(os, "O_PATH", os.O_RDONLY) | getattr(os, "O_DIRECTORY", 0)  # O_PATH: search right only
    fd = os.open("/", walk)
    try:
        for part in parts[:-1]:
            nxt = os.open(part, walk | nofollow, dir_fd=fd)
            os.close(fd)
            fd = nxt
        out = os.open(parts[-1], flags | nofollow | getattr(os, "O_NONBLOCK", 0), dir_fd=fd)
    finally:
        os.close(fd)
    try:
        if not stat.S_ISREG(os.fstat(out).st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a sysfs attribute is one)", path)
    except BaseException:
        os.close(out)
        raise
    return out


def kernel_write(path: str, data: bytes) -> None:
    """Write ``data`` to an existing file in one ``write(2)``, as ``echo`` does.

    ``O_TRUNC`` is ignored by sysfs and makes a plain file in a fake tree end up holding
    exactly ``data``. No ``O_CREAT``: a missing attribute is an error, never a new file.
    ``path`` comes from :func:`confined_path`; no symlink is followed opening it.
    Tests replace this function to inject EACCES / EBUSY / EINVAL.
    """
    fd = open_nofollow(path, os.O_WRONLY | os.O_TRUNC)
    try:
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(errno.EIO, f"short write ({written} of {len(data)} bytes)")
    finally:
        os.close(fd)


def format_cpulist(cpus: Iterable[int]) -> str:
    """``0-3,6`` for [0, 1, 2, 3, 6], as the kernel prints ``cpu/online``."""
    runs: list[list[int]] = []
    for cpu in sorted(set(cpus)):
        if runs and cpu == runs[-1][1] + 1:
            runs[-1][1] = cpu
        else:
            runs.append([cpu, cpu])
    return ",".join(f"{a}-{b}" if b > a else f"{a}" for a, b in runs)


def describe_oserror(err: OSError) -> str:
    """``Device or resource busy (EBUSY)`` for an :class:`OSError`."""
    name = errno.errorcode.get(err.errno or 0, "")
    text = err.strerror or str(err)
    return f"{text} ({name})" if name else text


@dataclass(frozen=True)
class Reading:
    """One sensor reading that may be missing.

    :param name: what was read (a rail such as ``VDD_IN``, a thermal zone such as ``CPU-therm``)
    :param value: the value in ``unit``, or None when the sensor is missing or gave garbage
    :param unit: ``W`` or ``C``
    :param problem: why ``value`` is None (names the file), empty when it is not
    """

    name: str
    value: Optional[float]
    unit: str
    problem: str = ""

    @property
    def missing(self) -> bool:
        """True when the caller must fall back (for power: to a power-model estimate)."""
        return self.value is None


class Sysfs:
    """Reads and writes files under one root, validating values.

    Paths passed to the methods are relative to the root (``sys/devices/...``; a leading
    ``/`` is ignored), so the same code drives ``/`` on a board and a fake tree in a test.

    :param root: the root directory; None means ``$RLRM_SYSFS_ROOT`` or ``/``
    """

    def __init__(self, root: Optional[PathLike] = None) -> None:
        self.root = resolve_root(root)

    def __repr__(self) -> str:
        return f"Sysfs({str(self.root)!r})"

    # -- paths ---------------------------------------------------------------------------
    def path(self, rel: PathLike) -> Path:
        """Absolute path of ``rel`` under the root."""
        return self.root / os.fspath(rel).lstrip("/")

    def exists(self, rel: PathLike) -> bool:
        return self.path(rel).exists()

    def is_dir(self, rel: PathLike) -> bool:
        return self.path(rel).is_dir()

    def glob(self, pattern: str) -> list[str]:
        """Root-relative paths matching ``pattern`` (sorted, symlinks not resolved)."""
        return sorted(str(p.relative_to(self.root)) for p in self.root.glob(pattern.lstrip("/")))

    def writable(self, rel: PathLike) -> bool:
        """Whether this process may open ``rel`` for writing (it must exist)."""
        p = self.path(rel)
        return p.is_file() and os.access(p, os.W_OK)

    # -- raw reads -----------------------------------------------------------------------
    def read_bytes(self, rel: PathLike) -> bytes:
        """The file's bytes (at most 64 KiB); OSError (FileNotFoundError, PermissionError, ...)
        passes through; InputError for a directory, FIFO or device where a file should be."""
        path = self.path(rel)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not hang us
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                kind = "a directory" if stat.S_ISDIR(os.fstat(fd).st_mode) else "not a regular file"
                raise InputError(path, "file", f"{kind}, where a sysfs attribute (a regular file) was expected")
            with os.fdopen(fd, "rb", closefd=False) as fh:
                return fh.read(_MAX_READ)
        finally:
            os.close(fd)

    def read_text(self, rel: PathLike, field: str = "value") -> str:
        """The file's text with trailing whitespace and NULs removed; InputError if not text."""
        raw = self.read_bytes(rel)
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            raise InputError(self.path(rel), field, f"not text: {_show(raw)}") from None
        text = text.rstrip("\x00 \t\r\n")
        if "\x00" in text:
            raise InputError(self.path(rel), field, f"not text: {_show(raw)}")
        return text

    def read_line(self, rel: PathLike, field: str = "value") -> str:
        """A single non-empty line."""
        text = self.read_text(rel, field).strip()
        if not text:
            raise InputError(self.path(rel), field, "empty file")
        if "\n" in text:
            raise InputError(self.path(rel), field, f"expected one line, got {_show(text)}")
        return text

    # -- validated reads -----------------------------------------------------------------
    def read_int(self, rel: PathLike, field: str, *, minimum: Optional[int] = None,
                 maximum: Optional[int] = None) -> int:
        """One integer, within ``[minimum, maximum]`` when given."""
        text = self.read_line(rel, field)
        return self._int(rel, field, text, minimum, maximum)

    def read_ints(self, rel: PathLike, field: str, *, minimum: Optional[int] = None,
                  maximum: Optional[int] = None) -> list[int]:
        """A non-empty whitespace-separated list of integers, each within bounds."""
        text = self.read_line(rel, field)
        return [self._int(rel, field, tok, minimum, maximum) for tok in text.split()]

    def read_float(self, rel: PathLike, field: str, *, minimum: Optional[float] = None,
                   maximum: Optional[float] = None) -> float:
        """One finite decimal number (``1.234567``), within bounds when given."""
        text = self.read_line(rel, field)
        if not re.fullmatch(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)", text):
            raise InputError(self.path(rel), field, f"not a decimal number: {_show(text)}")
        value = float(text)
        if not math.isfinite(value):
            raise InputError(self.path(rel), field, f"not finite: {_show(text)}")
        self._check_range(rel, field, value, minimum, maximum)
        return value

    def read_word(self, rel: PathLike, field: str) -> str:
        """One word such as a governor name (letters, digits, ``_ . : + -``)."""
        text = self.read_line(rel, field)
        if not _WORD_RE.fullmatch(text):
            raise InputError(self.path(rel), field, f"not a single word: {_show(text)}")
        return text

    def read_words(self, rel: PathLike, field: str) -> list[str]:
        """A non-empty whitespace-separated list of words."""
        text = self.read_line(rel, field)
        words = text.split()
        for w in words:
            if not _WORD_RE.fullmatch(w):
                raise InputError(self.path(rel), field, f"not a list of words: {_show(text)}")
        return words

    def read_cpus(self, rel: PathLike, field: str = "cpus") -> list[int]:
        """CPU numbers written either as a cpulist (``0-3,6``) or space-separated (``0 1 2 3``)."""
        text = self.read_line(rel, field)
        cpus: set[int] = set()
        parts = text.split(",")
        tokens = [tok for part in parts for tok in part.split()]
        if any(not part.strip() for part in parts):
            raise InputError(self.path(rel), field, f"not a CPU list: {_show(text)}")
        for tok in tokens:
            if not _CPULIST_RE.fullmatch(tok):
                raise InputError(self.path(rel), field, f"not a CPU list: {_show(text)}")
            lo, _, hi = tok.partition("-")
            first, last = int(lo), int(hi or lo)
            if last < first or last > 4095:
                raise InputError(self.path(rel), field, f"bad CPU range {tok!r} in {_show(text)}")
            cpus.update(range(first, last + 1))
        return sorted(cpus)

    # -- writes --------------------------------------------------------------------------
    def write(self, rel: PathLike, value: Union[str, int]) -> None:
        """Write ``value`` and a newline in one ``write(2)``; OSError passes through."""
        text = str(value)
        if not _VALUE_RE.fullmatch(text):
            raise ValueError(f"refusing to write {_show(text)} to {self.path(rel)}: not one short line of "
                             "printable ASCII")
        real = confined_path(self.root, os.fspath(rel).lstrip("/"))
        kernel_write(real, (text + "\n").encode("ascii"))

    # -- helpers -------------------------------------------------------------------------
    def _int(self, rel: PathLike, field: str, text: str, minimum: Optional[int],
             maximum: Optional[int]) -> int:
        if not _INT_RE.fullmatch(text):
            raise InputError(self.path(rel), field, f"not an integer: {_show(text)}")
        value = int(text)
        self._check_range(rel, field, value, minimum, maximum)
        return value

    def _check_range(self, rel: PathLike, field: str, value: float, minimum: Optional[float],
                     maximum: Optional[float]) -> None:
        if minimum is not None and value < minimum:
            raise InputError(self.path(rel), field, f"{value:g} is below the plausible minimum {minimum:g}")
        if maximum is not None and value > maximum:
            raise InputError(self.path(rel), field, f"{value:g} is above the plausible maximum {maximum:g}")


def _show(value: Union[str, bytes]) -> str:
    """A short printable rendering of a bad value for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Writer(Protocol):
    """Anything with ``write(rel, value)``: :class:`Sysfs` itself, or the safety guard."""

    def write(self, rel: PathLike, value: Union[str, int]) -> None: ...


def write_limits(fs: Sysfs, writer: Writer, min_rel: str, max_rel: str,
                 new_min: int, new_max: int, *, field: str = "frequency",
                 bounds: tuple[int, Optional[int]] = (0, None)) -> bool:
    """Set a min/max pair (cpufreq kHz or devfreq Hz) so that min <= max holds after each write.

    The kernel refuses (EINVAL) a max below the current min or a min above the current max:
    raise max before min, lower min before max. A file already holding its wanted value is not
    written. Returns False when both already do (nothing written). The current values are
    validated against ``bounds`` (plausible minimum and maximum) first.
    """
    if new_min > new_max:
        raise ValueError(f"min {new_min} above max {new_max} for {fs.path(min_rel)}")
    cur_min = fs.read_int(min_rel, f"minimum {field}", minimum=bounds[0], maximum=bounds[1])
    cur_max = fs.read_int(max_rel, f"maximum {field}", minimum=bounds[0], maximum=bounds[1])
    if (cur_min, cur_max) == (new_min, new_max):
        return False
    order = [(max_rel, new_max, cur_max), (min_rel, new_min, cur_min)]
    if new_max < cur_min:
        order.reverse()
    for rel, new, cur in order:
        if new != cur:
            writer.write(rel, new)
    return True
