"""Who owns a board: the private state folder, process identity, and the one-owner lock.

- **State folder**: ``$RLRM_STATE_DIR`` if set, else ``/run/rlrm`` for root, else
  ``$XDG_RUNTIME_DIR/rlrm``, else ``/tmp/rlrm-<uid>``. It is created ``0700``; an existing one
  must be a real directory (not a symlink) owned by this user or root and writable by nobody
  else, or rlrm refuses it in one line. Nobody else can plant a state file or a lock there.
- **Identity**: a process is its PID plus its start time (``/proc/PID/stat`` field 22, in clock
  ticks since boot). A PID reused by another process, or one seen from another PID namespace,
  does not match.
- **One owner per board**: :class:`BoardLock` takes ``fcntl.flock(LOCK_EX | LOCK_NB)`` on
  ``rlrm-board-<hash of the real sysfs root>.lock`` in the state folder for as long as rlrm has
  a setting changed. A second owner is refused in one line naming the holder's PID. The kernel
  drops the lock when the holder dies, even by SIGKILL.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path
from typing import Optional, Union

from rlrm.errors import InputError

STATE_DIR_ENV = "RLRM_STATE_DIR"
#: The kernel's PID_MAX_LIMIT: a bigger "pid" in a file is garbage.
PID_MAX = 1 << 22
#: Biggest state or lock file rlrm reads.
MAX_STATE_BYTES = 1 << 20

try:  # not on Windows; the board side is Linux
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


def default_state_dir() -> Path:
    """Where state files and locks go (not created nor checked: see :func:`state_dir`)."""
    env = os.environ.get(STATE_DIR_ENV)
    if env:
        return Path(os.path.abspath(env))
    if os.geteuid() == 0:
        return Path("/run/rlrm")
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime) and _private_dir_problem(Path(runtime), allow_sticky=False) is None:
        return Path(runtime) / "rlrm"
    return Path(f"/tmp/rlrm-{os.geteuid()}")


def state_dir(folder: Optional[Union[str, Path]] = None, create: bool = True) -> Path:
    """The state folder, created ``0700`` when missing; InputError (one line) when it is unsafe."""
    folder = Path(folder) if folder is not None else default_state_dir()
    if create and not os.path.lexists(folder):
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
        except OSError as err:
            raise InputError(folder, "state folder", f"cannot create it: {err.strerror or err} "
                                                     f"(set {STATE_DIR_ENV} to a private folder)") from None
    problem = _private_dir_problem(folder)
    if problem is not None:
        raise InputError(folder, "state folder", f"{problem}; rlrm keeps its state only in a folder that "
                                                 f"nobody else can write (set {STATE_DIR_ENV})")
    return folder


def _private_dir_problem(folder: Path, allow_sticky: bool = False) -> Optional[str]:
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        return "does not exist"
    except OSError as err:
        return f"cannot inspect it: {err.strerror or err}"
    if stat.S_ISLNK(st.st_mode):
        return "is a symlink"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a directory"
    if st.st_uid not in (os.geteuid(), 0):
        return f"is owned by uid {st.st_uid}, not by this user or root"
    if st.st_mode & 0o022 and not (allow_sticky and st.st_mode & stat.S_ISVTX):
        return f"is writable by {'others' if st.st_mode & 0o002 else 'its group'} (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def trusted_file_problem(st: os.stat_result) -> Optional[str]:
    """Why a state or lock file with this ``fstat`` must not be trusted (None when it may)."""
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_uid not in (os.geteuid(), 0):
        return f"owned by uid {st.st_uid}, not by this user or root: refusing a file someone else wrote"
    if st.st_mode & 0o022:
        return f"writable by {'others' if st.st_mode & 0o002 else 'its group'} (mode {stat.S_IMODE(st.st_mode):o})"
    if st.st_size > MAX_STATE_BYTES:
        return f"{st.st_size} bytes, more than a state file ever holds ({MAX_STATE_BYTES})"
    return None


def read_trusted(path: Union[str, Path], field: str = "state file") -> bytes:
    """The bytes of a state file: a regular file (no symlink, FIFO or device), owned by this user
    or root, writable by nobody else, at most 1 MiB; InputError (one line) otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputError(path, field, "no such file") from None
    except OSError as err:
        why = "is a symlink" if err.errno == errno.ELOOP else f"cannot read: {err.strerror or err}"
        raise InputError(path, field, why) from None
    try:
        problem = trusted_file_problem(os.fstat(fd))
        if problem is not None:
            raise InputError(path, field, problem)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read(MAX_STATE_BYTES + 1)
    finally:
        os.close(fd)


