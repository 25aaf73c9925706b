"""Trained policies as weights-only checkpoints that run with NumPy alone.

``rlrm.policy.load(path)`` needs NumPy only (no torch, stable-baselines3 or gymnasium, no
pickle); exporting a training run (:mod:`rlrm.policy.export`) needs torch and sb3-contrib
and is imported on demand. The modules: :mod:`~rlrm.policy.network` (the forward pass),
:mod:`~rlrm.policy.checkpoint` (reading ``policy.json`` and the weights),
:mod:`~rlrm.policy.numpy_policy` (:class:`NumpyPolicy`, ``predict``),
:mod:`~rlrm.policy.adapter` (binding a policy to an environment), :mod:`~rlrm.policy.spec`
(the environment description and the normalisation), :mod:`~rlrm.policy.weights` (the files).
"""

from __future__ import annotations

from rlrm.policy.adapter import CheckpointPolicy
from rlrm.policy.checkpoint import FORMAT, FORMAT_VERSION, SIDECAR_NAME, load
from rlrm.policy.network import LayerSpec
from rlrm.policy.numpy_policy import NumpyPolicy
from rlrm.policy.spec import EnvSpec, Normalization

__all__ = ["FORMAT", "FORMAT_VERSION", "SIDECAR_NAME", "CheckpointPolicy", "EnvSpec", "LayerSpec", "Normalization",
           "NumpyPolicy", "load"]
