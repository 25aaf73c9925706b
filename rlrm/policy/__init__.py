"""Trained policies as weights-only checkpoints that run with NumPy alone.

``rlrm.policy.load(path)`` needs NumPy only (no torch, stable-baselines3 or gymnasium, no
pickle); exporting a training run (:mod:`rlrm.policy.export`) needs torch and sb3-contrib
and is imported on demand.
"""

from __future__ import annotations

from rlrm.policy.numpy_policy import (FORMAT, FORMAT_VERSION, SIDECAR_NAME, CheckpointPolicy, LayerSpec, NumpyPolicy,
                                      load)
from rlrm.policy.spec import EnvSpec, Normalization

__all__ = ["FORMAT", "FORMAT_VERSION", "SIDECAR_NAME", "CheckpointPolicy", "EnvSpec", "LayerSpec", "Normalization",
           "NumpyPolicy", "load"]