# -- identity ---------------------------------------------------------------------------------
def start_time(pid: int) -> Optional[int]:
    """Process ``pid``'s start time in clock ticks since boot (``/proc/PID/stat`` field 22), or
    None when there is no such process (or no /proc)."""
    if not 0 < pid <= PID_MAX:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read(4096)
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2:].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def alive(pid: int, start: Optional[int] = None) -> bool:
    """Whether the process ``pid`` (started at ``start`` ticks, when known) still runs."""
    if not isinstance(pid, int) or not 0 < pid <= PID_MAX:
        return False
    now = start_time(pid)
    if now is not None:
        return start is None or now == start
    if os.path.isdir("/proc/self"):
        return False  # /proc works and has no such process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def me() -> tuple[int, Optional[int]]:
    """This process's identity: (PID, start time)."""
    return os.getpid(), start_time(os.getpid())


# -- one owner per board ---------------------------------------------------------------------
class BoardBusy(InputError):
    """Another rlrm process holds the board (its lock); ``holder`` is its PID, 0 if unknown."""

    def __init__(self, lockfile: Path, root: str, holder: int) -> None:
        who = f"rlrm process {holder}" if holder else "another rlrm process"
        super().__init__(lockfile, "lock", f"the board at {root} is in use by {who}; wait for it to end "
                                           "(or stop it: it restores its settings on exit)")
        self.holder = holder


class BoardLock:
    """An exclusive ``flock`` on the board's lock file, naming its holder (PID and start time).

    :param root: the sysfs root (its real path keys the lock)
    :param folder: the state folder (default :func:`default_state_dir`)
    """

    def __init__(self, root: Union[str, Path], folder: Optional[Union[str, Path]] = None) -> None:
        self.root = os.path.realpath(root)
        self.folder = Path(folder) if folder is not None else None
        digest = hashlib.sha256(self.root.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        self.name = f"rlrm-board-{digest}.lock"
        self.fd: Optional[int] = None
        self._path = Path()

    @property
    def path(self) -> Path:
        return (self.folder if self.folder is not None else default_state_dir()) / self.name

    @property
    def held(self) -> bool:
        return self.fd is not None

    def acquire(self) -> None:
        """Take the lock (a no-op when held); :class:`BoardBusy` when another process has it."""
        if self.fd is not None or fcntl is None:
            return
        folder = state_dir(self.folder)
        path = folder / self.name
        for _ in range(100):
            fd = self._try(path)
            if fd is not None:
                self.fd = fd
                self._path = path
                return
        raise InputError(path, "lock", "keeps being replaced while rlrm takes it")

    def _try(self, path: Path) -> Optional[int]:
        """The locked fd, or None when the file was removed or replaced meanwhile (try again)."""
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(path, flags, 0o600)
        except OSError as err:
            raise InputError(path, "lock", f"cannot open it: {err.strerror or err}") from None
        try:
            st = os.fstat(fd)
            problem = trusted_file_problem(st)
            if problem is not None:
                raise InputError(path, "lock", problem)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BoardBusy(path, self.root, _holder(fd)) from None
            try:
                now = os.lstat(path)
            except FileNotFoundError:
                now = None
            if now is None or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                os.close(fd)  # the holder removed it as we opened it: lock the new file instead
                return None
            pid, start = me()
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{pid} {start if start is not None else '-'} {self.root}\n".encode("utf-8",
                                                                                            "surrogateescape"), 0)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def release(self) -> None:
        """Remove the lock file, then drop the lock (a process that opened the old file meanwhile
        sees it is gone once it gets the lock, and takes a new one)."""
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        try:
            os.unlink(self._path)
        except OSError:
            pass
        os.close(fd)  # closing releases the flock


def _holder(fd: int) -> int:
    try:
        first = os.pread(fd, 64, 0).split(b" ", 1)[0]
        pid = int(first) if first.isdigit() and len(first) <= 8 else 0
    except OSError:
        return 0
    return pid if 0 < pid <= PID_MAX else 0
