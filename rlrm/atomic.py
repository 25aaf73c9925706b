"""Atomic file writes: a reader (or a crash) never sees half a file.

An interrupted write (a crash, SIGKILL) leaves only hidden temporaries next to the target:
``.<name>.<random>.tmp`` (a file being written, a folder being filled) or ``.<name>.old`` (a
folder being replaced or removed). :func:`remove_temporaries` clears them away.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Union


def atomic_write_bytes(path: Union[str, Path], data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder, fsync, rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes 0600: give what open() would
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def make_staging_dir(final: Union[str, Path]) -> Path:
    """A new empty hidden folder next to ``final``, to fill and then publish with
    :func:`atomic_replace_dir`."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    os.chmod(staging, 0o777 & ~current_umask())  # mkdtemp makes 0700: give what mkdir() would
    return staging


def current_umask() -> int:
    """The process umask: from /proc/self/status where Linux gives it (no change to the
    process), else by setting it and putting it back at once."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_replace_dir(staging: Union[str, Path], final: Union[str, Path]) -> Path:
    """Move a fully written folder ``staging`` into place as ``final`` (replacing it)."""
    staging, final = Path(staging), Path(final)
    for f in staging.iterdir():
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    if final.exists():
        old = _old_path(final)
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, final)
    _fsync_dir(final.parent)
    return final


def atomic_remove_dir(folder: Union[str, Path]) -> None:
    """Remove ``folder`` so that no reader (or crash) sees it partly deleted: it is renamed to
    a hidden ``.<name>.old`` first, then deleted. Nothing happens if it does not exist."""
    folder = Path(folder)
    old = _old_path(folder)
    shutil.rmtree(old, ignore_errors=True)
    try:
        os.replace(folder, old)
    except FileNotFoundError:
        return
    _fsync_dir(folder.parent)
    shutil.rmtree(old, ignore_errors=True)


def is_temporary(name: str) -> bool:
    """Whether a file or folder name is one an interrupted atomic write leaves behind."""
    return name.startswith(".") and name.endswith((".tmp", ".old"))


def remove_temporaries(folder: Union[str, Path]) -> list[Path]:
    """Delete the temporaries of interrupted atomic writes directly in ``folder`` (not in its
    subfolders); returns what was deleted. Call it only while nothing else writes there: a
    write in progress would lose its temporary."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for entry in sorted(folder.iterdir()):
        if not is_temporary(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _old_path(folder: Path) -> Path:
    return folder.with_name(f".{folder.name}.old")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
