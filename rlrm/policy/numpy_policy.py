"""Run an exported PPO policy with NumPy alone.

A checkpoint is a folder with two files:

* ``policy.json``, the sidecar: format version, the environment the policy was trained for
  (:class:`rlrm.policy.spec.EnvSpec`), the observation normalisation, the network's layer
  list and activation, the weights file's name and SHA-256, versions, and the source run;
* ``policy.safetensors`` or ``policy.npz``: float32 arrays ``pi.<i>.weight`` /
  ``pi.<i>.bias`` (hidden layers, torch's ``(out, in)`` layout) and ``action.weight`` /
  ``action.bias`` (the logits layer).

:func:`load` validates everything before it returns (one-line
:class:`rlrm.errors.InputError` naming the file and the field) and never unpickles.
:meth:`NumpyPolicy.predict` reproduces sb3-contrib's ``MaskablePPO.predict``: masked logits
are replaced by ``-1e8`` (``MaskableCategorical.apply_masking``), the logits are normalised
by their log-sum-exp (``torch.distributions.Categorical``), the mode is the first index of
the largest probability (``MaskableCategoricalDistribution.mode``), per sub-action for a
``MultiDiscrete`` space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from rlrm.agents.base import Policy
from rlrm.errors import InputError
from rlrm.policy.spec import EnvSpec, Normalization
from rlrm.policy.weights import WEIGHT_SUFFIXES, decode_weights, read_file_bytes, sha256_bytes
from rlrm.validate import Fields, read_json

PathLike = Union[str, Path]

#: ``format`` of policy.json
FORMAT = "rlrm-policy"
#: the only ``format_version`` this rlrm reads and writes
FORMAT_VERSION = 1
#: the sidecar's file name inside a checkpoint folder
SIDECAR_NAME = "policy.json"
#: activations the NumPy forward pass implements (hidden layers); the logits layer has none
ACTIVATIONS = ("tanh", "relu")
#: the value sb3-contrib gives masked logits (``MaskableCategorical.apply_masking``)
MASKED_LOGIT = np.float32(-1e8)

_HIDDEN_NAME = re.compile(r"^pi\.(\d+)$")


@dataclass(frozen=True)
class LayerSpec:
    """One dense layer of the actor: ``y = act(x @ weight.T + bias)``.

    :param name: ``pi.<i>`` for hidden layers, ``action`` for the logits layer
    :param n_in: input size
    :param n_out: output size
    :param activation: ``tanh``, ``relu`` or ``none`` (the logits layer)
    """

    name: str
    n_in: int
    n_out: int
    activation: str

    def to_json(self) -> dict:
        return {"name": self.name, "in": self.n_in, "out": self.n_out, "activation": self.activation}


def _activate(x: np.ndarray, activation: str) -> np.ndarray:
    if activation == "tanh":
        return np.tanh(x)
    if activation == "relu":
        return np.maximum(x, np.float32(0.0))
    return x


class NumpyPolicy:
    """An exported MaskablePPO actor evaluated with NumPy (no torch, no pickle).

    Build it with :func:`load`. Attributes mirror the sidecar: ``platform``, ``scenario``,
    ``env_id``, ``env_kwargs``, ``observation_names``, ``action_table`` (``(n, 3)`` int64),
    ``options``, ``unit_freqs_khz``, ``n_managed``, ``n_actions``, ``masks_rule``,
    ``normalization`` (or None), ``activation``, ``layers``, ``versions``, ``source``,
    ``sha256`` (of the weights file) and ``path`` (the checkpoint folder).

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
        self.layers = list(layers)
        self.weights = weights
        self.normalization = normalization
        self.activation = activation
        self.versions = dict(versions or {})
        self.source = dict(source or {})
        self.sha256 = sha256
        self.weights_file = weights_file
        self.path = Path(path) if path is not None else None
        self.sidecar_path = Path(sidecar_path) if sidecar_path is not None else None
        # (weight transposed to (in, out), bias, activation) per layer, ready for x @ w + b
        self._dense = [(np.ascontiguousarray(weights[f"{l.name}.weight"].T), weights[f"{l.name}.bias"], l.activation)
                       for l in self.layers]
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
        for w, b, act in self._dense:
            x = _activate(x @ w + b, act)
        return x[0] if single else x

    def probabilities(self, obs: Any, action_masks: Optional[Any] = None, normalized: bool = False) -> np.ndarray:
        """Action probabilities, ``(n, n_managed, n_actions)`` (no batch axis for one obs)."""
        x = self._as_obs(obs)
        single = x.ndim == 1
        logits = np.atleast_2d(self.logits(x, normalized=normalized))
        probs = _masked_probs(logits.reshape(len(logits), self.n_managed, self.n_actions),
                              self._as_masks(action_masks, len(logits)))
        return probs[0] if single else probs

    def predict(self, obs: Any, action_masks: Optional[Any] = None, deterministic: bool = True,
                rng: Optional[np.random.Generator] = None, normalized: bool = False) -> Any:
        """The action for raw observation(s), as ``MaskablePPO.predict`` would give it.

        :param obs: ``(d,)`` or a batch ``(n, d)``, unnormalised (as the env returns it)
        :param action_masks: booleans, ``n_managed * n_actions`` per observation (what
            ``env.action_masks()`` returns), or ``(n, n_managed * n_actions)``; None: all valid
        :param deterministic: the mode (argmax of the masked distribution); False samples
        :param rng: generator for sampling (default: one seeded from the OS)
        :param normalized: ``obs`` is already normalised
        :return: one obs: an ``int`` (``Discrete``) or ``(k,)`` int64 (``MultiDiscrete``);
            a batch: ``(n,)`` or ``(n, k)`` int64
        """
        probs = self.probabilities(obs, action_masks, normalized=normalized)
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
        if single:
            return int(actions[0, 0]) if self.n_managed == 1 else actions[0]
        return actions[:, 0] if self.n_managed == 1 else actions

    # ------------------------------------------------------------------ checks
    def _as_obs(self, obs: Any) -> np.ndarray:
        x = np.asarray(obs)
        if x.ndim not in (1, 2) or x.shape[-1] != self.obs_size:
            raise ValueError(f"observation shape {x.shape}: expected ({self.obs_size},) or (n, {self.obs_size}) "
                             f"({self.platform}, {self.scenario})")
        return x

    def _as_masks(self, masks: Optional[Any], n: int) -> Optional[np.ndarray]:
        if masks is None:
            return None
        m = np.asarray(masks, dtype=bool)
        width = self.n_managed * self.n_actions
        if m.size == width:
            m = np.broadcast_to(m.reshape(1, width), (n, width))
        elif m.size != n * width:
            raise ValueError(f"action mask of shape {m.shape}: expected {width} booleans per observation "
                             f"({self.n_managed} x {self.n_actions})")
        return m.reshape(n, self.n_managed, self.n_actions)

    def check_env(self, env: Any) -> None:
        """Refuse an environment the policy was not trained for (board, observation layout, actions,
        compute options and frequency tables).

        :raise InputError: naming ``policy.json`` and the field that differs
        """
        env = getattr(env, "unwrapped", env)
        src = self.sidecar_path or "policy"
        board = getattr(getattr(env, "platform", None), "name", None)
        if board != self.platform:
            raise InputError(src, "env.platform", f"the policy was trained for {self.platform!r}, "
                                                  f"the environment runs {board!r}")
        names = list(getattr(env, "observation_names", []))
        if names != list(self.observation_names):
            diff = next((i for i, (a, b) in enumerate(zip(names, self.observation_names)) if a != b),
                        min(len(names), self.obs_size))
            raise InputError(src, "env.observation_names",
                             f"the environment's observation differs from the policy's at element {diff} "
                             f"({len(names)} elements vs {self.obs_size})")
        table = np.asarray(getattr(env, "action_table", np.zeros((0, 3))))
        if table.shape != self.action_table.shape or not np.array_equal(table, self.action_table):
            raise InputError(src, "env.action_table", f"the environment has {len(table)} actions, the policy "
                                                      f"{self.n_actions}" + (" (same count, different rows)"
                                                                             if len(table) == self.n_actions else ""))
        options = [(u, int(c)) for u, c in getattr(env, "options", [])]
        if options != list(self.options):
            raise InputError(src, "env.options", f"the environment's compute options {options} differ from the "
                                                 f"policy's {list(self.options)}")
        units = getattr(getattr(env, "platform", None), "units", {})
        for unit in sorted(set(units) | set(self.unit_freqs_khz)):
            have = [int(f) for f in units[unit].freqs_khz] if unit in units else None
            want = self.unit_freqs_khz.get(unit)
            if have != want:
                raise InputError(src, f"env.unit_freqs_khz.{unit}", _table_difference(want, have))
        managed = len(getattr(env, "managed", []))
        if managed != self.n_managed:
            raise InputError(src, "env.n_managed", f"the environment manages {managed} application(s), "
                                                   f"the policy {self.n_managed}")

    def as_env_policy(self, name: Optional[str] = None) -> "CheckpointPolicy":
        """This policy as an :class:`rlrm.agents.base.Policy` (for ``rlrm evaluate`` and the controller)."""
        return CheckpointPolicy(self, name=name)

    def summary(self) -> str:
        """A few lines describing the checkpoint (``rlrm policy info``)."""
        norm = "none" if self.normalization is None else (
            f"VecNormalize (clip {self.normalization.clip_obs:g}, epsilon {self.normalization.epsilon:g}, "
            f"count {self.normalization.count:g})")
        arch = " -> ".join([str(self.obs_size)] + [str(l.n_out) for l in self.layers])
        space = (f"Discrete({self.n_actions})" if self.n_managed == 1
                 else f"MultiDiscrete([{self.n_actions}] * {self.n_managed})")
        versions = ", ".join(f"{k} {v}" for k, v in self.versions.items() if isinstance(v, str))
        lines = [
            f"checkpoint   {self.path}",
            f"environment  {self.env_id} platform={self.platform} scenario={self.scenario} "
            f"kwargs={self.env_kwargs}",
            f"observation  {self.obs_size} elements: {', '.join(self.observation_names[:6])}"
            + (", ..." if self.obs_size > 6 else ""),
            f"normalise    {norm}",
            f"actions      {space}; options {', '.join(f'{u}x{c}' if c else u for u, c in self.options)}",
            f"network      {arch} ({self.activation})",
            f"weights      {self.weights_file} sha256 {self.sha256}",
            f"versions     {versions}",
            f"source       {self.source.get('run', '?')}",
        ]
        return "\n".join(lines)


