"""rlrm: a runtime resource manager for dynamic DNNs on heterogeneous CPU-GPU boards.

``import rlrm`` registers the Gymnasium environments ``rlrm/DynamicDNN-v0`` and ``rlrm/DynamicDNNLive-v0`` (when Gymnasium
is installed; the on-device policy path needs only NumPy): at once when Gymnasium is already imported, otherwise right
after the first ``import gymnasium``, so that the board's NumPy-only commands (``rlrm hw``, ``restore``, ``policy``)
never pay for importing it.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from typing import Any, Optional, Sequence

__version__ = "0.1.0"


def _register() -> None:
    try:
        from gymnasium.envs.registration import register, registry
    except ImportError:  # NumPy-only deployments
        return
    if "rlrm/DynamicDNN-v0" not in registry:
        register(id="rlrm/DynamicDNN-v0", entry_point="rlrm.env.dynamic_dnn:DynamicDNNEnv", nondeterministic=False)
    if "rlrm/DynamicDNNLive-v0" not in registry:
        # the same environment on this machine (real inferences, sensors, background load)
        register(id="rlrm/DynamicDNNLive-v0", entry_point="rlrm.env.dynamic_dnn:DynamicDNNEnv",
                 nondeterministic=True, kwargs={"backend": "live"})


class _RegisterAfterGymnasium(importlib.abc.MetaPathFinder):
    """Calls :func:`_register` right after the first ``import gymnasium`` of the process."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None, target: Any = None) -> Any:
        if fullname != "gymnasium":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        loader: Any = spec.loader if spec is not None else None
        if loader is not None and hasattr(loader, "exec_module"):
            exec_module = loader.exec_module

            def exec_then_register(module: Any) -> None:
                exec_module(module)
                _register()

            loader.exec_module = exec_then_register  # this spec's own loader instance
        return spec


if "gymnasium" in sys.modules:
    _register()
elif not any(isinstance(f, _RegisterAfterGymnasium) for f in sys.meta_path):
    sys.meta_path.insert(0, _RegisterAfterGymnasium())
