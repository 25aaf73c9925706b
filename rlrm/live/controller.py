"""The controller's per-step decision, kept cheap: cached masks and a buffer-reusing forward pass."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np

if TYPE_CHECKING:  # the board side loads policies without gymnasium
    from rlrm.env.dynamic_dnn import DynamicDNNEnv


class FastDecider:
    """Deterministic decisions of a :class:`rlrm.policy.numpy_policy.NumpyPolicy` for one
    observation at a time, without allocating: normalisation (VecNormalize's formula, float64
    then float32), the dense layers into preallocated buffers, and the argmax of the masked
    logits (softmax is monotonic, so this is the mode ``predict(deterministic=True)`` picks,
    up to exact float ties).

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
                         np.empty(w.shape[1], dtype=np.float32)) for w, b, act in policy._dense]
        self._masked = np.empty(policy.n_actions, dtype=np.float32)

    def decide(self, obs: np.ndarray, mask: Optional[np.ndarray] = None) -> int:
        """The action index for one raw observation and its mask (None: all valid)."""
        x64 = self._x64
        if self._mean is not None:
            np.subtract(obs, self._mean, out=x64)
            np.divide(x64, self._scale, out=x64)
            np.clip(x64, -self._clip, self._clip, out=x64)
            self._x32[:] = x64
        else:
            self._x32[:] = obs
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
        m.fill(-np.inf)
        np.copyto(m, x, where=mask)
        return int(m.argmax())


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
