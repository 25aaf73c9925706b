"""Where rlrm finds its data (``envs/``, ``agents/``, ``checkpoints/``)."""

from __future__ import annotations

import os
from pathlib import Path

#: Root of the project's data folders. ``RLRM_HOME`` overrides it.
PROJECT_ROOT = Path(os.environ.get("RLRM_HOME", Path(__file__).resolve().parents[1]))
ENVS_DIR = PROJECT_ROOT / "envs"
PLATFORMS_DIR = ENVS_DIR / "platforms"
TRACES_DIR = ENVS_DIR / "traces"
SCENARIOS_DIR = ENVS_DIR / "scenarios"
AGENTS_DIR = PROJECT_ROOT / "agents"
CHECKPOINTS_DIR = PROJECT_ROOT / "checkpoints"


def resolve_named(name_or_path: str | os.PathLike[str], folder: Path, suffix: str) -> Path:
    """Resolve a name (``steady``) or a path (``my/board.toml``) to a file path.

    A value that names an existing file, or that contains a path separator or ends with
    ``suffix``, is taken as a path; anything else as ``folder/<name><suffix>``.
    """
    text = os.fspath(name_or_path)
    candidate = Path(text)
    try:
        is_file = candidate.is_file()
    except OSError:  # e.g. a name too long for the file system: reading it will say so
        is_file = False
    if is_file or os.sep in text or text.endswith(suffix):
        return candidate
    return folder / f"{text}{suffix}"
