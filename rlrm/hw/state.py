"""The safety net: snapshot every value before the first write, put it back afterwards.

:class:`StateGuard` is the only writer of hardware settings. Before its first write it reads
every value that may be touched (validated: garbage raises InputError and nothing is
written) and saves them to a JSON state file, atomically (temporary file, fsync, rename), in
the private state folder (:mod:`rlrm.hw.owner`), holding the board's lock from then until it
has restored them. It restores them in ``close()`` (call it in ``finally``), at interpreter
exit and on SIGINT, SIGTERM, SIGHUP or SIGQUIT, then lets the signal do what it would have
done. Only the files rlrm actually wrote are put back, and a file that no longer holds the
value rlrm wrote (another tool changed it since) is left as it is, with one warning line.
After a SIGKILL the state file is still there: ``rlrm restore STATEFILE``
(:func:`restore_statefile`) puts the values back, under the root it is given (never a root
named by the file), refusing a state file someone else could have written.
Only the files rlrm writes (cpufreq and devfreq min/max pairs, governors, ``scaling_setspeed``,
INA231 ``enable``) may be planned or restored; a state file naming any other file, or a
value such a file cannot hold, is refused whole before anything is written.

Restore order keeps every min <= max (a max below the current min is refused by the kernel):
each min/max pair is written in the order :func:`rlrm.hw.sysfs.write_limits` picks, then
governors, then ``scaling_setspeed`` (only when its original value is a number, i.e. the
original governor was ``userspace``; otherwise the kernel shows ``<unsupported>`` by itself).
"""

from __future__ import annotations

import atexit
import datetime as _dt
import json
import logging
import os
import re
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from rlrm.atomic import atomic_write_bytes
from rlrm.errors import InputError
from rlrm.hw import owner
from rlrm.hw.owner import STATE_DIR_ENV, BoardBusy, BoardLock, default_state_dir  # noqa: F401 (re-exported)
from rlrm.hw.sysfs import PathLike, Sysfs, describe_oserror, write_limits, writable_path_problem
from rlrm.validate import Fields

log = logging.getLogger("rlrm.hw")

FORMAT = "rlrm-hw-state/1"
BOOT_ID = "proc/sys/kernel/random/boot_id"
#: Every signal that ends a session by default: each one restores first.
_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, n))
#: Plausible bound of a limit value (Hz for devfreq, kHz for cpufreq).
_LIMIT_MAX = 10**11
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


def _value_problem(step: "Step") -> Optional[str]:
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


class SysfsWriteError(InputError):
    """The kernel refused a write (EACCES, EBUSY, EINVAL, ...); every value was restored first.

    :param path: the sysfs file
    :param value: what was being written
    :param err: the OSError
    :param note: what happened to the saved state
    """

    def __init__(self, path: PathLike, value: Any, err: OSError, note: str) -> None:
        super().__init__(path, f"write {value}", f"{describe_oserror(err)}; {note}")
        self.errno = err.errno


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
    bounds: tuple[int, int] = (0, _LIMIT_MAX)
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


