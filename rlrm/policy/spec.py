"""What a policy was trained for: the environment description and the observation normalisation.

Two small records, shared by a training run directory and an exported checkpoint:

* :class:`EnvSpec` is ``runs/<run>/env.json`` and the ``env`` table of a checkpoint's
  ``policy.json``: the environment id, board, scenario, constructor arguments, the name of
  every observation element, the action table and the tables it indexes.
* :class:`Normalization` is ``runs/<run>/obs_norm.npz`` (VecNormalize's observation
  statistics) and the ``normalization`` table of ``policy.json``.

NumPy only: the device reads these without gymnasium, torch or stable-baselines3.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from rlrm.errors import InputError
from rlrm.policy.weights import atomic_write_bytes, read_file_bytes
from rlrm.validate import Fields, read_json, short_repr

PathLike = Union[str, Path]

#: the environment id the checkpoints are for
DEFAULT_ENV_ID = "rlrm/DynamicDNN-v0"

#: how ``DynamicDNNEnv.action_masks()`` decides, in words (copied into env.json and policy.json)
MASKS_RULE = ("action a = action_table[a] = (subnet, option, freq_index) is valid when "
              "options[option].cores <= the cores the power mode leaves online on options[option].unit "
              "and freq_index <= the index of the power mode's frequency cap of that unit; "
              "with k managed apps the mask is the per-app mask repeated k times (one block of "
              "len(action_table) per app)")

#: largest subnet index an action table may hold (its int64 array must hold it)
MAX_INDEX = 2**31 - 1

#: the keys of env.json, in the order they are written
ENV_KEYS = ("env_id", "platform", "scenario", "env_kwargs", "observation_names", "action_table",
            "options", "unit_freqs_khz", "n_managed", "masks_rule")


@dataclass
class EnvSpec:
    """The environment a policy acts in.

    :param env_id: Gymnasium id, ``rlrm/DynamicDNN-v0``
    :param platform: board profile name (``env.platform.name``)
    :param scenario: scenario name, or ``mix`` for a training mix
    :param env_kwargs: the other constructor arguments (JSON values)
    :param observation_names: the name of every observation element, in order
    :param action_table: ``(n_actions, 3)`` int64, ``(subnet, option, freq_index)`` per action
    :param options: ``(unit, cores)`` per compute option (cores 0 for a GPU)
    :param unit_freqs_khz: each unit's frequency table, kHz, ascending
    :param n_managed: managed applications (1: ``Discrete``; k: ``MultiDiscrete([n] * k)``)
    :param masks_rule: how the action masks are computed, in words
    """

    env_id: str
    platform: str
    scenario: str
    env_kwargs: dict
    observation_names: list[str]
    action_table: np.ndarray
    options: list[tuple[str, int]]
    unit_freqs_khz: dict[str, list[int]]
    n_managed: int
    masks_rule: str = MASKS_RULE

    @property
    def n_actions(self) -> int:
        """Actions per managed application (rows of the action table)."""
        return int(self.action_table.shape[0])

    @property
    def obs_size(self) -> int:
        """Length of the observation vector."""
        return len(self.observation_names)

    def to_json(self) -> dict:
        """The JSON form (what ``env.json`` holds)."""
        return {
            "env_id": self.env_id, "platform": self.platform, "scenario": self.scenario,
            "env_kwargs": self.env_kwargs, "observation_names": list(self.observation_names),
            "action_table": self.action_table.astype(int).tolist(),
            "options": [[u, int(c)] for u, c in self.options],
            "unit_freqs_khz": {u: [int(f) for f in fs] for u, fs in self.unit_freqs_khz.items()},
            "n_managed": int(self.n_managed), "masks_rule": self.masks_rule,
        }

    @classmethod
    def from_fields(cls, t: Fields) -> "EnvSpec":
        """Parse and cross-check a table (env.json, or policy.json's ``env``); unknown keys refused."""
        env_id = t.str("env_id")
        platform = t.str("platform")
        scenario = t.str("scenario")
        env_kwargs = t.raw("env_kwargs")
        if not isinstance(env_kwargs, dict):
            raise t.error("env_kwargs", "expected a table of constructor arguments")
        units = env_kwargs.get("units")  # the one argument evaluation reuses (it shapes the action table)
        if units is not None and not (isinstance(units, list) and units
                                      and all(isinstance(u, str) and u for u in units)):
            raise InputError(t.source, f"{t.name('env_kwargs')}.units",
                             f"expected a non-empty list of unit names, cpu or gpu, got {short_repr(units)}")
        history = env_kwargs.get("history")  # shapes the observation, so evaluation reuses it too
        if history is not None and (isinstance(history, bool) or not isinstance(history, int) or not 0 <= history <= 8):
            raise InputError(t.source, f"{t.name('env_kwargs')}.history",
                             f"expected an integer in 0..8, got {short_repr(history)}")
        names = t.raw("observation_names")
        if not (isinstance(names, list) and names and all(isinstance(n, str) and n for n in names)):
            raise t.error("observation_names", "expected a non-empty list of names")
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise t.error("observation_names", f"{dup!r} appears more than once")
        freqs_t = t.table("unit_freqs_khz")
        unit_freqs = {u: freqs_t.numbers(u, integer=True, exclusive_minimum=0, increasing=True)
                      for u in list(freqs_t.data)}
        if not unit_freqs:
            raise t.error("unit_freqs_khz", "must name at least one unit")
        options = _parse_options(t, unit_freqs)
        table = _parse_action_table(t, options, unit_freqs)
        n_managed = t.number("n_managed", integer=True, minimum=1)
        masks_rule = t.str("masks_rule")
        t.finish()
        return cls(env_id, platform, scenario, env_kwargs, list(names), table, options, unit_freqs,
                   n_managed, masks_rule)


def _parse_options(t: Fields, unit_freqs: Mapping[str, list]) -> list[tuple[str, int]]:
    raw = t.raw("options")
    if not isinstance(raw, list) or not raw:
        raise t.error("options", "expected a non-empty list of [unit, cores]")
    out = []
    for i, row in enumerate(raw):
        field_name = f"{t.name('options')}[{i}]"
        if not (isinstance(row, list) and len(row) == 2 and isinstance(row[0], str)
                and isinstance(row[1], int) and not isinstance(row[1], bool) and row[1] >= 0):
            raise InputError(t.source, field_name, f"expected [unit, cores >= 0], got {short_repr(row)}")
        if row[0] not in unit_freqs:
            raise InputError(t.source, field_name, f"unit {row[0]!r} is not in unit_freqs_khz "
                                                   f"({', '.join(unit_freqs)})")
        out.append((row[0], int(row[1])))
    return out


def _parse_action_table(t: Fields, options: Sequence[tuple[str, int]],
                        unit_freqs: Mapping[str, list]) -> np.ndarray:
    raw = t.raw("action_table")
    if not isinstance(raw, list) or not raw:
        raise t.error("action_table", "expected a non-empty list of [subnet, option, freq_index]")
    for i, row in enumerate(raw):
        field_name = f"{t.name('action_table')}[{i}]"
        if not (isinstance(row, list) and len(row) == 3
                and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in row)):
            raise InputError(t.source, field_name,
                             f"expected [subnet, option, freq_index] >= 0, got {short_repr(row)}")
        if row[0] > MAX_INDEX:
            raise InputError(t.source, field_name, f"subnet {short_repr(row[0])} is out of range")
        if row[1] >= len(options):
            raise InputError(t.source, field_name, f"option {row[1]} outside options (0..{len(options) - 1})")
        n_f = len(unit_freqs[options[row[1]][0]])
        if row[2] >= n_f:
            raise InputError(t.source, field_name, f"freq_index {row[2]} outside unit "
                                                   f"{options[row[1]][0]!r}'s {n_f} frequencies")
    return np.asarray(raw, dtype=np.int64)


