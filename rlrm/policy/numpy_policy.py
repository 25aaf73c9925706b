"""Run an exported PPO policy with NumPy alone.

:class:`NumpyPolicy` is what :func:`rlrm.policy.load` returns (the file format and its checks
are in :mod:`rlrm.policy.checkpoint`): the environment description it was trained for, the
observation normalisation and the actor network (:mod:`rlrm.policy.network`).
:meth:`NumpyPolicy.predict` has stable-baselines3's signature and reproduces sb3-contrib's
``MaskablePPO.predict(deterministic=True)``: the mode is the first index of the largest
masked probability (``MaskableCategoricalDistribution.mode``), per sub-action for a
``MultiDiscrete`` space. Binding a policy to an environment (checks, per-application views)
is :mod:`rlrm.policy.adapter`.
"""

from __future__ import annotations

import os

from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from rlrm.policy.adapter import CheckpointPolicy, check_env
from rlrm.policy.network import LayerSpec, Network, masked_probs
from rlrm.policy.spec import EnvSpec, Normalization
from rlrm.table import MAX_WIDTH, key_value_table

PathLike = Union[str, Path]


class NumpyPolicy:
    """An exported MaskablePPO actor evaluated with NumPy (no torch, no pickle).

    Build it with :func:`rlrm.policy.load`. Attributes mirror the sidecar: ``platform``,
    ``scenario``, ``env_id``, ``env_kwargs``, ``observation_names``, ``action_table``
    (``(n, 3)`` int64), ``options``, ``unit_freqs_khz``, ``n_managed``, ``n_actions``,
    ``masks_rule``, ``normalization`` (or None), ``activation``, ``layers``, ``network``
    (:class:`rlrm.policy.network.Network`), ``versions``, ``source``, ``sha256`` (of the
    weights file) and ``path`` (the checkpoint folder).

    :param spec: the environment the policy was trained for
    :param layers: the layer list, input to logits
    :param weights: ``{"<layer>.weight": (out, in), "<layer>.bias": (out,)}`` float32
    :param normalization: observation normalisation, or None when training did not normalise
    :param activation: the hidden layers' activation
    :param versions: software versions at export (and training) time
    :param source: where the checkpoint came from (run folder, model hash, time)
    :param sha256: SHA-256 of the weights file
    :param path: the checkpoint folder
    :param sidecar_path: its ``policy.json``
    :param weights_file: the weights file's name inside the folder
    """

    def __init__(self, spec: EnvSpec, layers: list[LayerSpec], weights: dict[str, np.ndarray],
                 normalization: Optional[Normalization], activation: str, versions: Optional[dict] = None,
                 source: Optional[dict] = None, sha256: str = "", path: Optional[PathLike] = None,
                 sidecar_path: Optional[PathLike] = None, weights_file: str = "") -> None:
        self.spec = spec
        self.platform: str = spec.platform
        self.scenario: str = spec.scenario
        self.env_id: str = spec.env_id
        self.env_kwargs: dict = spec.env_kwargs
        self.observation_names: list[str] = spec.observation_names
        self.action_table: np.ndarray = spec.action_table
        self.options: list[tuple[str, int]] = spec.options
        self.unit_freqs_khz: dict[str, list[int]] = spec.unit_freqs_khz
        self.n_managed: int = spec.n_managed
        self.n_actions: int = spec.n_actions
        self.masks_rule: str = spec.masks_rule
        self.network = Network(layers, weights)
        self.layers = self.network.layers
        self.weights = weights
        self.normalization = normalization
        self.activation = activation
        self.versions = dict(versions or {})
        self.source = dict(source or {})
        self.sha256 = sha256
        self.weights_file = weights_file
        self.path = Path(path) if path is not None else None
        self.sidecar_path = Path(sidecar_path) if sidecar_path is not None else None
        self._rng = np.random.default_rng()

    @property
    def obs_size(self) -> int:
        """Length of an observation."""
        return self.spec.obs_size

    # ------------------------------------------------------------------ computation
    def normalize(self, obs: Any) -> np.ndarray:
        """Normalise raw observations (``(d,)`` or ``(n, d)``) as VecNormalize did in training."""
        x = self._as_obs(obs)
        if self.normalization is None:
            return x.astype(np.float32)
        return self.normalization.apply(x)

    def logits(self, obs: Any, normalized: bool = False) -> np.ndarray:
        """Unmasked logits, ``(n, n_managed * n_actions)`` float32 (``(n_managed * n_actions,)`` for one obs).

        :param obs: raw observations, or normalised ones with ``normalized=True``
        :param normalized: skip the normalisation
        """
        x = self._as_obs(obs)
        single = x.ndim == 1
        x = np.atleast_2d(x.astype(np.float32) if normalized else self.normalize(x))
        x = self.network.forward(x)
        return x[0] if single else x

    def probabilities(self, obs: Any, action_masks: Optional[Any] = None, normalized: bool = False) -> np.ndarray:
        """Action probabilities, ``(n, n_managed, n_actions)`` (no batch axis for one obs)."""
        x = self._as_obs(obs)
        single = x.ndim == 1
        logits = np.atleast_2d(self.logits(x, normalized=normalized))
        probs = masked_probs(logits.reshape(len(logits), self.n_managed, self.n_actions),
                             self._as_masks(action_masks, len(logits)))
        return probs[0] if single else probs

    def predict(self, observation: Any, state: Optional[Any] = None, episode_start: Optional[Any] = None,
                deterministic: bool = True, action_masks: Optional[Any] = None, *,
                rng: Optional[np.random.Generator] = None, normalized: bool = False) -> tuple[np.ndarray, Any]:
        """The action for raw observation(s), as ``MaskablePPO.predict`` returns it.

        :param observation: ``(d,)`` or a batch ``(n, d)``, unnormalised (as the env returns it)
        :param state: recurrent state: this policy has none, it is handed back unchanged (as SB3 does)
        :param episode_start: ignored (no recurrent state), as SB3's feed-forward policies do
        :param deterministic: the mode (argmax of the masked distribution); False samples
        :param action_masks: booleans, ``n_managed * n_actions`` per observation (what
            ``env.action_masks()`` returns), or ``(n, n_managed * n_actions)``; None: all valid
        :param rng: generator for sampling (default: one seeded from the OS)
        :param normalized: ``observation`` is already normalised
        :return: ``(action, state)``: one obs gives a 0-d int64 array (``Discrete``) or ``(k,)``
            (``MultiDiscrete``), a batch ``(n,)`` or ``(n, k)``, as stable-baselines3
        :raise ValueError: one line naming the field: an observation of the wrong size or with
            a non-finite element, an action mask of the wrong length, a mask passed as ``state``
        """
        if isinstance(state, np.ndarray) and state.dtype == bool:
            raise ValueError("state: got a boolean array; pass the action mask as action_masks=... "
                             "(predict's second argument is the recurrent state, as in stable-baselines3)")
        probs = self.probabilities(observation, action_masks, normalized=normalized)
        single = probs.ndim == 2
        probs = probs.reshape(-1, self.n_actions)
        if deterministic:
            actions = probs.argmax(axis=1)
        else:
            gen = rng if rng is not None else self._rng
            cum = np.cumsum(probs.astype(np.float64), axis=1)
            u = gen.random(len(probs))[:, None] * cum[:, -1:]
            actions = (cum > u).argmax(axis=1)
        actions = actions.astype(np.int64).reshape(-1, self.n_managed)
        if self.n_managed == 1:
            actions = actions[:, 0]
        return (actions.squeeze(axis=0) if single else actions), state

    # ------------------------------------------------------------------ checks
    def _as_obs(self, obs: Any) -> np.ndarray:
        x = np.asarray(obs)
        if x.ndim not in (1, 2) or x.shape[-1] != self.obs_size:
            raise ValueError(f"observation: shape {x.shape}, expected ({self.obs_size},) or (n, {self.obs_size}): "
                             f"the policy ({self.platform}, {self.scenario}) reads {self.obs_size} elements")
        if x.dtype.kind not in "biuf":
            raise ValueError(f"observation: dtype {x.dtype}, expected numbers")
        finite = np.isfinite(x)
        if not finite.all():
            bad = np.argwhere(~finite)[0]
            raise ValueError(f"observation: element {int(bad[-1])} ({self.observation_names[int(bad[-1])]}) is "
                             f"{x[tuple(bad)]}: a policy decides on finite observations only")
        return x

    def _as_masks(self, masks: Optional[Any], n: int) -> Optional[np.ndarray]:
        if masks is None:
            return None
        m = np.asarray(masks, dtype=bool)
        width = self.n_managed * self.n_actions
        if m.shape in ((width,), (1, width)):
            m = np.broadcast_to(m.reshape(1, width), (n, width))
        elif m.shape != (n, width):
            raise ValueError(f"action_masks: shape {m.shape}, expected ({width},) or ({n}, {width}): "
                             f"{self.n_managed} managed x {self.n_actions} actions of the policy per observation")
        return m.reshape(n, self.n_managed, self.n_actions)

    def check_env(self, env: Any) -> None:
        """Refuse an environment the policy was not trained for (board, observation layout, actions,
        compute options and frequency tables): :func:`rlrm.policy.adapter.check_env`.

        :raise InputError: naming ``policy.json`` and the field that differs
        """
        check_env(self, env)

    def as_env_policy(self, name: Optional[str] = None) -> CheckpointPolicy:
        """This policy as an :class:`rlrm.policy.base.Policy` (for ``rlrm evaluate`` and the controller)."""
        return CheckpointPolicy(self, name=name)

    def summary(self, wide: bool = False) -> str:
        """A few lines describing the checkpoint (``rlrm policy info``), at most 100 characters
        wide unless ``wide``. The source run is named by its folder: an absolute path of the
        machine that exported it means nothing here."""
        norm = "none" if self.normalization is None else (
            f"VecNormalize (clip {self.normalization.clip_obs:g}, epsilon {self.normalization.epsilon:g}, "
            f"count {self.normalization.count:g})")
        arch = " -> ".join([str(self.obs_size)] + [str(l.n_out) for l in self.layers])
        space = (f"Discrete({self.n_actions})" if self.n_managed == 1
                 else f"MultiDiscrete([{self.n_actions}] * {self.n_managed})")
        versions = ", ".join(f"{k} {v}" for k, v in self.versions.items() if isinstance(v, str))
        kwargs = {k: v for k, v in dict(self.env_kwargs or {}).items() if v is not None}
        env_text = f"{self.env_id} platform={self.platform} scenario={self.scenario}"
        run = str(self.source.get("run", "?"))
        pairs = [
            ("checkpoint", str(self.path)),
            ("environment", env_text),
            ("env kwargs", kwargs if wide else (", ".join(sorted(kwargs)) or "none")),
            ("observation", f"{self.obs_size} elements: {', '.join(self.observation_names[:6])}"
             + (", ..." if self.obs_size > 6 else "")),
            ("normalise", norm),
            ("actions", f"{space}; options {', '.join(f'{u}x{c}' if c else u for u, c in self.options)}"),
            ("network", f"{arch} ({self.activation})"),
            ("weights", self.weights_file),
            ("sha256", self.sha256),
            ("versions", versions),
            ("source run", run if wide or not run.startswith("/") else os.path.basename(run.rstrip("/"))),
        ]
        return key_value_table(pairs, max_width=None if wide else MAX_WIDTH)
