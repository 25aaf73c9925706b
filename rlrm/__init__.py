"""rlrm: a runtime resource manager for dynamic DNNs on heterogeneous CPU-GPU boards.

``import rlrm`` registers the Gymnasium environments ``rlrm/DynamicDNN-v0`` and ``rlrm/DynamicDNNLive-v0`` (when Gymnasium
is installed; the on-device policy path needs only NumPy).
"""

from __future__ import annotations

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


_register()