def env_spec_of(env: Any, env_kwargs: Optional[Mapping[str, Any]] = None, env_id: str = DEFAULT_ENV_ID,
                scenario: Optional[str] = None) -> EnvSpec:
    """The :class:`EnvSpec` of a live :class:`rlrm.env.DynamicDNNEnv` (what a trainer writes).

    :param env: the environment (wrappers are unwrapped)
    :param env_kwargs: the constructor arguments other than platform and scenario
    :param env_id: the Gymnasium id it was made with
    :param scenario: overrides ``env.scenario.name`` (``mix`` for a training mix)
    """
    env = getattr(env, "unwrapped", env)
    units = env.platform.units
    return EnvSpec(
        env_id=env_id, platform=env.platform.name, scenario=scenario or env.scenario.name,
        env_kwargs=json.loads(json.dumps(dict(env_kwargs or {}))),
        observation_names=list(env.observation_names),
        action_table=np.asarray(env.action_table, dtype=np.int64).copy(),
        options=[(str(u), int(c)) for u, c in env.options],
        unit_freqs_khz={u: [int(f) for f in units[u].freqs_khz] for u in units},
        n_managed=len(env.managed), masks_rule=MASKS_RULE,
    )


def read_env_json(path: PathLike) -> EnvSpec:
    """Read and validate a run's ``env.json``."""
    return EnvSpec.from_fields(Fields(read_json(path), path))


