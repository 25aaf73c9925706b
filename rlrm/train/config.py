"""Agent configurations (``agents/ppo.yaml``): a layout like rl-baselines3-zoo's, not loadable by it.

A config maps environment ids (and ``default``) to hyperparameters. Every entry of the file
is validated, not only the one used, and every problem is a one-line
:class:`rlrm.errors.InputError` naming the file and the dotted field
(``rlrm/DynamicDNN-v0.randomization.latency_scale``).

An entry may hold ``boards``: per board profile name, hyperparameters merged over the entry when
training on that board (a board whose hardware cannot meet some scenarios' absolute targets
trains on another set). Only :func:`load_config` with a ``platform`` applies them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Union

from rlrm.env.dynamic_dnn import parse_randomization, select_units
from rlrm.env.reward import RewardWeights
from rlrm.errors import InputError
from rlrm.paths import AGENTS_DIR, PLATFORMS_DIR, SCENARIOS_DIR, resolve_named
from rlrm.platform import Platform, load_platform
from rlrm.validate import (OMIT, Any_, Bool, Float, List, MapOf, Spec, Str, StrictInt, Table, read_yaml,
                           short_repr)

ACTIVATIONS = ("tanh", "relu")
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


def _scenario_exists(value: str, source: str, field: str) -> str:
    if not _is_file(resolve_named(value, SCENARIOS_DIR, ".toml")):
        raise InputError(source, field, f"no scenario {short_repr(value)} (a name in {SCENARIOS_DIR} or a TOML path)")
    return value


def _randomization(value: Any, source: str, field: str) -> dict:
    parse_randomization(value, source, field)
    return value


def _reward_weights(value: Any, source: str, field: str) -> dict:
    RewardWeights.from_mapping(value, source, field)
    return value


def _units(value: Any, source: str, field: str) -> list:
    """A non-empty list of unit names (checked against the board later), refused as a whole: the
    error names ``units``, never one member of an alias bomb."""
    if not (isinstance(value, list) and value and all(isinstance(u, str) and u for u in value)):
        raise InputError(source, field, f"expected a non-empty list of unit names, cpu or gpu, got {short_repr(value)}")
    return value


def _net_arch(value: Any, source: str, field: str) -> dict:
    if not isinstance(value, dict) or set(value) != {"pi", "vf"} or not all(
            isinstance(v, list) and len(v) <= MAX_LAYERS
            and all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_LAYER_SIZE for n in v)
            for v in value.values()):
        raise InputError(source, field, f"expected {{pi: [sizes], vf: [sizes]}}: at most {MAX_LAYERS} "
                                        f"layers of 1 to {MAX_LAYER_SIZE} units")
    return value


def _scenarios(default: Any = OMIT) -> List:
    return List(Str(nonempty=True, then=_scenario_exists), default, nonempty=False)


#: ``policy_kwargs``: the policy network
POLICY_KWARGS = Spec({"net_arch": Any_(OMIT, then=_net_arch, type=dict), "activation_fn": Str(OMIT, choices=ACTIVATIONS)},
                     what="policy argument")
#: PPO / MaskablePPO constructor arguments a config may set
PPO_SPEC = Spec({
    "n_steps": StrictInt(OMIT, minimum=1), "batch_size": StrictInt(OMIT, minimum=MIN_BATCH_SIZE),
    "n_epochs": StrictInt(OMIT, minimum=1), "learning_rate": Float(OMIT, exclusive_minimum=0.0),
    "gamma": Float(OMIT, minimum=0.0, maximum=1.0), "gae_lambda": Float(OMIT, minimum=0.0, maximum=1.0),
    "ent_coef": Float(OMIT, minimum=0.0), "clip_range": Float(OMIT, exclusive_minimum=0.0),
    "vf_coef": Float(OMIT, minimum=0.0), "max_grad_norm": Float(OMIT, exclusive_minimum=0.0),
    "target_kl": Float(OMIT, exclusive_minimum=0.0), "normalize_advantage": Bool(OMIT),
})
#: rlrm's own keys
EXTRA_SPEC = Spec({
    "policy": Str(OMIT, choices=("MlpPolicy",)), "n_envs": StrictInt(OMIT, minimum=1, maximum=MAX_N_ENVS),
    "vec_env": Str(OMIT, choices=("dummy", "subproc")), "n_timesteps": StrictInt(OMIT, minimum=1),
    "normalize": Bool(OMIT), "policy_kwargs": Table(POLICY_KWARGS, OMIT),
    "train_scenarios": _scenarios(), "eval_scenarios": _scenarios(), "test_scenarios": _scenarios(),
    "randomization": MapOf(Any_(), OMIT, then=_randomization), "eval_freq": StrictInt(OMIT, minimum=1),
    "n_eval_episodes": StrictInt(OMIT, minimum=1), "checkpoint_freq": StrictInt(OMIT, minimum=1),
    "episode_steps": StrictInt(OMIT, minimum=1), "reward_weights": MapOf(Any_(), OMIT, then=_reward_weights),
    "units": Any_(OMIT, then=_units, type=list), "history": StrictInt(OMIT, minimum=0, maximum=8),
})
#: the hyperparameters of one entry of a config
HYPERPARAMETERS = Spec({**PPO_SPEC.fields, **EXTRA_SPEC.fields}, what="hyperparameter")
#: one entry of a config file: the hyperparameters, plus per-board overrides of them
ENTRY_SPEC = HYPERPARAMETERS.extend({"boards": MapOf(Table(HYPERPARAMETERS), OMIT)})
#: the Python type of each key
PPO_KEYS = {k: f.type for k, f in PPO_SPEC.fields.items()}
EXTRA_KEYS = {k: f.type for k, f in EXTRA_SPEC.fields.items()}
#: a training run's ``config.yaml`` as ``rlrm train`` writes it (what ``--resume`` continues)
RUN_SPEC = Spec({
    "platform": Str(), "scenario": Str(),
    "train_scenarios": List(Str(nonempty=True, then=_scenario_exists)),
    "eval_scenarios": List(Str(nonempty=True, then=_scenario_exists)),
    "seed": StrictInt(), "hyperparameters": Table(HYPERPARAMETERS.extend({"source": Str(OMIT)})),
}, open=True)
#: what ``rlrm train --resume`` reads from a run's ``config.yaml`` besides the hyperparameters
RUN_KEYS = {"platform": str, "scenario": str, "train_scenarios": list, "eval_scenarios": list, "seed": int}


def load_config(path_or_name: Union[str, Path], env_id: str,
                platform: Optional[Union[str, Path, Platform]] = None) -> dict:
    """The hyperparameters for ``env_id``: its entry merged over ``default``, validated.

    :param path_or_name: a name in ``agents/`` or a YAML path
    :param env_id: the environment id whose entry is used
    :param platform: the board the config will train on: its ``boards`` overrides are applied and
        its ``units`` are checked against it
    :raise InputError: one line naming the file and the dotted field
    """
    path = resolve_named(path_or_name, AGENTS_DIR, ".yaml")
    data = read_yaml(path)
    if not isinstance(data, dict) or not data:
        raise InputError(path, "<top>", "expected a mapping of environment ids to hyperparameters")
    if "default" not in data and env_id not in data:
        raise InputError(path, env_id, "no entry for this environment and no default")
    entries = {section: entry for section, entry in data.items() if entry is not None}
    checked = MapOf(Table(ENTRY_SPEC)).check(entries, str(path), None)
    board = None if platform is None else platform if isinstance(platform, Platform) else load_platform(platform)
    layers = []  # (section, entry, the board it applies to or None: every board)
    named: list[str] = []
    for section in ("default", env_id):
        entry = dict(checked.get(section, {}))
        boards = entry.pop("boards", {})
        layers.append((section, entry, None))
        for name, override in boards.items():
            if not _is_file(resolve_named(name, PLATFORMS_DIR, ".toml")):
                raise InputError(path, f"{section}.boards.{name}", f"no board profile {short_repr(name)} in {PLATFORMS_DIR}")
            layers.append((f"{section}.boards.{name}", override, name))
            named.append(name)

    def merged(name: Optional[str]) -> tuple[dict, dict]:
        """The entry for board ``name`` and, per key, the dotted field it came from."""
        cfg: dict = {}
        fields: dict = {}
        for section, entry, only in layers:
            if only is None or only == name:
                for key, value in entry.items():
                    cfg[key], fields[key] = value, f"{section}.{key}"
        return cfg, fields

    # every board's entry is checked, not only the one asked for: a bad config is refused on any board
    for name in dict.fromkeys([None, *named]):
        check_together(path, *merged(name))
    cfg, fields = merged(None if board is None else board.name)
    check_together(path, cfg, fields)
    if board is not None and cfg.get("units") is not None:
        select_units(board, cfg["units"], str(path), fields["units"])
    return {**DEFAULTS, **cfg, "source": str(path)}


def load_run_config(path: Union[str, Path]) -> dict:
    """A training run's ``config.yaml`` (what ``rlrm train --resume`` continues), validated.

    :param path: the file; the run folder's ``config.yaml``
    :return: the file's content; ``hyperparameters`` checked as in :func:`load_config`
    :raise InputError: one line naming the file and the dotted field
    """
    path = Path(path)
    data = RUN_SPEC.check(read_yaml(path), path)
    cfg = dict(data["hyperparameters"])
    source = cfg.pop("source", str(path))
    fields = {key: f"hyperparameters.{key}" for key in cfg}
    check_together(path, cfg, fields)
    if not _is_file(resolve_named(data["platform"], PLATFORMS_DIR, ".toml")):
        raise InputError(path, "platform", f"no board profile {short_repr(data['platform'])} (a name in "
                                           f"{PLATFORMS_DIR} or a TOML path)")
    if cfg.get("units") is not None:
        select_units(load_platform(data["platform"]), cfg["units"], str(path), fields["units"])
    return {**data, "hyperparameters": {**DEFAULTS, **cfg, "source": str(source)}}


def check_hyperparameter(source: Union[str, Path], field: str, key: str, value: Any) -> Any:
    """One hyperparameter checked as a config entry would be (an API call or a sweep's search
    space); an unknown key or a bad value is an :class:`InputError` naming ``field``."""
    if key not in HYPERPARAMETERS:
        raise InputError(source, field, f"unknown hyperparameter (known: {', '.join(sorted(HYPERPARAMETERS.fields))})")
    return HYPERPARAMETERS[key].check(value, str(source), field)


def check_together(path: Union[str, Path], cfg: Mapping[str, Any], fields: Mapping[str, str]) -> None:
    """Limits on combinations: the rollout ``n_steps * n_envs`` must hold 2 to :data:`MAX_ROLLOUT` steps;
    ``test_scenarios`` (reported apart, never trained on) share none with ``train_scenarios``."""
    both = [s for s in cfg.get("test_scenarios") or [] if s in (cfg.get("train_scenarios") or [])]
    if both:
        raise InputError(path, fields.get("test_scenarios", "test_scenarios"),
                         f"{short_repr(both[0])} is also a training scenario (the test set must be unseen)")
    n_steps, n_envs = cfg.get("n_steps", SB3_N_STEPS), cfg.get("n_envs", DEFAULTS["n_envs"])
    if not 2 <= n_steps * n_envs <= MAX_ROLLOUT:
        field = fields.get("n_steps") or fields.get("n_envs") or "n_steps"
        raise InputError(path, field, f"n_steps x n_envs = {short_repr(n_steps)} x {short_repr(n_envs)} must be "
                                      f"between 2 and {MAX_ROLLOUT}")


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name with a NUL byte, too long, ...
        return False
