"""Agent configurations (``agents/ppo.yaml``) in the rl-baselines3-zoo manner."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Union

import yaml

from rlrm.errors import InputError
from rlrm.paths import AGENTS_DIR, resolve_named

#: PPO / MaskablePPO constructor arguments a config may set
PPO_KEYS = {
    "n_steps": int, "batch_size": int, "n_epochs": int, "learning_rate": float, "gamma": float,
    "gae_lambda": float, "ent_coef": float, "clip_range": float, "vf_coef": float, "max_grad_norm": float,
    "target_kl": float, "normalize_advantage": bool,
}
#: rlrm's own keys
EXTRA_KEYS = {
    "policy": str, "n_envs": int, "vec_env": str, "n_timesteps": int, "normalize": bool, "policy_kwargs": dict,
    "train_scenarios": list, "eval_scenarios": list, "randomization": dict, "eval_freq": int,
    "n_eval_episodes": int, "checkpoint_freq": int, "episode_steps": int, "reward_weights": dict, "units": list,
}
ACTIVATIONS = ("tanh", "relu")


def load_config(path_or_name: Union[str, Path], env_id: str) -> dict:
    """The hyperparameters for ``env_id``: its entry merged over ``default``, validated."""
    path = resolve_named(path_or_name, AGENTS_DIR, ".yaml")
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise InputError(path, "<file>", "no such agent config") from None
    except yaml.YAMLError as err:
        raise InputError(path, "<yaml>", f"not valid YAML: {' '.join(str(err).split())}") from None
    if not isinstance(data, dict) or not data:
        raise InputError(path, "<top>", "expected a mapping of environment ids to hyperparameters")
    if "default" not in data and env_id not in data:
        raise InputError(path, env_id, "no entry for this environment and no default")
    cfg: dict = {}
    for section in ("default", env_id):
        entry = data.get(section) or {}
        if not isinstance(entry, dict):
            raise InputError(path, section, "expected a mapping of hyperparameters")
        for key, value in entry.items():
            cfg[key] = _check(path, f"{section}.{key}", key, value)
    cfg.setdefault("policy", "MlpPolicy")
    cfg.setdefault("n_envs", 4)
    cfg.setdefault("vec_env", "dummy")
    cfg.setdefault("n_timesteps", 300_000)
    cfg.setdefault("normalize", True)
    cfg.setdefault("eval_freq", 5000)
    cfg.setdefault("n_eval_episodes", 3)
    cfg.setdefault("checkpoint_freq", 10000)
    cfg["source"] = str(path)
    return cfg


def _check(path: Path, field: str, key: str, value: Any) -> Any:
    kind = PPO_KEYS.get(key) or EXTRA_KEYS.get(key)
    if kind is None:
        raise InputError(path, field, f"unknown hyperparameter (known: {', '.join(sorted({**PPO_KEYS, **EXTRA_KEYS}))})")
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InputError(path, field, f"expected a number, got {value!r}")
        if value < 0:
            raise InputError(path, field, f"must be >= 0, got {value}")
        return float(value)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(path, field, f"expected an integer >= 1, got {value!r}")
        return value
    if not isinstance(value, kind):
        raise InputError(path, field, f"expected a {kind.__name__}, got {value!r}")
    if key == "vec_env" and value not in ("dummy", "subproc"):
        raise InputError(path, field, "expected dummy or subproc")
    if key == "policy" and value != "MlpPolicy":
        raise InputError(path, field, "only MlpPolicy is supported (the observation is a flat Box)")
    if key == "policy_kwargs":
        for k, v in value.items():
            if k not in ("net_arch", "activation_fn"):
                raise InputError(path, f"{field}.{k}", "unknown policy argument (known: net_arch, activation_fn)")
        act = value.get("activation_fn", "tanh")
        if act not in ACTIVATIONS:
            raise InputError(path, f"{field}.activation_fn", f"expected one of {', '.join(ACTIVATIONS)}, got {act!r}")
        arch = value.get("net_arch", {"pi": [64, 64], "vf": [64, 64]})
        if not isinstance(arch, dict) or set(arch) != {"pi", "vf"} or not all(
                isinstance(v, list) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in v)
                for v in arch.values()):
            raise InputError(path, f"{field}.net_arch", "expected {pi: [sizes], vf: [sizes]} of positive integers")
    if key in ("train_scenarios", "eval_scenarios") and not all(isinstance(s, str) for s in value):
        raise InputError(path, field, "expected a list of scenario names or paths")
    return value