class StateGuard:
    """Writes hardware settings only after saving what it will overwrite, and restores them.

    Plan the files first (:meth:`plan_limits`, :meth:`plan_value`, :meth:`plan_setspeed`);
    the first :meth:`write` snapshots them all. A write the kernel refuses restores everything
    and raises :class:`SysfsWriteError`.

    :param fs: the sysfs root
    :param statefile: where the snapshot goes (default: ``rlrm-hw-state-<pid>.json`` in
        ``$RLRM_STATE_DIR`` or the temporary directory)
    :param handlers: restore at interpreter exit and on SIGINT / SIGTERM (main thread only)
    """

    def __init__(self, fs: Sysfs, statefile: Optional[PathLike] = None, handlers: bool = True) -> None:
        self.fs = fs
        self.statefile = Path(statefile) if statefile is not None else default_statefile()
        self.handlers = handlers
        self.steps: list[Step] = []
        self.active = False
        self._owner = os.getpid()
        self._start = owner.start_time(self._owner)
        self.lock = BoardLock(fs.root)
        self._written: dict[str, str] = {}
        self.notes: list[str] = []
        self._prev: dict[int, Any] = {}
        self._installed = False
        self._restoring = False

    # -- planning ------------------------------------------------------------------------
    def plan_limits(self, min_rel: str, max_rel: str, bounds: tuple[int, int] = (0, _LIMIT_MAX)) -> None:
        """A min/max pair that may be written (cpufreq scaling_min/max_freq in kHz, devfreq
        min/max_freq in Hz), with the plausible range of its values."""
        self._plan(Step("limits", min_rel, max_rel, bounds=bounds))

    def plan_value(self, rel: str) -> None:
        """One file that may be written (a governor, an INA231 ``enable``)."""
        self._plan(Step("value", rel))

    def plan_setspeed(self, rel: str) -> None:
        """A ``scaling_setspeed`` file (restored only if it held a number)."""
        self._plan(Step("setspeed", rel))

    def covers(self, rel: str) -> bool:
        return any(rel in s.files() for s in self.steps)

    def _plan(self, step: Step) -> None:
        if any(self.covers(f) for f in step.files()):
            return
        self._refuse_unknown(step)
        if self.active:
            self._snapshot_step(step)
            self.steps.append(step)
            self._save()
        else:
            self.steps.append(step)

    def _refuse_unknown(self, step: Step) -> None:
        """InputError for a file rlrm never writes (a state file could not restore it)."""
        bad = step_problem(step)
        if bad is not None:
            raise InputError(self.fs.path(step.path), "write", f"refused: {bad[1]}")

    # -- ownership -----------------------------------------------------------------------
    def acquire(self) -> None:
        """Take the board's lock (:class:`~rlrm.hw.owner.BoardBusy` when another rlrm holds it)."""
        self.lock.acquire()

    # -- snapshot ------------------------------------------------------------------------
    def activate(self) -> None:
        """Take the lock, read every planned value and save the state file; a no-op when
        already done."""
        if self.active:
            return
        held = self.lock.held
        self.acquire()
        try:
            if os.path.lexists(self.statefile):
                raise InputError(self.statefile, "state file",
                                 "already exists: an earlier run did not restore its settings; "
                                 f"run `{restore_command(self.statefile, self.fs.root)}` first")
            for step in self.steps:
                self._snapshot_step(step)
            self._save()
        except BaseException:
            if not held:
                self.lock.release()
            raise
        self.active = True
        if self.handlers:
            self._install()
        log.info("rlrm: original hardware settings saved to %s", self.statefile)

    def _snapshot_step(self, step: Step) -> None:
        fs = self.fs
        if step.kind == "limits":
            lo = fs.read_int(step.path, "minimum (saved before changing it)", minimum=step.bounds[0],
                             maximum=step.bounds[1])
            hi = fs.read_int(step.max_path, "maximum (saved before changing it)", minimum=step.bounds[0],
                             maximum=step.bounds[1])
            if lo > hi:
                raise InputError(fs.path(step.path), "minimum (saved before changing it)",
                                 f"{lo} is above the maximum {hi} in {fs.path(step.max_path)}")
            step.value, step.max_value = str(lo), str(hi)
        elif step.kind == "setspeed":
            step.value = fs.read_line(step.path, "set speed (saved before changing it)")
        else:
            step.value = fs.read_word(step.path, "value (saved before changing it)")

    def _save(self) -> None:
        data = {
            "format": FORMAT,
            "root": str(self.fs.root),
            "pid": self._owner,
            "start": self._start,
            "boot_id": _boot_id(self.fs),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "steps": [s.to_json() for s in self.steps],
        }
        text = (json.dumps(data, indent=1) + "\n").encode("utf-8")
        try:
            if self.statefile.parent == default_state_dir():
                owner.state_dir(self.statefile.parent)
            atomic_write_bytes(self.statefile, text)
        except OSError as err:
            raise InputError(self.statefile, "state file", f"cannot save the original settings: "
                                                           f"{describe_oserror(err)}; nothing was changed") from None

    # -- writing -------------------------------------------------------------------------
    def write(self, rel: PathLike, value: Union[str, int]) -> None:
        """Write one value; snapshot first if this is the first write.

        On failure every saved value is restored and :class:`SysfsWriteError` is raised.
        """
        rel = os.fspath(rel).lstrip("/")
        if not self.covers(rel):
            self._refuse_unknown(Step("value", rel))  # before anything is saved or written
        with _signals_blocked():
            self.activate()
            if not self.covers(rel):
                self.plan_value(rel)
            step = next(s for s in self.steps if rel in s.files())
            if not step.touched:
                step.touched = True  # saved before the write: `rlrm restore` puts it back after a SIGKILL
                self._save()
            try:
                self.fs.write(rel, value)
                self._written[rel] = str(value)
            except OSError as err:
                problems = self._restore_now()
                if problems:
                    note = (f"restoring failed for {len(problems)} file(s) ({problems[0]}); "
                            f"the originals are in {self.statefile}: run "
                            f"`{restore_command(self.statefile, self.fs.root)}`")
                else:
                    note = "every value rlrm had changed was restored"
                raise SysfsWriteError(self.fs.path(rel), value, err, note) from None

    # -- restoring -----------------------------------------------------------------------
    def restore(self) -> list[str]:
        """Put every saved value back; returns the problems (empty on success).

        On success the state file is removed; otherwise it is kept for ``rlrm restore``.
        Idempotent: restoring twice writes once.
        """
        with _signals_blocked():
            return self._restore_now()

    def _restore_now(self) -> list[str]:
        if not self.active or self._restoring or os.getpid() != self._owner:
            return []
        self._restoring = True
        try:
            self.notes = []
            problems = apply_steps(self.fs, self.steps, self._written, self.notes)
            for note in self.notes:
                log.warning("rlrm: %s", note)
            if problems:
                for p in problems:
                    log.error("rlrm: could not restore %s", p)
                log.error("rlrm: the original values are kept in %s; run `%s`",
                          self.statefile, restore_command(self.statefile, self.fs.root))
                self._forget_restored()  # still active: close() and exit try the rest again
            else:
                try:
                    self.statefile.unlink()
                except FileNotFoundError:
                    pass
                self.lock.release()
                self._written.clear()
                for step in self.steps:
                    step.touched = False
                self.active = False
            return problems
        finally:
            self._restoring = False

    def _forget_restored(self) -> None:
        """After a partial restore: steps whose files hold their originals again are untouched."""
        for step in self.steps:
            originals = {step.path: step.value, step.max_path: step.max_value}
            if step.touched and all(_current(self.fs, f) == originals[f] for f in step.files()):
                step.touched = False
                for f in step.files():
                    self._written.pop(f, None)

    def close(self) -> list[str]:
        """Restore, remove the exit and signal handlers, and give up the board (a value that
        could not be restored stays in the state file, for ``rlrm restore``)."""
        problems = self.restore()
        self._uninstall()
        self.lock.release()
        return problems

    # -- exit and signal handlers ---------------------------------------------------------
    def _install(self) -> None:
        if self._installed:
            return
        atexit.register(self._at_exit)
        if threading.current_thread() is threading.main_thread():
            for sig in _SIGNALS:
                self._prev[sig] = signal.getsignal(sig)
                signal.signal(sig, self._on_signal)
        self._installed = True

    def _uninstall(self) -> None:
        if not self._installed:
            return
        atexit.unregister(self._at_exit)
        if threading.current_thread() is threading.main_thread():
            for sig, prev in self._prev.items():
                if signal.getsignal(sig) == self._on_signal:
                    signal.signal(sig, prev if prev is not None else signal.SIG_DFL)
        self._installed = False

    def _at_exit(self) -> None:
        self.restore()

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.restore()
        self._uninstall()
        prev = self._prev.get(signum, signal.SIG_DFL)
        if callable(prev):
            prev(signum, frame)  # e.g. Python's SIGINT handler: KeyboardInterrupt
            return
        if prev == signal.SIG_IGN:
            return
        signal.signal(signum, signal.SIG_DFL)  # die of the signal, as without rlrm
        os.kill(os.getpid(), signum)
        os._exit(128 + signum)  # pragma: no cover - the kill above does not return


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
                if _current(fs, step.path) != step.value:
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
        current = _current(fs, rel)
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
            problem = _value_problem(step)
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
        boot = _boot_id(fs)
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


def _current(fs: Sysfs, rel: str) -> Optional[str]:
    """A file's current value, None when it cannot be read (then it is written regardless)."""
    try:
        return fs.read_line(rel)
    except (OSError, InputError):
        return None


def _boot_id(fs: Sysfs) -> Optional[str]:
    try:
        return fs.read_line(BOOT_ID, "boot id")
    except (OSError, InputError):
        return None


class _signals_blocked:
    """Hold the ending signals while a write or restore runs, so a handler never interleaves with it."""

    def __enter__(self) -> None:
        self._old = None
        if hasattr(signal, "pthread_sigmask"):
            self._old = signal.pthread_sigmask(signal.SIG_BLOCK, set(_SIGNALS))

    def __exit__(self, *exc: Any) -> None:
        if self._old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._old)