def _table_difference(policy: Optional[list[int]], board: Optional[list[int]]) -> str:
    """Why a unit's frequency table in the sidecar is not the board's, in a few words."""
    if board is None:
        return "the environment's board has no such unit"
    if policy is None:
        return "the policy has no frequency table for this unit of the environment's board"
    i = next((i for i, (a, b) in enumerate(zip(policy, board)) if a != b), min(len(policy), len(board)))
    return (f"the policy's table ({len(policy)} frequencies) differs from the board's ({len(board)}) at index {i}: "
            f"{policy[i] if i < len(policy) else 'none'} vs {board[i] if i < len(board) else 'none'} kHz")


def _masked_probs(logits: np.ndarray, masks: Optional[np.ndarray]) -> np.ndarray:
    """Probabilities of ``MaskableCategorical`` on the last axis, in float32 as torch computes them."""
    x = logits.astype(np.float32, copy=False)
    if masks is not None:
        x = np.where(masks, x, MASKED_LOGIT)
    # Categorical(logits=x): x - logsumexp(x)
    top = x.max(axis=-1, keepdims=True)
    x = x - (top + np.log(np.exp(x - top).sum(axis=-1, keepdims=True)))
    # probs = softmax(x)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class CheckpointPolicy(Policy):
    """A :class:`NumpyPolicy` behind the :class:`rlrm.agents.base.Policy` interface.

    ``reset(env)`` refuses an environment with another board, observation layout or action
    table (:class:`InputError`); ``act`` reads ``env.action_masks()`` every step. A policy
    trained for one managed application also runs an environment that manages several:
    each application decides on its own view of the observation (the shared elements plus
    its own block, in the single-application layout) with its own mask.

    :param policy: the loaded checkpoint
    :param name: the name in tables (default ``ppo:<checkpoint folder>``)
    """

    def __init__(self, policy: NumpyPolicy, name: Optional[str] = None) -> None:
        self.policy = policy
        self.name = name or f"ppo:{policy.path.name if policy.path else 'checkpoint'}"
        self._checked: Optional[int] = None
        self._views: Optional[list] = None

    def reset(self, env: Any, seed: Optional[int] = None) -> None:
        base = getattr(env, "unwrapped", env)
        self._views = None
        if self.policy.n_managed == 1 and len(getattr(base, "managed", [])) > 1:
            self._views = self._per_app_views(base)
        else:
            self.policy.check_env(env)
        self._checked = id(base)

    def _per_app_views(self, env: Any) -> list:
        """Index arrays mapping the env's observation to the policy's layout, per managed app."""
        names = list(self.policy.observation_names)
        mine = [n[: -len(".active")] for n in names if n.endswith(".active")]
        src = self.policy.sidecar_path or "policy"
        if env.platform.name != self.policy.platform:
            raise InputError(src, "env.platform", f"the policy was trained for {self.policy.platform!r}, "
                                                  f"the environment runs {env.platform.name!r}")
        if len(mine) != 1:
            raise InputError(src, "env.observation_names", "cannot tell the application block of a one-app policy")
        prefix = mine[0] + "."
        position = {n: i for i, n in enumerate(env.observation_names)}
        apps = [n[: -len(".active")] for n in env.observation_names if n.endswith(".active")]
        views = []
        for app in apps:
            wanted = [app + "." + n[len(prefix):] if n.startswith(prefix) else n for n in names]
            missing = [w for w in wanted if w not in position]
            if missing:
                raise InputError(src, "env.observation_names", f"the environment has no element {missing[0]!r}")
            views.append(np.asarray([position[w] for w in wanted]))
        probe = type("_View", (), {})()
        probe.platform, probe.observation_names = env.platform, names
        probe.action_table, probe.options, probe.managed = env.action_table, env.options, [0]
        self.policy.check_env(probe)
        return views

    def act(self, env: Any, obs: np.ndarray, info: dict) -> Any:
        base = getattr(env, "unwrapped", env)
        if self._checked != id(base):
            self.reset(env)
        masks = base.action_masks()
        if self._views is None:
            return self.policy.predict(obs, action_masks=masks, deterministic=True)
        per_app = masks.reshape(len(self._views), -1)
        obs = np.asarray(obs)
        return np.asarray([int(self.policy.predict(obs[view], action_masks=per_app[k], deterministic=True))
                           for k, view in enumerate(self._views)])


