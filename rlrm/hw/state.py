"""The safety net: snapshot every value before the first write, put it back afterwards.

:class:`StateGuard` is the only writer of hardware settings. Before its first write it reads
every value that may be touched (validated: garbage raises InputError and nothing is
written) and saves them to a JSON state file, atomically (temporary file, fsync, rename), in
the private state folder (:mod:`rlrm.hw.owner`), holding the board's lock from then until it
has restored them. It restores them in ``close()`` (call it in ``finally``), at interpreter
exit and on SIGINT, SIGTERM, SIGHUP or SIGQUIT, then lets the signal do what it would have
done. Only the files rlrm actually wrote are put back, and a file that no longer holds the
value rlrm wrote (another tool changed it since) is left as it is, with one warning line.
After a SIGKILL the state file is still there: ``rlrm restore STATEFILE`` puts the values
back (the file's format, its checks and the restore order are in :mod:`rlrm.hw.statefile`).
"""

from __future__ import annotations

import atexit
import datetime as _dt
import json
import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any, Optional, Union

from rlrm.atomic import atomic_write_bytes
from rlrm.errors import InputError
from rlrm.hw import owner
from rlrm.hw.owner import STATE_DIR_ENV, BoardBusy, BoardLock, default_state_dir  # noqa: F401 (re-exported)
from rlrm.hw.statefile import (FORMAT, LIMIT_MAX, RestoreResult, Step, apply_steps, boot_id,  # noqa: F401
                               current_value, default_statefile, load_statefile, restore_command,
                               restore_statefile, stale_statefiles, step_problem)
from rlrm.hw.sysfs import PathLike, Sysfs, describe_oserror

log = logging.getLogger("rlrm.hw")

#: Every signal that ends a session by default: each one restores first.
_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, n))


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


class StateGuard:
    """Writes hardware settings only after saving what it will overwrite, and restores them.

    Plan the files first (:meth:`plan_limits`, :meth:`plan_value`, :meth:`plan_setspeed`);
    the first :meth:`write` snapshots them all. A write the kernel refuses restores everything
    and raises :class:`SysfsWriteError`.

    :param fs: the sysfs root
    :param statefile: where the snapshot goes (default: ``rlrm-hw-state-<pid>.json`` in the
        private state folder, :func:`rlrm.hw.owner.default_state_dir`)
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
    def plan_limits(self, min_rel: str, max_rel: str, bounds: tuple[int, int] = (0, LIMIT_MAX)) -> None:
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
            "boot_id": boot_id(self.fs),
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
        """After a partial restore: steps whose files hold their originals again are untouched;
        in a step still touched, a file rlrm has put back holds what rlrm wrote last (so the next
        restore does not take it for another tool's change and skip the step)."""
        for step in self.steps:
            if not step.touched:
                continue
            originals = {step.path: step.value, step.max_path: step.max_value}
            current = {f: current_value(self.fs, f) for f in step.files()}
            if all(current[f] == originals[f] for f in step.files()):
                step.touched = False
                for f in step.files():
                    self._written.pop(f, None)
            else:
                for f in step.files():
                    if current[f] == originals[f]:
                        self._written[f] = originals[f]

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


class _signals_blocked:
    """Hold the ending signals while a write or restore runs, so a handler never interleaves with it."""

    def __enter__(self) -> None:
        self._old = None
        if hasattr(signal, "pthread_sigmask"):
            self._old = signal.pthread_sigmask(signal.SIG_BLOCK, set(_SIGNALS))

    def __exit__(self, *exc: Any) -> None:
        if self._old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._old)
