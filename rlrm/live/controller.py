"""The controller's per-step decision, kept cheap: cached masks and a buffer-reusing forward pass."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

if TYPE_CHECKING:  # the board side loads policies without gymnasium
    from rlrm.env.dynamic_dnn import DynamicDNNEnv


class FastDecider:
    """Deterministic decisions of a :class:`rlrm.policy.numpy_policy.NumpyPolicy` for one
    observation at a time, without allocating: normalisation (VecNormalize's formula, float64
    then float32), the dense layers (``policy.network.dense``) into preallocated buffers, and
    the argmax of the masked logits (softmax is monotonic, so this is the mode
    ``predict(deterministic=True)`` picks, up to exact float ties). An observation with a
    non-finite element is refused (``ValueError``), as ``predict`` refuses it.

    :param policy: the loaded NumPy policy (one managed application)
    """

    def __init__(self, policy: Any) -> None:
        self.policy = policy
        if policy.n_managed != 1:
            raise ValueError("FastDecider handles policies for one managed application")
        norm = policy.normalization
        self._mean = None if norm is None else np.asarray(norm.mean, dtype=np.float64)
        self._scale = None if norm is None else np.asarray(norm.scale, dtype=np.float64)
        self._clip = 0.0 if norm is None else float(norm.clip_obs)
        self._x64 = np.empty(policy.obs_size, dtype=np.float64)
        self._x32 = np.empty(policy.obs_size, dtype=np.float32)
        self._layers = [(np.ascontiguousarray(w), np.asarray(b, dtype=np.float32), act,
                         np.empty(w.shape[1], dtype=np.float32)) for w, b, act in policy.network.dense]
        self._masked = np.empty(policy.n_actions, dtype=np.float32)

    def decide(self, obs: np.ndarray, mask: Optional[np.ndarray] = None) -> int:
        """The action index for one raw observation and its mask (None: all valid).

        :raise ValueError: one line naming the field: an observation of the wrong size or with a
            non-finite element, a mask of the wrong length
        """
        x64 = self._x64
        if obs.shape != x64.shape:
            raise ValueError(f"observation: shape {obs.shape}, the policy reads ({x64.size},)")
        if self._mean is not None:
            np.subtract(obs, self._mean, out=x64)
        else:
            x64[:] = obs
        if not math.isfinite(np.dot(x64, x64)):  # NaN and inf propagate (values are far below overflow)
            self._refuse_non_finite(obs)
        if self._mean is not None:
            np.divide(x64, self._scale, out=x64)
            # np.clip's value for finite input, without its Python-level overhead (several us)
            np.maximum(x64, -self._clip, out=x64)
            np.minimum(x64, self._clip, out=x64)
        self._x32[:] = x64
        x = self._x32
        for w, b, act, out in self._layers:
            np.dot(x, w, out=out)
            out += b
            if act == "tanh":
                np.tanh(out, out=out)
            elif act == "relu":
                np.maximum(out, 0.0, out=out)
            x = out
        if mask is None:
            return int(x.argmax())
        m = self._masked
        if mask.shape != m.shape:
            raise ValueError(f"action_masks: shape {np.shape(mask)}, the policy has {m.size} actions")
        m.fill(-np.inf)
        np.copyto(m, x, where=mask)
        return int(m.argmax())

    def _refuse_non_finite(self, obs: np.ndarray) -> None:
        bad = np.flatnonzero(~np.isfinite(np.asarray(obs, dtype=np.float64)))
        i = int(bad[0]) if bad.size else 0
        raise ValueError(f"observation: element {i} ({self.policy.observation_names[i]}) is {obs[i]}: "
                         "a policy decides on finite observations only")


class MaskCache:
    """``env.action_masks()`` per power mode: the mask only changes with the mode (cores online,
    frequency caps) unless domain randomisation drops frequencies, in which case it is not cached.

    :param env: the unwrapped :class:`rlrm.env.DynamicDNNEnv`
    """

    def __init__(self, env: DynamicDNNEnv) -> None:
        self.env = env
        self._cache: dict[str, np.ndarray] = {}

    def get(self) -> np.ndarray:
        env = self.env
        if env.unavailable.any():
            return env.action_masks()
        key = env.sim.power_mode.name
        m = self._cache.get(key)
        if m is None:
            m = self._cache[key] = env.action_masks()
        return m