# ---------------------------------------------------------------------- loading
def sidecar_path_of(path: PathLike) -> Path:
    """``policy.json`` of a checkpoint given as its folder, its sidecar or its weights file."""
    p = Path(path)
    if p.is_dir():
        side = p / SIDECAR_NAME
        if not side.exists():
            hint = (" (this is a training run: export it with `rlrm export RUN -o checkpoints/NAME`)"
                    if (p / "model.zip").exists() else "")
            raise InputError(side, "<file>", f"no such file{hint}")
        return side
    if p.suffix in WEIGHT_SUFFIXES:
        return p.with_name(SIDECAR_NAME)
    return p


def load(path: PathLike, expected_platform: Optional[str] = None) -> NumpyPolicy:
    """Load and validate a checkpoint with NumPy alone.

    :param path: the checkpoint folder, its ``policy.json`` or its weights file
    :param expected_platform: refuse a policy trained for another board
    :raise InputError: one line naming the file and the field at fault
    """
    side = sidecar_path_of(path)
    top = Fields(read_json(side), side)
    fmt = top.str("format")
    if fmt != FORMAT:
        raise top.error("format", f"{fmt!r} is not an rlrm policy checkpoint (expected {FORMAT!r})")
    version = top.number("format_version", integer=True)
    if version != FORMAT_VERSION:
        raise top.error("format_version", f"version {version} is not supported (this rlrm reads {FORMAT_VERSION})")
    spec = EnvSpec.from_fields(top.table("env"))
    norm_raw = top.raw("normalization")
    normalization = None if norm_raw is None else Normalization.from_fields(top.table("normalization"))
    activation, layers = _parse_network(top.table("network"))
    weights_file, sha = _parse_weights_entry(top.table("weights"))
    versions = top.raw("versions")
    if not isinstance(versions, dict):
        raise top.error("versions", "expected a table")
    source = top.raw("source")
    if not isinstance(source, dict):
        raise top.error("source", "expected a table")
    top.finish()

    _check_chain(side, spec, normalization, layers)
    if expected_platform is not None and spec.platform != expected_platform:
        raise InputError(side, "env.platform", f"the policy was trained for {spec.platform!r}, "
                                               f"not {expected_platform!r}")

    weights_path = side.parent / weights_file
    data = read_file_bytes(weights_path)
    actual = sha256_bytes(data)
    if actual != sha:
        raise InputError(side, "weights.sha256", f"{weights_file} has sha256 {actual}, the sidecar says {sha} "
                                                 "(modified or corrupted weights)")
    arrays = decode_weights(data, weights_path)
    _check_arrays(weights_path, arrays, layers)
    policy = NumpyPolicy(spec, layers, arrays, normalization, activation, versions, source, sha,
                         path=side.parent, sidecar_path=side, weights_file=weights_file)
    return policy


