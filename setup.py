"""Build hook: ship the top-level data folders inside the package.

``envs/``, ``agents/`` and ``checkpoints/`` stay at the top of the source tree (where a
checkout run finds them, see :mod:`rlrm.paths`); a built wheel carries them as
``rlrm/_data/{envs,agents,checkpoints}``, found through :mod:`importlib.resources`.
Everything else is declared in ``pyproject.toml``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

#: top-level folders shipped as package data
DATA_FOLDERS = ("envs", "agents", "checkpoints")
#: never shipped
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".*", "*.tmp")


class BuildPyWithData(build_py):
    """``build_py`` that also copies the data folders into ``rlrm/_data`` of the build."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout's folders directly
        here = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "rlrm" / "_data"
        for name in DATA_FOLDERS:
            src = here / name
            if not src.is_dir():
                raise SystemExit(f"setup.py: {src}: data folder missing (a wheel without it would not work)")
            dst = target / name
            if dst.exists():
                shutil.rmtree(dst)
            shutil.copytree(src, dst, ignore=IGNORE)


setup(cmdclass={"build_py": BuildPyWithData})
