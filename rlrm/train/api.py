"""The training API a scheduler can drive: ``train(...) -> TrainResult``.

``train()`` is one PPO run, top to bottom, with hyperparameters passed as a dict (no file
needed), a callback called after every evaluation, and a :class:`TrainResult` back (run
folder, final and best evaluation reward, the curve). ``rlrm train``, every ``rlrm sweep``
trial and the experiments call it; it is the only training function.

It builds the vectorised, observation-normalised environments (a scenario or a randomised
scenario mix), a MaskablePPO agent with the config's hyperparameters, and runs it with
mask-aware evaluation, TensorBoard logging of the rollout and domain metrics, atomic periodic
checkpoints and an optional progress bar. Everything needed to continue (``--resume``) or
export the run lives in its folder::

    runs/<run>/
      config.yaml        hyperparameters, seed, command, package versions, where it is evaluated
      env.json           platform, scenarios, observation names, action table (for export)
      model.zip          final MaskablePPO (with obs_norm.npz and COMPLETE)
      checkpoints/step_<N>/{model.zip, obs_norm.npz, COMPLETE}
      tb/PPO_1/          TensorBoard events (resume appends to the same curve) and an hparams record
      eval/evaluations.npz, eval/eval_log.jsonl
      train_log.jsonl    steps and wall time of each (resumed) part of the run
      README.txt         how to load model.zip with its normalisation (obs_norm.npz)

``config.yaml`` says where the run is evaluated (``evaluated_on``: ``held-out`` or
``training``, and ``eval_scenarios``): on the training scenario unless a held-out set is
configured (``--scenario mix`` takes the config's ``eval_scenarios``; ``eval_scenarios=`` /
``--eval-scenario`` sets one for any run). The last evaluation is at the last step (one more
evaluation is run when training does not end on the evaluation period), so every run has a
final reward. torch and stable-baselines3 are imported only when a run starts.
"""

from __future__ import annotations

import json
import platform as pyplatform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np

from rlrm import __version__
from rlrm.atomic import atomic_write_bytes
from rlrm.env import ENV_ID, DynamicDNNEnv
from rlrm.env.dynamic_dnn import select_units
from rlrm.errors import InputError
from rlrm.platform import load_platform
from rlrm.policy.sb3_zip import resume_into
from rlrm.policy.spec import env_spec_of, write_env_json
from rlrm.train.config import check_hyperparameter, check_together, load_config, load_run_config

PathLike = Union[str, Path]
TB_NAME = "PPO"


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of the policy during training.

    :param step: environment steps trained so far
    :param mean_reward: mean episode reward over the evaluation episodes
    :param metrics: the domain metrics of those episodes (names as in ``rlrm evaluate``:
        ``energy_per_inference_mj``, ``latency_mean_ms``, ``deadline_miss_rate``, ...)
    :param wall_s: seconds since training started
    """

    step: int
    mean_reward: float
    metrics: dict = field(default_factory=dict)
    wall_s: float = 0.0


#: a callback called after every evaluation; returning ``False`` stops training
EvalListener = Callable[[Evaluation], Optional[bool]]


@dataclass
class TrainResult:
    """What a training run gives back.

    :param run_dir: the run folder (``model.zip``, ``env.json``, ``tb/``, ...)
    :param curve: every evaluation, in order
    :param evaluated_on: ``held-out`` or ``training`` (the scenarios evaluations ran on)
    :param eval_scenarios: those scenarios
    :param timesteps: environment steps trained in total
    :param wall_s: seconds this call trained
    :param stopped_early: a callback stopped training before ``timesteps``
    """

    run_dir: Path
    curve: list
    evaluated_on: str
    eval_scenarios: list
    timesteps: int
    wall_s: float
    stopped_early: bool = False

    @property
    def final_reward(self) -> Optional[float]:
        """The last evaluation's mean reward."""
        return self.curve[-1].mean_reward if self.curve else None

    @property
    def best_reward(self) -> Optional[float]:
        """The best evaluation's mean reward."""
        return max(e.mean_reward for e in self.curve) if self.curve else None