def _parse_network(t: Fields) -> tuple[str, list[LayerSpec]]:
    activation = t.str("activation", choices=ACTIVATIONS)
    rows = t.tables("layers")
    if not rows:
        raise t.error("layers", "must list at least the action layer")
    layers = []
    for i, row in enumerate(rows):
        name = row.str("name")
        n_in = row.number("in", integer=True, minimum=1)
        n_out = row.number("out", integer=True, minimum=1)
        act = row.str("activation", choices=(*ACTIVATIONS, "none"))
        row.finish()
        last = i == len(rows) - 1
        if last and name != "action":
            raise row.error("name", f"the last layer must be 'action' (the logits), got {name!r}")
        if not last:
            m = _HIDDEN_NAME.match(name)
            if not m or int(m.group(1)) != i:
                raise row.error("name", f"expected 'pi.{i}', got {name!r}")
        expected_act = "none" if last else activation
        if act != expected_act:
            raise row.error("activation", f"expected {expected_act!r} (network.activation is {activation!r}), "
                                          f"got {act!r}")
        layers.append(LayerSpec(name, n_in, n_out, act))
    t.finish()
    return activation, layers


def _parse_weights_entry(t: Fields) -> tuple[str, str]:
    name = t.str("file")
    if Path(name).name != name or Path(name).suffix not in WEIGHT_SUFFIXES or name.startswith("."):
        raise t.error("file", f"{name!r}: expected a file name in the checkpoint folder ending in "
                              f"{' or '.join(WEIGHT_SUFFIXES)}")
    sha = t.str("sha256")
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise t.error("sha256", "expected 64 lowercase hex digits")
    t.str("dtype", choices=("float32",))
    t.finish()
    return name, sha


