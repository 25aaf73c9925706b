"""The state file: what rlrm saved before changing the hardware, and how it is put back.

A state file (``rlrm-hw-state-<pid>.json`` in the private state folder, :mod:`rlrm.hw.owner`)
lists the :class:`Step` s a :class:`rlrm.hw.state.StateGuard` may write, with their original
values. After a SIGKILL it is still there: ``rlrm restore STATEFILE`` (:func:`restore_statefile`)
puts the values back, under the root it is given (never a root named by the file), refusing a
state file someone else could have written. Only the files rlrm writes (cpufreq and devfreq
min/max pairs, governors, ``scaling_setspeed``, INA231 ``enable``) may be planned or restored; a
state file naming any other file, or a value such a file cannot hold, is refused whole before
anything is written.

Restore order keeps every min <= max (a max below the current min is refused by the kernel):
each min/max pair is written in the order :func:`rlrm.hw.sysfs.write_limits` picks, then
governors, then ``scaling_setspeed`` (only when its original value is a number, i.e. the
original governor was ``userspace``; otherwise the kernel shows ``<unsupported>`` by itself).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from rlrm.errors import InputError
from rlrm.hw import owner
from rlrm.hw.owner import BoardLock, default_state_dir
from rlrm.hw.sysfs import PathLike, Sysfs, describe_oserror, write_limits, writable_path_problem
from rlrm.validate import Fields

FORMAT = "rlrm-hw-state/1"
BOOT_ID = "proc/sys/kernel/random/boot_id"
#: Plausible bound of a limit value (Hz for devfreq, kHz for cpufreq).
LIMIT_MAX = 10**11
#: The only files rlrm writes, by kind of step (file names): a state file naming anything else
#: (``sys/power/state``, say) is refused, and so is a guard asked to write it.
LIMIT_PAIRS = {("scaling_min_freq", "scaling_max_freq"), ("min_freq", "max_freq")}
VALUE_FILES = {"scaling_governor": "governor", "governor": "governor", "enable": "enable"}
SETSPEED_FILE = "scaling_setspeed"
_GOVERNOR = re.compile(r"[A-Za-z0-9_-]{1,32}", re.ASCII)
_DIGITS = re.compile(r"[0-9]{1,12}", re.ASCII)


def step_problem(step: "Step") -> Optional[tuple[str, str]]:
    """Why rlrm must not write ``step`` (``(which file, problem)``), or None when it may."""
    name = step.path.rsplit("/", 1)[-1]
    for f in step.files():
        problem = writable_path_problem(f)
        if problem is not None:
            return ("min" if step.kind == "limits" else "path"), problem
    if step.kind == "limits":
        max_name = step.max_path.rsplit("/", 1)[-1]
        if (name, max_name) not in LIMIT_PAIRS or step.path.rsplit("/", 1)[0] != step.max_path.rsplit("/", 1)[0]:
            return "min", f"{step.path} / {step.max_path} is not a min/max frequency pair rlrm writes"
        return None
    if step.kind == "setspeed":
        return None if name == SETSPEED_FILE else ("path", f"{step.path} is not a scaling_setspeed file")
    if name not in VALUE_FILES:
        return "path", f"rlrm never writes {name!r} ({', '.join(sorted(VALUE_FILES))} only)"
    return None


def value_problem(step: "Step") -> Optional[str]:
    """Why a saved value cannot be what the file held (None when it can)."""
    value = step.value
    if not value or "\n" in value or not value.isascii() or not value.isprintable():
        return f"must be one non-empty line of printable ASCII, got {value!r}"
    if step.kind == "setspeed":
        return None if _DIGITS.fullmatch(value) or value == "<unsupported>" else \
            f"expected kHz or <unsupported>, got {value!r}"
    what = VALUE_FILES[step.path.rsplit("/", 1)[-1]]
    if what == "enable" and value not in ("0", "1"):
        return f"an enable file holds 0 or 1, got {value!r}"
    if what == "governor" and not _GOVERNOR.fullmatch(value):  # e.g. schedutil, nvhost_podgov, msm-adreno-tz
        return f"not a governor name: {value!r}"
    return None


@dataclass
class Step:
    """One thing to restore.

    :param kind: ``limits`` (a min/max pair), ``value`` (one file) or ``setspeed``
    :param path: the file (the min file for ``limits``), relative to the root
    :param max_path: the max file (``limits`` only)
    :param value: the original value (text; the min for ``limits``)
    :param max_value: the original max (``limits`` only)
    :param bounds: plausible range of the values, checked when they are saved
    :param touched: rlrm has written (or is about to write) one of its files: only such steps
        are restored
    """

    kind: str
    path: str
    max_path: str = ""
    value: str = ""
    max_value: str = ""
    bounds: tuple[int, int] = (0, LIMIT_MAX)
    touched: bool = False

    def files(self) -> list[str]:
        return [self.path, self.max_path] if self.kind == "limits" else [self.path]

    def to_json(self) -> dict:
        if self.kind == "limits":
            return {"kind": "limits", "min": self.path, "max": self.max_path,
                    "min_value": int(self.value), "max_value": int(self.max_value), "touched": self.touched}
        return {"kind": self.kind, "path": self.path, "value": self.value, "touched": self.touched}


def restore_command(statefile: PathLike, root: PathLike = "/") -> str:
    """The ``rlrm restore`` command line for ``statefile`` (with ``--sysfs-root`` unless ``/``:
    restore never takes the root from the file)."""
    extra = "" if str(root) == "/" else f" --sysfs-root {root}"
    return f"rlrm restore {statefile}{extra}"


def default_statefile() -> Path:
    """``rlrm-hw-state-<pid>.json`` in the state folder (see :mod:`rlrm.hw.owner`)."""
    return default_state_dir() / f"rlrm-hw-state-{os.getpid()}.json"


def stale_statefiles(directory: Optional[Path] = None) -> list[Path]:
    """State files left by rlrm processes that are gone (killed before they could restore).

    Only files this user may trust are listed (see :func:`rlrm.hw.owner.read_trusted`); a file
    that cannot be read or parsed is listed too (``rlrm restore`` then says what is wrong).
    """
    out = []
    folder = directory or default_state_dir()
    try:
        candidates = sorted(folder.glob("rlrm-hw-state-*.json"))[:1000]
    except OSError:
        return []
    for p in candidates:
        pid_text = p.stem.rsplit("-", 1)[-1]
        if not (pid_text.isascii() and pid_text.isdigit() and len(pid_text) <= 12):
            continue
        try:
            if owner.trusted_file_problem(os.lstat(p)) is not None:
                continue
        except OSError:
            continue
        pid, start = int(pid_text), None
        try:
            meta, _ = load_statefile(p)
            pid, start = meta["pid"], meta["start"]
        except InputError:
            pass
        if not owner.alive(pid, start):
            out.append(p)
    return out


# -- restoring from a list of steps ----------------------------------------------------
def apply_steps(fs: Sysfs, steps: list[Step], written: Optional[dict[str, str]] = None,
                notes: Optional[list[str]] = None) -> list[str]:
    """Write the original value of every touched step back, in order; returns one problem line
    per failure.

    :param written: the value rlrm last wrote to each file; when given, a step whose file no
        longer holds it (another tool changed it since) is left as it is, with a line in ``notes``
    """
    problems = []
    todo = [s for s in steps if s.touched]
    if written is not None:  # decide before writing: restoring a governor changes scaling_setspeed
        changed = {id(s): _changed_by_others(fs, s, written) for s in todo}
        if notes is not None:
            notes.extend(c for c in changed.values() if c)
        todo = [s for s in todo if not changed[id(s)]]
    for step in todo:
        try:
            if step.kind == "limits":
                _restore_limits(fs, step.path, step.max_path, int(step.value), int(step.max_value))
            elif step.kind != "setspeed" or step.value.isdigit():
                if current_value(fs, step.path) != step.value:
                    fs.write(step.path, step.value)
        except OSError as err:
            problems.append(f"{err.filename or fs.path(step.path)}: {describe_oserror(err)}")
        except InputError as err:
            problems.append(str(err))
    return problems


def _changed_by_others(fs: Sysfs, step: Step, written: dict[str, str]) -> str:
    """A one-line note when a file of ``step`` holds neither what rlrm wrote last nor (if rlrm
    never wrote it) its original value; "" when rlrm may restore the step."""
    originals = {step.path: step.value, step.max_path: step.max_value} if step.kind == "limits" else {
        step.path: step.value}
    for rel in step.files():
        expected = written.get(rel, originals[rel])
        current = current_value(fs, rel)
        if current is not None and current != expected and not (step.kind == "setspeed" and rel not in written):
            return (f"left {fs.path(rel)} as it is: it holds {current!r}, not the {expected!r} rlrm wrote "
                    "(another tool changed it since)")
    return ""


def _restore_limits(fs: Sysfs, min_rel: str, max_rel: str, lo: int, hi: int) -> None:
    try:
        write_limits(fs, fs, min_rel, max_rel, lo, hi)
        return
    except (OSError, InputError):
        pass
    # The current values are unreadable or the kernel refused the order picked from them:
    # max, min, max succeeds from any starting point (the first write may be refused).
    try:
        fs.write(max_rel, hi)
    except OSError:
        pass
    fs.write(min_rel, lo)
    fs.write(max_rel, hi)


@dataclass
class RestoreResult:
    """What ``rlrm restore`` did.

    :param restored: number of steps in the file
    :param problems: one line per value that could not be written back
    :param skipped: why nothing was done (empty when it was)
    """

    restored: int
    problems: list[str]
    skipped: str = ""
    blocked: bool = False


def load_statefile(statefile: PathLike) -> tuple[dict, list[Step]]:
    """Read and validate a state file (InputError naming the file and field when malformed,
    or when it is not a regular file of this user or root that nobody else can write)."""
    raw = owner.read_trusted(statefile)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise InputError(statefile, "<json>", f"not valid JSON: {err}") from None
    except RecursionError:
        raise InputError(statefile, "<json>", "nested too deeply") from None
    top = Fields(data, statefile)
    fmt = top.str("format")
    if fmt != FORMAT:
        raise top.error("format", f"expected {FORMAT!r}, got {fmt!r}")
    start = top.raw("start", None)
    if start is not None:
        start = top.number("start", integer=True, minimum=0, maximum=2**63)
    boot = top.raw("boot_id", None)
    if boot is not None and not (isinstance(boot, str) and re.fullmatch(r"[0-9a-f-]{1,64}", boot, re.ASCII)):
        raise top.error("boot_id", f"not a boot id: {str(boot)[:40]!r}")
    meta = {"root": top.str("root"), "pid": top.number("pid", integer=True, minimum=0, maximum=owner.PID_MAX),
            "start": start, "boot_id": boot, "created": top.str("created", "")}
    steps = []
    for t in top.tables("steps"):
        kind = t.str("kind", choices=("limits", "value", "setspeed"))
        if kind == "limits":
            lo = t.number("min_value", integer=True, minimum=0)
            hi = t.number("max_value", integer=True, minimum=0)
            if lo > hi:
                raise t.error("min_value", f"{lo} is above max_value {hi}")
            step = Step("limits", _relpath(t, "min"), _relpath(t, "max"), str(lo), str(hi),
                        touched=t.bool("touched", True))
        else:
            step = Step(kind, _relpath(t, "path"), value=t.str("value"), touched=t.bool("touched", True))
        bad = step_problem(step)
        if bad is not None:
            raise t.error(*bad)
        if step.kind != "limits":
            problem = value_problem(step)
            if problem is not None:
                raise t.error("value", problem)
        steps.append(step)
        t.finish()
    top.finish()
    return meta, steps


def restore_statefile(statefile: PathLike, root: Optional[PathLike] = None, force: bool = False) -> RestoreResult:
    """Put back the values saved in ``statefile`` (after a SIGKILL, say).

    Writes go only under ``root`` (the file's own ``root`` field is never used), only to the
    files a state file may name, never through a symlink out of the root. The board's lock is
    held while restoring: another rlrm using the board makes this a :class:`BoardBusy` error.

    :param statefile: a file written by :class:`StateGuard`
    :param root: sysfs root; None means ``$RLRM_SYSFS_ROOT``, else ``/``
    :param force: restore even if the process that wrote the file still runs
    """
    meta, steps = load_statefile(statefile)
    fs = Sysfs(root)  # None: $RLRM_SYSFS_ROOT, else /
    pid = meta["pid"]
    lock = BoardLock(fs.root)
    lock.acquire()
    try:
        if not force and owner.alive(pid, meta["start"]):
            return RestoreResult(0, [], f"process {pid}, which wrote it, is still running and restores on exit "
                                        "(stop it, or pass --force)", blocked=True)
        boot = boot_id(fs)
        if not force and meta["boot_id"] and boot and meta["boot_id"] != boot:
            return RestoreResult(0, [], "the board has rebooted since, which already reset these settings")
        problems = apply_steps(fs, steps)
        if not problems:
            Path(statefile).unlink()
        return RestoreResult(sum(s.touched for s in steps), problems)
    finally:
        lock.release()


# -- helpers -------------------------------------------------------------------------------
def _relpath(t: Fields, key: str) -> str:
    """A root-relative path under ``sys/``: a state file never points rlrm anywhere else."""
    value = t.str(key)
    parts = value.split("/")
    if value.startswith("/") or parts[0] != "sys" or len(parts) < 2 or any(p in ("", ".", "..") for p in parts):
        raise t.error(key, f"expected a path under sys/ relative to the sysfs root, got {value!r}")
    return value


def current_value(fs: Sysfs, rel: str) -> Optional[str]:
    """A file's current value, None when it cannot be read (then it is written regardless)."""
    try:
        return fs.read_line(rel)
    except (OSError, InputError):
        return None


def boot_id(fs: Sysfs) -> Optional[str]:
    try:
        return fs.read_line(BOOT_ID, "boot id")
    except (OSError, InputError):
        return None