def resolve_hyperparameters(config: PathLike, hyperparameters: Optional[Mapping[str, Any]],
                            platform: Optional[str]) -> dict:
    """The config's hyperparameters with ``hyperparameters`` merged over them, each checked as
    a config entry would be (an error names ``hyperparameters.<key>``)."""
    cfg = load_config(config, ENV_ID, platform=platform)
    if hyperparameters:
        fields = {key: f"{ENV_ID}.{key}" for key in cfg}
        for key, value in hyperparameters.items():
            cfg[key] = check_hyperparameter("hyperparameters", str(key), str(key), value)
            fields[key] = str(key)
        check_together("hyperparameters", cfg, fields)
        if platform is not None and cfg.get("units") is not None:
            select_units(load_platform(platform), cfg["units"], "hyperparameters", "units")
    return cfg


def choose_scenarios(scenario: Union[str, Sequence[str]], cfg: Mapping[str, Any],
                     eval_scenarios: Optional[Sequence[str]] = None) -> tuple[list, list, str]:
    """Training scenarios, evaluation scenarios and ``held-out`` / ``training``.

    ``mix`` trains on the config's ``train_scenarios`` and evaluates on its ``eval_scenarios``
    (the configured held-out set) when it has one; a named scenario (or path) is evaluated on
    itself unless ``eval_scenarios`` is given.
    """
    if scenario == "mix":
        train = list(cfg.get("train_scenarios") or [])
        if not train:
            raise InputError(cfg.get("source", "config"), f"{ENV_ID}.train_scenarios",
                             "needed for --scenario mix (or under default)")
        held_out = list(eval_scenarios or cfg.get("eval_scenarios") or [])
    else:
        train = [scenario] if isinstance(scenario, str) else list(scenario)
        held_out = list(eval_scenarios or [])
    evaluated = held_out or train
    return train, evaluated, ("training" if sorted(evaluated) == sorted(train) else "held-out")


def hparams_of(platform: str, scen_label: str, seed: int, timesteps: int, cfg: Mapping[str, Any]) -> dict:
    """Flat scalar hyperparameters for TensorBoard's HPARAMS tab (nested keys joined by ``/``)."""
    flat: dict = {"platform": str(platform), "scenario": scen_label, "seed": seed, "timesteps": timesteps}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}/{k}", v)
        elif isinstance(value, (bool, int, float, str)) or value is None:
            flat[prefix] = value if value is not None else "none"
        else:
            flat[prefix] = json.dumps(value)

    for key, value in cfg.items():
        if key != "source":
            walk(key, value)
    return flat


