"""Which install extra provides a third-party module, for one-line "install rlrm[...]" errors.

The default install is the board runtime (NumPy, psutil, Gymnasium, TOML); the workstation
stack comes with extras (``pip install 'rlrm[train]'`` ...). A command that imports a module of
a missing extra ends with :func:`missing_extra_message` instead of a traceback.
"""

from __future__ import annotations

import sys
from typing import Dict, Optional

#: The board runtime: the modules ``rlrm hw``, ``rlrm restore``, ``rlrm policy`` and ``rlrm platforms``
#: import, and loading a shipped policy to decide (:func:`rlrm.policy.load`). They run on Python 3.8+
#: (JetPack 5 on a Xavier NX) with NumPy, psutil and tomli (below 3.11) only: no runtime use of a
#: 3.9+ feature (``list[int]`` or ``X | Y`` outside annotations, ``match``, ``str.removeprefix``...).
#: ``tests/board`` runs them under Python 3.8 and 3.10 (``.ci/run``), ``tests/test_py38_syntax.py``
#: parses them for 3.9+ constructs. A package name covers its submodules, except ``NOT_BOARD_RUNTIME``.
BOARD_RUNTIME = ("rlrm", "rlrm.__main__", "rlrm.cli", "rlrm.cli_args", "rlrm.units", "rlrm.table", "rlrm.errors",
                 "rlrm.extras", "rlrm.atomic", "rlrm.paths", "rlrm.validate.*", "rlrm.platform.*", "rlrm.hw.*",
                 "rlrm.policy.*")
#: workstation-side modules inside those packages (exporting a training run needs torch and sb3)
NOT_BOARD_RUNTIME = ("rlrm.policy.export", "rlrm.policy.export_cli", "rlrm.policy.testing", "rlrm.policy.sb3_zip")


def is_board_runtime(module: str) -> bool:
    """Whether ``module`` (a dotted name) is part of :data:`BOARD_RUNTIME`."""
    if module in NOT_BOARD_RUNTIME:
        return False
    return any(module == name or (name.endswith(".*") and (module == name[:-2] or module.startswith(name[:-1])))
               for name in BOARD_RUNTIME)


#: top-level module -> (extra that installs it, what it is for)
EXTRA_OF: Dict[str, str] = {
    "stable_baselines3": "train",
    "sb3_contrib": "train",
    "tensorboard": "train",
    "matplotlib": "train",
    "yaml": "train",
    "tqdm": "train",
    "rich": "train",
    "sklearn": "demo",
    "PIL": "demo",
    "onnxruntime": "onnx",
    "onnx": "onnx",
    "onnxscript": "onnx",
    "ray": "sweep",
    "pytest": "test",
    "hypothesis": "test",
}

#: distribution names where they differ from the module's
PIP_NAME: Dict[str, str] = {"yaml": "pyyaml", "sklearn": "scikit-learn", "PIL": "pillow",
                            "stable_baselines3": "stable-baselines3", "sb3_contrib": "sb3-contrib"}

#: extras whose packages install on Python 3.10+ only (pyproject's markers): the workstation stack
NEEDS_PY310 = {"train", "demo", "sweep"}

#: modules no extra installs on a board: the vendor's build is used when it imports
VENDOR_MODULES = {"torch", "torchvision"}

#: modules of the default install that only some commands import (``rlrm hw``, ``restore`` and
#: ``policy`` do without them): missing means a partial install
DEFAULT_MODULES: Dict[str, str] = {"gymnasium": "gymnasium", "safetensors": "safetensors", "tomli_w": "tomli-w",
                                   "psutil": "psutil"}


def missing_extra_message(module: Optional[str], command: Optional[str] = None) -> Optional[str]:
    """One line saying which extra (or vendor package) provides ``module``; ``None`` when the
    module is not one of rlrm's optional dependencies (a real bug: let the traceback show)."""
    if not module:
        return None
    root = module.split(".")[0]
    what = f"rlrm {command}" if command else "this command"
    if root in VENDOR_MODULES:
        return (f"{what} needs {root}, which is not installed: on a workstation `pip install 'rlrm[train]'` "
                f"(install torch first, see README); on a Jetson install NVIDIA's torch build for your JetPack, "
                f"or run the model with ONNX Runtime (`--model onnx:DIR`, `pip install 'rlrm[onnx]'`)")
    if root in DEFAULT_MODULES:
        return f"{what} needs {DEFAULT_MODULES[root]}, which is not installed: pip install rlrm (the default install has it)"
    extra = EXTRA_OF.get(root)
    if extra is None:
        return None
    line = f"{what} needs {PIP_NAME.get(root, root)}, which is not installed: pip install 'rlrm[{extra}]'"
    if extra in NEEDS_PY310 and sys.version_info < (3, 10):
        line += f" on Python 3.10+ (this is Python {sys.version_info[0]}.{sys.version_info[1]}: the board runtime only)"
    return line
