"""Where rlrm finds its data (``envs/``, ``agents/``, ``checkpoints/``).

Two roots are searched, in this order:

1. the package's own data: ``rlrm/_data/`` inside an installed wheel (found through
   :mod:`importlib.resources`), or the checkout's top-level folders when rlrm runs from a
   source tree (``PYTHONPATH=.`` or an editable install);
2. the user's data folder, :func:`user_home`: ``$RLRM_HOME`` if set, else a per-user data
   directory (``$XDG_DATA_HOME/rlrm``, ``~/.local/share/rlrm``; ``~/Library/Application
   Support/rlrm`` on macOS; ``%LOCALAPPDATA%\\rlrm`` on Windows). It has the same layout
   (``envs/platforms``, ``envs/traces``, ``envs/scenarios``, ``agents``, ``checkpoints``);
   ``rlrm profile`` writes boards there.

A *name* (``steady``, ``jetson-xavier-nx-ppo``) is looked up in both roots; a *path* is taken
as given.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional, Union

PathLike = Union[str, "os.PathLike[str]"]

#: environment variable naming the user's data folder
HOME_ENV = "RLRM_HOME"
#: the package's data folder inside a wheel (``rlrm/_data``)
PACKAGE_DATA_NAME = "_data"


def _package_root() -> Path:
    """The folder holding the shipped ``envs/``, ``agents/`` and ``checkpoints/``."""
    try:  # Python 3.9+: the installed package's data, wherever the package is
        from importlib.resources import files

        data = files("rlrm") / PACKAGE_DATA_NAME
        if isinstance(data, Path) and data.is_dir():
            return data
    except (ImportError, TypeError, ModuleNotFoundError):
        pass
    here = Path(__file__).resolve().parent
    if (here / PACKAGE_DATA_NAME).is_dir():
        return here / PACKAGE_DATA_NAME
    return here.parent  # a source checkout: envs/, agents/, checkpoints/ beside rlrm/


#: Root of the package's own data (``rlrm/_data`` in a wheel, the checkout's root in a source tree).
PACKAGE_ROOT = _package_root()
#: kept for older callers: the package's data root
PROJECT_ROOT = PACKAGE_ROOT
ENVS_DIR = PACKAGE_ROOT / "envs"
PLATFORMS_DIR = ENVS_DIR / "platforms"
TRACES_DIR = ENVS_DIR / "traces"
SCENARIOS_DIR = ENVS_DIR / "scenarios"
AGENTS_DIR = PACKAGE_ROOT / "agents"
CHECKPOINTS_DIR = PACKAGE_ROOT / "checkpoints"


def default_user_home() -> Path:
    """The per-user data directory used when ``$RLRM_HOME`` is not set."""
    home = Path.home()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(home / "AppData" / "Local")
        return Path(base) / "rlrm"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "rlrm"
    base = os.environ.get("XDG_DATA_HOME") or str(home / ".local" / "share")
    return Path(base) / "rlrm"


def user_home() -> Path:
    """The user's data folder: ``$RLRM_HOME``, else :func:`default_user_home` (read at each call)."""
    value = os.environ.get(HOME_ENV)
    return Path(value).expanduser() if value else default_user_home()


def user_dir(folder: PathLike) -> Path:
    """The user's counterpart of a package data folder (``ENVS_DIR`` -> ``$RLRM_HOME/envs``)."""
    rel = _relative(Path(folder))
    return user_home() / (rel if rel is not None else Path(folder))


def search_dirs(folder: PathLike) -> List[Path]:
    """``folder`` (a package data folder) followed by the user's counterpart, without duplicates."""
    first = Path(folder)
    rel = _relative(first)
    if rel is None:
        return [first]
    second = user_home() / rel
    return [first] if _same(first, second) else [first, second]


def find_data(folder: PathLike, rel: PathLike) -> Path:
    """``folder/rel`` in the first root that has it; the package's path when none does
    (so the error that follows names where a shipped file would be)."""
    dirs = search_dirs(folder)
    for d in dirs:
        candidate = d / rel
        if candidate.exists():
            return candidate
    return dirs[0] / rel


def list_names(folder: PathLike, suffix: str) -> List[str]:
    """Names (file stems, or folder names when ``suffix`` is ``"/"``) in ``folder`` and the
    user's counterpart, sorted, without duplicates."""
    names = set()
    for d in search_dirs(folder):
        if not d.is_dir():
            continue
        for entry in d.iterdir():
            if suffix == "/":
                if entry.is_dir():
                    names.add(entry.name)
            elif entry.name.endswith(suffix) and entry.is_file():
                names.add(entry.name[: -len(suffix)])
    return sorted(names)


def resolve_named(name_or_path: PathLike, folder: Path, suffix: str) -> Path:
    """Resolve a name (``steady``) or a path (``my/board.toml``) to a file path.

    A value that names an existing file, or that contains a path separator or ends with
    ``suffix``, is taken as a path; anything else as ``<root>/<folder>/<name><suffix>`` in
    the first root (package, then :func:`user_home`) that has it.
    """
    text = os.fspath(name_or_path)
    candidate = Path(text)
    try:
        is_file = candidate.is_file()
    except OSError:  # e.g. a name too long for the file system: reading it will say so
        is_file = False
    if is_file or os.sep in text or "/" in text or text.endswith(suffix):
        return candidate
    return find_data(folder, f"{text}{suffix}")


def resolve_checkpoint(name_or_path: PathLike, marker: str) -> Optional[Path]:
    """A checkpoint folder by path, or by name in ``checkpoints/`` (package, then user) when it
    holds ``marker`` (``policy.json``, ``model.json``); ``None`` when neither exists."""
    text = os.fspath(name_or_path)
    if os.path.exists(text):
        return Path(text)
    if os.sep in text or "/" in text or not text:
        return None
    for d in search_dirs(CHECKPOINTS_DIR):
        if (d / text / marker).is_file():
            return d / text
    return None


def _relative(folder: Path) -> Optional[Path]:
    try:
        return folder.relative_to(PACKAGE_ROOT)
    except ValueError:
        return None


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