def write_env_json(path: PathLike, spec: EnvSpec) -> None:
    """Write ``env.json`` atomically."""
    atomic_write_bytes(path, dumps_json(spec.to_json()).encode())


# ---------------------------------------------------------------------- normalisation
@dataclass
class Normalization:
    """Observation normalisation with VecNormalize's semantics:
    ``clip((obs - mean) / sqrt(var + epsilon), -clip_obs, clip_obs)``, computed in float64
    and cast to float32, exactly as ``VecNormalize.normalize_obs`` does.

    :param mean: running mean per element, float64
    :param var: running variance per element, float64
    :param clip_obs: clip bound after scaling
    :param epsilon: added to the variance
    :param count: how many observations the statistics saw (informative)
    """

    mean: np.ndarray
    var: np.ndarray
    clip_obs: float = 10.0
    epsilon: float = 1e-8
    count: float = 0.0
    scale: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float64)
        self.var = np.asarray(self.var, dtype=np.float64)
        self.scale = np.sqrt(self.var + self.epsilon)

    def apply(self, obs: np.ndarray) -> np.ndarray:
        """Normalise observations (any leading batch shape); float32 out."""
        x = np.asarray(obs, dtype=np.float64)
        return np.clip((x - self.mean) / self.scale, -self.clip_obs, self.clip_obs).astype(np.float32)

    def to_json(self) -> dict:
        """JSON form: floats written with ``repr`` round-trip to the same float64 values."""
        return {"mean": [float(v) for v in self.mean], "var": [float(v) for v in self.var],
                "clip_obs": float(self.clip_obs), "epsilon": float(self.epsilon), "count": float(self.count)}

    @classmethod
    def from_fields(cls, t: Fields) -> "Normalization":
        """Parse a ``normalization`` table; unknown keys refused."""
        mean = t.numbers("mean")
        var = t.numbers("var", minimum=0)
        if len(mean) != len(var):
            raise t.error("var", f"has {len(var)} elements, mean has {len(mean)}")
        clip_obs = t.number("clip_obs", exclusive_minimum=0)
        epsilon = t.number("epsilon", exclusive_minimum=0)
        count = t.number("count", 0.0, minimum=0)
        t.finish()
        return cls(np.asarray(mean, float), np.asarray(var, float), float(clip_obs), float(epsilon), float(count))

    @classmethod
    def from_vec_normalize(cls, vec_normalize: Any) -> "Normalization":
        """The statistics of a stable-baselines3 ``VecNormalize`` (Box observations)."""
        rms = vec_normalize.obs_rms
        return cls(np.array(rms.mean, dtype=np.float64), np.array(rms.var, dtype=np.float64),
                   float(vec_normalize.clip_obs), float(vec_normalize.epsilon), float(rms.count))