def train(
    platform: str = "jetson-xavier-nx",
    scenario: Union[str, Sequence[str]] = "mix",
    hyperparameters: Optional[Mapping[str, Any]] = None,
    timesteps: Optional[int] = None,
    seed: int = 0,
    logdir: PathLike = "runs",
    callbacks: Sequence[EvalListener] = (),
    *,
    config: PathLike = "ppo",
    eval_scenarios: Optional[Sequence[str]] = None,
    run_name: Optional[str] = None,
    run_dir: Optional[PathLike] = None,
    resume: Optional[PathLike] = None,
    progress_bar: bool = False,
    verbose: int = 0,
    trust_pickle: bool = False,
) -> TrainResult:
    """Train (or continue training) a MaskablePPO policy.

    :param platform: board profile (name or TOML path)
    :param scenario: a scenario name or path, a list of them, or ``mix`` (the config's lists)
    :param hyperparameters: overrides of the config's entries (``{"learning_rate": 1e-4}``)
    :param timesteps: environment steps (default: the config's ``n_timesteps``)
    :param seed: the run's seed
    :param logdir: folder that receives the run folder ``<platform>-<scenario>-s<seed>``
    :param callbacks: called with an :class:`Evaluation` after every evaluation; ``False`` stops
    :param config: the agent config the hyperparameters start from (name in ``agents/`` or path)
    :param eval_scenarios: a held-out evaluation set (default: see :func:`choose_scenarios`)
    :param run_name: run folder name inside ``logdir``
    :param run_dir: the run folder itself (overrides ``logdir`` / ``run_name``)
    :param resume: continue the run in this folder (everything else is read from it)
    :param trust_pickle: ``resume`` with stable-baselines3's pickle-based loader (a file you trust)
    :raise InputError: bad input, one line naming the file or argument and the field
    """
    import torch
    from stable_baselines3.common.callbacks import CallbackList
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

    from rlrm.train.callbacks import (AtomicCheckpointCallback, DomainMetricsCallback, EvalLogCallback,
                                      HParamsCallback, ReportingEvalCallback, latest_snapshot,
                                      remove_interrupted_writes, trim_jsonl_log, write_final)

    if resume:
        folder = Path(resume)
        snapshot = latest_snapshot(folder)
        if snapshot is None:
            raise InputError(folder, "<run>", "no complete snapshot to resume from")
        saved = load_run_config(folder / "config.yaml")
        remove_interrupted_writes(folder)  # a killed run's temporaries: never a snapshot
        platform, train_sc, eval_sc, seed = (saved["platform"], saved["train_scenarios"], saved["eval_scenarios"],
                                             saved["seed"])
        cfg, scen_label = saved["hyperparameters"], saved["scenario"]
        evaluated_on = str(saved.get("evaluated_on") or ("training" if eval_sc == train_sc else "held-out"))
        timesteps = int(timesteps or saved.get("timesteps") or cfg["n_timesteps"])
    else:
        cfg = resolve_hyperparameters(config, hyperparameters, platform)  # units checked against the board
        timesteps = int(timesteps or cfg["n_timesteps"])
        train_sc, eval_sc, evaluated_on = choose_scenarios(scenario, cfg, eval_scenarios)
        scen_label = scenario if isinstance(scenario, str) else "+".join(scenario)
        folder = Path(run_dir) if run_dir else Path(logdir) / (run_name or f"{Path(str(platform)).stem}-"
                                                                            f"{Path(scen_label).stem}-s{seed}")
        if (folder / "config.yaml").exists():
            raise InputError(folder, "<run>", "exists already: use --resume to continue it or another --logdir/--name")
    if timesteps < 1:
        raise InputError("--timesteps", "timesteps", "must be >= 1")
    folder.mkdir(parents=True, exist_ok=True)

    env_kwargs = {"platform": platform, "scenario": train_sc, "randomization": cfg.get("randomization"),
                  "reward_weights": cfg.get("reward_weights"), "episode_steps": cfg.get("episode_steps"),
                  "units": cfg.get("units"), "history": cfg.get("history")}
    probe = DynamicDNNEnv(**env_kwargs)  # validates everything before any process starts
    eval_kwargs = {"platform": platform, "scenario": eval_sc, "reward_weights": cfg.get("reward_weights"),
                   "episode_steps": cfg.get("episode_steps"), "units": cfg.get("units"), "history": cfg.get("history")}
    DynamicDNNEnv(**eval_kwargs)

    torch.set_num_threads(1)  # tiny networks: one thread is fastest on a 2-core machine, and stays fast under load
    vec_cls = SubprocVecEnv if cfg["vec_env"] == "subproc" else DummyVecEnv
    venv = make_vec_env(DynamicDNNEnv, n_envs=cfg["n_envs"], seed=seed, env_kwargs=env_kwargs, vec_env_cls=vec_cls)
    eval_env = make_vec_env(DynamicDNNEnv, n_envs=1, seed=seed + 10_000, env_kwargs=eval_kwargs,
                            vec_env_cls=DummyVecEnv)
    norm = None
    if cfg["normalize"]:
        venv = norm = VecNormalize(venv, norm_obs=True, norm_reward=False, clip_obs=10.0)
        eval_env = VecNormalize(eval_env, norm_obs=True, norm_reward=False, clip_obs=10.0, training=False)

    tb_dir = folder / "tb"
    if resume:
        model = _restore_model(snapshot, cfg, venv, seed, norm, tb_dir, verbose, trust_pickle)
        done_steps = model.num_timesteps
        for log_file in (folder / "eval" / "eval_log.jsonl", folder / "train_log.jsonl"):
            trim_jsonl_log(log_file, done_steps)  # what a kill cut short or training will redo
    else:
        model = _new_model(cfg, venv, seed, tb_dir, verbose)
        done_steps = 0
        _write_run_files(folder, platform, scen_label, train_sc, eval_sc, evaluated_on, seed, cfg, probe, timesteps)

    n_envs = cfg["n_envs"]
    evaluator = ReportingEvalCallback(eval_env, listeners=list(callbacks), n_eval_episodes=cfg["n_eval_episodes"],
                                      eval_freq=max(1, cfg["eval_freq"] // n_envs), log_path=str(folder / "eval"),
                                      best_model_save_path=None, deterministic=True, verbose=0,
                                      callback_after_eval=EvalLogCallback(folder / "eval" / "eval_log.jsonl"))
    steps = [DomainMetricsCallback(),
             AtomicCheckpointCallback(max(1, cfg["checkpoint_freq"] // n_envs), folder / "checkpoints", norm),
             evaluator]
    if not resume:
        steps.insert(0, HParamsCallback(hparams_of(platform, scen_label, seed, timesteps, cfg)))
    t0 = time.time()
    remaining = timesteps - done_steps
    if remaining > 0:
        model.learn(total_timesteps=remaining, callback=CallbackList(steps), tb_log_name=TB_NAME,
                    reset_num_timesteps=not resume, progress_bar=progress_bar)
    stopped = evaluator.stopped
    if not stopped and evaluator.model is not None and (
            not evaluator.curve or evaluator.curve[-1].step != model.num_timesteps):
        evaluator.evaluate_now()  # every run ends with an evaluation at its last step
    write_final(model, norm, folder)
    wall = round(time.time() - t0, 1)
    with open(folder / "train_log.jsonl", "a") as fh:
        fh.write(json.dumps({"timesteps": model.num_timesteps, "wall_s": wall, "resumed": bool(resume),
                             "time": time.strftime("%Y-%m-%dT%H:%M:%S")}) + "\n")
    venv.close()
    eval_env.close()
    return TrainResult(run_dir=folder, curve=list(evaluator.curve), evaluated_on=evaluated_on,
                       eval_scenarios=list(eval_sc), timesteps=int(model.num_timesteps), wall_s=wall,
                       stopped_early=stopped)


def versions() -> dict:
    """Versions of what a run depends on."""
    import gymnasium
    import sb3_contrib
    import stable_baselines3
    import torch

    return {"rlrm": __version__, "python": pyplatform.python_version(), "numpy": np.__version__,
            "torch": str(torch.__version__), "gymnasium": gymnasium.__version__,
            "stable_baselines3": stable_baselines3.__version__, "sb3_contrib": sb3_contrib.__version__}


def activation_class(name: str):  # noqa: ANN201
    """The ``torch.nn`` class of a config's ``policy_kwargs.activation_fn`` (``tanh``, ``relu``)."""
    import torch.nn as nn

    return {"tanh": nn.Tanh, "relu": nn.ReLU}[name]


def load_instructions(normalized: bool) -> str:
    """``README.txt`` of a run folder: how to load ``model.zip`` (with ``obs_norm.npz`` when
    training normalised the observations) and act on the environment's raw observations."""
    if normalized:
        how = ("model.zip was trained on NORMALISED observations: VecNormalize's statistics are in obs_norm.npz\n"
               "(no pickle), not in model.zip. To act on the environment's raw observations (from this folder):\n\n"
               "    from sb3_contrib import MaskablePPO; from rlrm.policy.spec import read_obs_norm\n"
               "    model, norm = MaskablePPO.load(\"model.zip\", device=\"cpu\"), read_obs_norm(\"obs_norm.npz\")\n"
               "    action, _ = model.predict(norm.apply(obs), action_masks=env.action_masks(), deterministic=True)\n")
    else:
        how = ("model.zip was trained on raw observations (normalize: false). To act (from this folder):\n\n"
               "    from sb3_contrib import MaskablePPO\n"
               "    model = MaskablePPO.load(\"model.zip\", device=\"cpu\")\n"
               "    action, _ = model.predict(obs, action_masks=env.action_masks(), deterministic=True)\n")
    return ("This is an rlrm training run (rlrm train). env.json says which environment it is for (board,\n"
            "scenarios, observation names, action table); checkpoints/step_<N>/ load the same way.\n\n"
            + how +
            "\nWith NumPy alone (on the board): `rlrm export <this folder> -o checkpoints/NAME`, then\n"
            "    action, _ = rlrm.policy.load(\"checkpoints/NAME\").predict(obs, action_masks=env.action_masks())\n")


def _new_model(cfg: Mapping[str, Any], venv, seed: int, tb_dir: Path, verbose: int):  # noqa: ANN001, ANN202
    from sb3_contrib import MaskablePPO

    ppo_kwargs = {k: cfg[k] for k in ("n_steps", "batch_size", "n_epochs", "learning_rate", "gamma", "gae_lambda",
                                      "ent_coef", "clip_range", "vf_coef", "max_grad_norm", "target_kl",
                                      "normalize_advantage") if k in cfg}
    pk = dict(cfg.get("policy_kwargs") or {})
    policy_kwargs = {"net_arch": pk.get("net_arch", {"pi": [64, 64], "vf": [64, 64]}),
                     "activation_fn": activation_class(pk.get("activation_fn", "tanh"))}
    return MaskablePPO(cfg["policy"], venv, seed=seed, tensorboard_log=str(tb_dir), policy_kwargs=policy_kwargs,
                       verbose=verbose, device="cpu", **ppo_kwargs)


def _restore_model(snapshot: Path, cfg: Mapping[str, Any], venv, seed: int, norm, tb_dir: Path,  # noqa: ANN001
                   verbose: int, trust_pickle: bool):  # noqa: ANN202
    """The snapshot's model and observation statistics (the one place a run is loaded to continue):
    the run's config builds the model, ``model.zip`` gives weights and counters, never unpickled
    unless ``trust_pickle`` (:func:`rlrm.policy.sb3_zip.resume_into`)."""
    from rlrm.train.callbacks import load_obs_norm

    model = resume_into(_new_model(cfg, venv, seed, tb_dir, verbose), snapshot / "model.zip",
                        trust_pickle=trust_pickle, env=venv, tensorboard_log=str(tb_dir))
    if norm is not None:
        load_obs_norm(snapshot / "obs_norm.npz", norm)
    return model


def _write_run_files(run_dir: Path, platform: str, scen_label: str, train_sc: list, eval_sc: list, evaluated_on: str,
                     seed: int, cfg: dict, env: DynamicDNNEnv, timesteps: int) -> None:
    snapshot = {"platform": platform, "scenario": scen_label, "train_scenarios": train_sc, "eval_scenarios": eval_sc,
                "evaluated_on": evaluated_on, "seed": seed, "timesteps": timesteps, "env_id": ENV_ID,
                "command": " ".join(sys.argv), "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "versions": versions(), "hyperparameters": cfg}
    import yaml  # the train extra: `rlrm train`'s CLI and the sweep load this module on the board too

    atomic_write_bytes(run_dir / "config.yaml", yaml.safe_dump(snapshot, sort_keys=False).encode())
    atomic_write_bytes(run_dir / "README.txt", load_instructions(bool(cfg["normalize"])).encode())
    env_kwargs = {"randomization": cfg.get("randomization"), "reward_weights": cfg.get("reward_weights"),
                  "episode_steps": cfg.get("episode_steps"), "units": cfg.get("units")}
    if cfg.get("history"):  # only when used: a checkpoint without it stays readable by older rlrm
        env_kwargs["history"] = cfg["history"]
    write_env_json(run_dir / "env.json", env_spec_of(env, env_kwargs, env_id=ENV_ID, scenario=scen_label))
