"""Agent configurations (``agents/ppo.yaml``) in the rl-baselines3-zoo manner.

A config maps environment ids (and ``default``) to hyperparameters. Every entry of the file
is validated, not only the one used, and every problem is a one-line
:class:`rlrm.errors.InputError` naming the file and the dotted field
(``rlrm/DynamicDNN-v0.randomization.latency_scale``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Union

import yaml

from rlrm.env.dynamic_dnn import parse_randomization, select_units
from rlrm.env.reward import RewardWeights
from rlrm.errors import InputError
from rlrm.paths import AGENTS_DIR, PLATFORMS_DIR, SCENARIOS_DIR, resolve_named
from rlrm.platform import Platform, load_platform
from rlrm.validate import is_finite_number, short_repr

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
#: (lowest, highest, lowest excluded) of the float hyperparameters that have bounds; the others are >= 0
FLOAT_RANGES = {
    "learning_rate": (0.0, None, True), "gamma": (0.0, 1.0, False), "gae_lambda": (0.0, 1.0, False),
    "clip_range": (0.0, None, True), "max_grad_norm": (0.0, None, True), "target_kl": (0.0, None, True),
}
#: smallest ``batch_size`` stable-baselines3 accepts (it asserts ``batch_size > 1``)
MIN_BATCH_SIZE = 2
#: most parallel environments (one process each with ``vec_env: subproc``)
MAX_N_ENVS = 1024
#: most transitions in one rollout (``n_steps * n_envs``): the rollout buffer is allocated up front
MAX_ROLLOUT = 2**20
#: widest hidden layer and most hidden layers in ``policy_kwargs.net_arch``
MAX_LAYER_SIZE = 4096
MAX_LAYERS = 16
#: stable-baselines3's PPO default, used when a config does not set ``n_steps``
SB3_N_STEPS = 2048
#: what a config that does not set them gets
DEFAULTS = {"policy": "MlpPolicy", "n_envs": 4, "vec_env": "dummy", "n_timesteps": 300_000, "normalize": True,
            "eval_freq": 5000, "n_eval_episodes": 3, "checkpoint_freq": 10000}
#: what ``rlrm train --resume`` reads from a run's ``config.yaml`` besides the hyperparameters
RUN_KEYS = {"platform": str, "scenario": str, "train_scenarios": list, "eval_scenarios": list, "seed": int}


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            seen: set = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # "<<: *defaults" may be overridden
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    duplicate = key in seen  # 1 and 1.0 count as the same key, as in the dict they make
                    seen.add(key)
                except TypeError:  # an unhashable key: construct_mapping reports it
                    continue
                if duplicate:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {short_repr(key)}",
                                                            key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file (safe loader, duplicate keys refused); any problem is an :class:`InputError`."""
    try:
        text = path.read_bytes().decode("utf-8")
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except FileNotFoundError:
        raise InputError(path, "<file>", "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "<file>", "is a directory, expected a YAML file") from None
    except OSError as err:
        raise InputError(path, "<file>", f"cannot read: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise InputError(path, "<yaml>", "not valid UTF-8 text") from None
    except yaml.YAMLError as err:
        raise InputError(path, "<yaml>", f"not valid YAML: {err}") from None
    except RecursionError:
        raise InputError(path, "<yaml>", "nested too deeply") from None
    except ValueError as err:  # e.g. an integer of more than 4300 digits
        raise InputError(path, "<yaml>", f"not valid YAML: {err}") from None


def load_config(path_or_name: Union[str, Path], env_id: str,
                platform: Optional[Union[str, Path, Platform]] = None) -> dict:
    """The hyperparameters for ``env_id``: its entry merged over ``default``, validated.

    :param path_or_name: a name in ``agents/`` or a YAML path
    :param env_id: the environment id whose entry is used
    :param platform: the board the config will train on: its ``units`` are checked against it
    :raise InputError: one line naming the file and the dotted field
    """
    path = resolve_named(path_or_name, AGENTS_DIR, ".yaml")
    data = read_yaml(path)
    if not isinstance(data, dict) or not data:
        raise InputError(path, "<top>", "expected a mapping of environment ids to hyperparameters")
    if "default" not in data and env_id not in data:
        raise InputError(path, env_id, "no entry for this environment and no default")
    checked: dict = {}
    for section, entry in data.items():
        if entry is None:
            continue
        if not isinstance(entry, dict):
            raise InputError(path, str(section), "expected a mapping of hyperparameters")
        checked[section] = {key: _check(path, f"{section}.{key}", key, value) for key, value in entry.items()}
    cfg: dict = {}
    fields: dict[str, str] = {}  # key -> the dotted field it came from
    for section in ("default", env_id):
        for key, value in checked.get(section, {}).items():
            cfg[key], fields[key] = value, f"{section}.{key}"
    _check_together(path, cfg, fields)
    if platform is not None and cfg.get("units") is not None:
        board = platform if isinstance(platform, Platform) else load_platform(platform)
        select_units(board, cfg["units"], str(path), fields["units"])
    return {**DEFAULTS, **cfg, "source": str(path)}


def load_run_config(path: Union[str, Path]) -> dict:
    """A training run's ``config.yaml`` (what ``rlrm train --resume`` continues), validated.

    :param path: the file; the run folder's ``config.yaml``
    :return: the file's content; ``hyperparameters`` checked as in :func:`load_config`
    :raise InputError: one line naming the file and the dotted field
    """
    path = Path(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise InputError(path, "<top>", "expected the mapping rlrm train writes")
    for key, kind in {**RUN_KEYS, "hyperparameters": dict}.items():
        if key not in data:
            raise InputError(path, key, "missing required field")
        if not isinstance(data[key], kind) or isinstance(data[key], bool):
            raise InputError(path, key, f"expected a {kind.__name__}, got {short_repr(data[key])}")
    for key in ("train_scenarios", "eval_scenarios"):
        if not data[key]:
            raise InputError(path, key, "must not be empty")
        _check_scenarios(path, key, data[key])
    saved = dict(data["hyperparameters"])
    source = saved.pop("source", str(path))
    fields = {key: f"hyperparameters.{key}" for key in saved}
    cfg = {key: _check(path, fields[key], key, value) for key, value in saved.items()}
    _check_together(path, cfg, fields)
    if not _is_file(resolve_named(data["platform"], PLATFORMS_DIR, ".toml")):
        raise InputError(path, "platform", f"no board profile {short_repr(data['platform'])} (a name in "
                                           f"{PLATFORMS_DIR} or a TOML path)")
    if cfg.get("units") is not None:
        select_units(load_platform(data["platform"]), cfg["units"], str(path), fields["units"])
    return {**data, "hyperparameters": {**DEFAULTS, **cfg, "source": str(source)}}


def _check_together(path: Path, cfg: Mapping[str, Any], fields: Mapping[str, str]) -> None:
    """Limits on combinations: the rollout ``n_steps * n_envs`` must hold 2 to :data:`MAX_ROLLOUT` steps."""
    n_steps, n_envs = cfg.get("n_steps", SB3_N_STEPS), cfg.get("n_envs", DEFAULTS["n_envs"])
    if not 2 <= n_steps * n_envs <= MAX_ROLLOUT:
        field = fields.get("n_steps") or fields.get("n_envs") or "n_steps"
        raise InputError(path, field, f"n_steps x n_envs = {short_repr(n_steps)} x {short_repr(n_envs)} must be "
                                      f"between 2 and {MAX_ROLLOUT}")


def _check(path: Path, field: str, key: Any, value: Any) -> Any:
    """One hyperparameter, validated (``field`` is its dotted name in the file)."""
    kind = (PPO_KEYS.get(key) or EXTRA_KEYS.get(key)) if isinstance(key, str) else None
    if kind is None:
        known = ", ".join(sorted({**PPO_KEYS, **EXTRA_KEYS}))
        raise InputError(path, field, f"unknown hyperparameter (known: {known})")
    if kind is float:
        if not is_finite_number(value):
            raise InputError(path, field, f"expected a number, got {short_repr(value)}"
                                          + (" (YAML reads 1e-4 as a string: write 1.0e-4)"
                                             if isinstance(value, str) and "e" in value.lower() else ""))
        low, high, exclusive = FLOAT_RANGES.get(key, (0.0, None, False))
        if value < low or (exclusive and value == low):
            raise InputError(path, field, f"must be {'>' if exclusive else '>='} {low:g}, got {value}")
        if high is not None and value > high:
            raise InputError(path, field, f"must be <= {high:g}, got {value}")
        return float(value)
    if kind is int:
        lowest = MIN_BATCH_SIZE if key == "batch_size" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
            raise InputError(path, field, f"expected an integer >= {lowest}, got {short_repr(value)}")
        if key == "n_envs" and value > MAX_N_ENVS:
            raise InputError(path, field, f"at most {MAX_N_ENVS} environments, got {short_repr(value)}")
        return value
    if not isinstance(value, kind):
        raise InputError(path, field, f"expected a {kind.__name__}, got {short_repr(value)}")
    if key == "vec_env" and value not in ("dummy", "subproc"):
        raise InputError(path, field, "expected dummy or subproc")
    if key == "policy" and value != "MlpPolicy":
        raise InputError(path, field, "only MlpPolicy is supported (the observation is a flat Box)")
    if key == "policy_kwargs":
        _check_policy_kwargs(path, field, value)
    if key in ("train_scenarios", "eval_scenarios"):
        _check_scenarios(path, field, value)
    if key == "units" and not (value and all(isinstance(u, str) and u for u in value)):
        raise InputError(path, field, f"expected a non-empty list of unit names, cpu or gpu, got {short_repr(value)}")
    if key == "randomization":
        parse_randomization(value, str(path), field)
    if key == "reward_weights":
        RewardWeights.from_mapping(value, str(path), field)
    return value


def _check_policy_kwargs(path: Path, field: str, value: dict) -> None:
    for k in value:
        if k not in ("net_arch", "activation_fn"):
            raise InputError(path, f"{field}.{k}", "unknown policy argument (known: net_arch, activation_fn)")
    act = value.get("activation_fn", "tanh")
    if not isinstance(act, str) or act not in ACTIVATIONS:
        raise InputError(path, f"{field}.activation_fn",
                         f"expected one of {', '.join(ACTIVATIONS)}, got {short_repr(act)}")
    arch = value.get("net_arch", {"pi": [64, 64], "vf": [64, 64]})
    if not isinstance(arch, dict) or set(arch) != {"pi", "vf"} or not all(
            isinstance(v, list) and len(v) <= MAX_LAYERS
            and all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_LAYER_SIZE for n in v)
            for v in arch.values()):
        raise InputError(path, f"{field}.net_arch", f"expected {{pi: [sizes], vf: [sizes]}}: at most {MAX_LAYERS} "
                                                    f"layers of 1 to {MAX_LAYER_SIZE} units")


def _check_scenarios(path: Path, field: str, value: list) -> None:
    for i, name in enumerate(value):
        if not isinstance(name, str) or not name:
            raise InputError(path, f"{field}[{i}]", f"expected a scenario name or path, got {short_repr(name)}")
        if not _is_file(resolve_named(name, SCENARIOS_DIR, ".toml")):
            raise InputError(path, f"{field}[{i}]", f"no scenario {short_repr(name)} (a name in "
                                                    f"{SCENARIOS_DIR} or a TOML path)")


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name with a NUL byte, too long, ...
        return False