_NORM_KEYS = ("mean", "var", "count", "clip_obs", "epsilon")


def read_obs_norm(path: PathLike) -> Normalization:
    """Read and validate a run's ``obs_norm.npz`` (never unpickles)."""
    data = read_file_bytes(path, "an .npz file")
    try:
        archive = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as err:  # noqa: BLE001 - any parse failure is bad input
        raise InputError(path, "<npz>", f"not a valid .npz archive: {err}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise InputError(path, "<npz>", "not an .npz archive")
    arrays = {}
    with archive:
        for name in archive.files:
            if name not in _NORM_KEYS:
                raise InputError(path, name, f"unknown key (expected {', '.join(_NORM_KEYS)})")
            try:
                arrays[name] = archive[name]
            except ValueError as err:
                raise InputError(path, name, f"refused: {err}") from None
    for name in _NORM_KEYS:
        if name not in arrays:
            raise InputError(path, name, "missing required array")
    for name, arr in arrays.items():
        if arr.dtype.kind not in "fiu":
            raise InputError(path, name, f"expected numbers, got dtype {arr.dtype}")
        if not np.all(np.isfinite(arr)):
            raise InputError(path, name, "holds NaN or infinite values")
    mean, var = arrays["mean"].astype(np.float64), arrays["var"].astype(np.float64)
    if mean.ndim != 1 or mean.size == 0:
        raise InputError(path, "mean", f"expected a 1-D array, got shape {mean.shape}")
    if var.shape != mean.shape:
        raise InputError(path, "var", f"shape {var.shape} differs from mean's {mean.shape}")
    if np.any(var < 0):
        raise InputError(path, "var", "has negative values")
    scalars = {}
    for name in ("count", "clip_obs", "epsilon"):
        if arrays[name].shape not in ((), (1,)):
            raise InputError(path, name, f"expected a scalar, got shape {arrays[name].shape}")
        scalars[name] = float(arrays[name].reshape(()))
    for name in ("clip_obs", "epsilon"):
        if scalars[name] <= 0:
            raise InputError(path, name, f"must be > 0, got {scalars[name]}")
    if scalars["count"] < 0:
        raise InputError(path, "count", f"must be >= 0, got {scalars['count']}")
    return Normalization(mean, var, scalars["clip_obs"], scalars["epsilon"], scalars["count"])


def write_obs_norm(path: PathLike, norm: Normalization) -> None:
    """Write ``obs_norm.npz`` atomically (plain float64 arrays, no pickle)."""
    buf = io.BytesIO()
    np.savez(buf, mean=np.asarray(norm.mean, np.float64), var=np.asarray(norm.var, np.float64),
             count=np.float64(norm.count), clip_obs=np.float64(norm.clip_obs), epsilon=np.float64(norm.epsilon))
    atomic_write_bytes(path, buf.getvalue())


def dumps_json(obj: Any) -> str:
    """JSON text a reader can scan: one key per line, lists of numbers or strings on one line.

    Floats are written with ``repr`` (exact float64 round trip); NaN and infinity are refused.
    """
    return _dumps(obj, 0) + "\n"


def _is_flat(x: Any) -> bool:
    return isinstance(x, list) and all(not isinstance(v, (list, dict)) for v in x)


def _dumps(obj: Any, level: int) -> str:
    pad, inner = " " * level, " " * (level + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{inner}{json.dumps(str(k))}: {_dumps(v, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and obj and not _is_flat(obj):
        if all(_is_flat(v) for v in obj):  # a table: one row per line
            rows = [inner + json.dumps(v, allow_nan=False, separators=(", ", ": ")) for v in obj]
        else:
            rows = [inner + _dumps(v, level + 1) for v in obj]
        return "[\n" + ",\n".join(rows) + "\n" + pad + "]"
    return json.dumps(obj, allow_nan=False, separators=(", ", ": "))