def _check_chain(side: Path, spec: EnvSpec, norm: Optional[Normalization], layers: list[LayerSpec]) -> None:
    """Shapes must chain: observation names = normalisation = first layer's input, ..., logits = actions."""
    if norm is not None and norm.mean.shape[0] != spec.obs_size:
        raise InputError(side, "normalization.mean", f"has {norm.mean.shape[0]} elements, "
                                                     f"env.observation_names has {spec.obs_size}")
    if layers[0].n_in != spec.obs_size:
        raise InputError(side, "network.layers[0].in", f"{layers[0].n_in} inputs, but the observation has "
                                                       f"{spec.obs_size} elements")
    for i in range(1, len(layers)):
        if layers[i].n_in != layers[i - 1].n_out:
            raise InputError(side, f"network.layers[{i}].in", f"{layers[i].n_in} inputs, but layer {i - 1} "
                                                              f"has {layers[i - 1].n_out} outputs")
    want = spec.n_actions * spec.n_managed
    if layers[-1].n_out != want:
        raise InputError(side, f"network.layers[{len(layers) - 1}].out",
                         f"{layers[-1].n_out} logits, but {spec.n_actions} actions x {spec.n_managed} "
                         f"managed app(s) = {want}")


def _check_arrays(path: Path, arrays: dict[str, np.ndarray], layers: list[LayerSpec]) -> None:
    expected = {}
    for layer in layers:
        expected[f"{layer.name}.weight"] = (layer.n_out, layer.n_in)
        expected[f"{layer.name}.bias"] = (layer.n_out,)
    for name in sorted(arrays):
        if name not in expected:
            raise InputError(path, name, "unknown array (not in policy.json's layer list)")
    for name, shape in expected.items():
        if name not in arrays:
            raise InputError(path, name, "missing array")
        if arrays[name].shape != shape:
            raise InputError(path, name, f"shape {arrays[name].shape}, policy.json's layer list says {shape}")
