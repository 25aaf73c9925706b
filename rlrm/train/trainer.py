"""One PPO training run, top to bottom.

``train()`` builds the vectorised, observation-normalised environments (a scenario or a
randomised scenario mix), a MaskablePPO agent with the config's hyperparameters, and runs it
with mask-aware evaluation on held-out scenarios, TensorBoard logging of the rollout and
domain metrics, atomic periodic checkpoints and a progress bar. Everything needed to
continue (``--resume``) or export the run lives in its folder::

    runs/<run>/
      config.yaml        hyperparameters, seed, command, package versions
      env.json           platform, scenarios, observation names, action table (for export)
      model.zip          final MaskablePPO (with obs_norm.npz and COMPLETE)
      checkpoints/step_<N>/{model.zip, obs_norm.npz, COMPLETE}
      tb/PPO_1/          TensorBoard events (resume appends to the same curve)
      eval/evaluations.npz
      README.txt         how to load model.zip with its normalisation (obs_norm.npz)
"""

from __future__ import annotations

import json
import platform as pyplatform
import sys
import time
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import yaml

from rlrm import __version__
from rlrm.atomic import atomic_write_bytes
from rlrm.env import ENV_ID, DynamicDNNEnv
from rlrm.errors import InputError
from rlrm.train.callbacks import (
    AtomicCheckpointCallback,
    DomainMetricsCallback,
    EvalLogCallback,
    latest_snapshot,
    load_obs_norm,
    remove_interrupted_writes,
    trim_jsonl_log,
    write_final,
)
from rlrm.policy.sb3_zip import resume_into
from rlrm.policy.spec import env_spec_of, write_env_json
from rlrm.train.config import load_config, load_run_config

TB_NAME = "PPO"


def versions() -> dict:
    """Versions of what a run depends on."""
    import gymnasium
    import sb3_contrib
    import stable_baselines3
    import torch

    return {"rlrm": __version__, "python": pyplatform.python_version(), "numpy": np.__version__,
            "torch": str(torch.__version__), "gymnasium": gymnasium.__version__,
            "stable_baselines3": stable_baselines3.__version__, "sb3_contrib": sb3_contrib.__version__}


def scenario_lists(scenario: Union[str, Sequence[str]], cfg: dict) -> tuple[list[str], list[str]]:
    """Training and evaluation scenarios: ``mix`` takes the config's lists."""
    if scenario == "mix":
        train = list(cfg.get("train_scenarios") or [])
        if not train:
            raise InputError(cfg["source"], f"{ENV_ID}.train_scenarios", "needed for --scenario mix (or under default)")
        held_out = list(cfg.get("eval_scenarios") or train)
        return train, held_out
    train = [scenario] if isinstance(scenario, str) else list(scenario)
    return train, list(cfg.get("eval_scenarios") or []) or train


def _activation(name: str):  # noqa: ANN202
    import torch.nn as nn

    return {"tanh": nn.Tanh, "relu": nn.ReLU}[name]


def train(
    platform: str = "jetson-xavier-nx",
    scenario: Union[str, Sequence[str]] = "mix",
    config: Union[str, Path] = "ppo",
    timesteps: Optional[int] = None,
    seed: int = 0,
    logdir: Union[str, Path] = "runs",
    run_name: Optional[str] = None,
    resume: Optional[Union[str, Path]] = None,
    progress_bar: bool = True,
    verbose: int = 0,
    trust_pickle: bool = False,
) -> Path:
    """Train (or continue training) a MaskablePPO policy; returns the run folder.

    ``resume`` reads the snapshot's ``model.zip`` without unpickling (:mod:`rlrm.policy.sb3_zip`);
    ``trust_pickle`` uses sb3's pickle-based loader instead, for a file you trust.
    """
    import torch
    from sb3_contrib import MaskablePPO
    from sb3_contrib.common.maskable.callbacks import MaskableEvalCallback
    from stable_baselines3.common.callbacks import CallbackList
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

    cfg = load_config(config, ENV_ID, platform=None if resume else platform)  # units checked against the board
    timesteps = int(timesteps or cfg["n_timesteps"])
    if timesteps < 1:
        raise InputError("--timesteps", "timesteps", "must be >= 1")
    train_sc, eval_sc = scenario_lists(scenario, cfg)
    scen_label = scenario if isinstance(scenario, str) else "+".join(scenario)
    if resume:
        run_dir = Path(resume)
        snapshot = latest_snapshot(run_dir)
        if snapshot is None:
            raise InputError(run_dir, "<run>", "no complete snapshot to resume from")
        saved = load_run_config(run_dir / "config.yaml")
        remove_interrupted_writes(run_dir)  # a killed run's temporaries: never a snapshot
        platform, train_sc, eval_sc, seed = saved["platform"], saved["train_scenarios"], saved["eval_scenarios"], saved["seed"]
        cfg = saved["hyperparameters"]
        scen_label = saved["scenario"]
    else:
        run_dir = Path(logdir) / (run_name or f"{platform}-{scen_label}-s{seed}")
        if (run_dir / "config.yaml").exists():
            raise InputError(run_dir, "<run>", "exists already: use --resume to continue it or another --logdir/--name")
    run_dir.mkdir(parents=True, exist_ok=True)

    env_kwargs = {"platform": platform, "scenario": train_sc, "randomization": cfg.get("randomization"),
                  "reward_weights": cfg.get("reward_weights"), "episode_steps": cfg.get("episode_steps"),
                  "units": cfg.get("units")}
    probe = DynamicDNNEnv(**env_kwargs)  # validates everything before any process starts
    eval_kwargs = {"platform": platform, "scenario": eval_sc, "reward_weights": cfg.get("reward_weights"),
                   "episode_steps": cfg.get("episode_steps"), "units": cfg.get("units")}
    DynamicDNNEnv(**eval_kwargs)

    torch.set_num_threads(1)  # tiny networks: one thread is fastest on a 2-core machine, and stays fast under load
    vec_cls = SubprocVecEnv if cfg["vec_env"] == "subproc" else DummyVecEnv
    venv = make_vec_env(DynamicDNNEnv, n_envs=cfg["n_envs"], seed=seed, env_kwargs=env_kwargs, vec_env_cls=vec_cls)
    eval_env = make_vec_env(DynamicDNNEnv, n_envs=1, seed=seed + 10_000, env_kwargs=eval_kwargs, vec_env_cls=DummyVecEnv)
    norm = None
    if cfg["normalize"]:
        venv = norm = VecNormalize(venv, norm_obs=True, norm_reward=False, clip_obs=10.0)
        eval_env = VecNormalize(eval_env, norm_obs=True, norm_reward=False, clip_obs=10.0, training=False)

    ppo_kwargs = {k: cfg[k] for k in ("n_steps", "batch_size", "n_epochs", "learning_rate", "gamma", "gae_lambda",
                                      "ent_coef", "clip_range", "vf_coef", "max_grad_norm", "target_kl",
                                      "normalize_advantage") if k in cfg}
    pk = dict(cfg.get("policy_kwargs") or {})
    policy_kwargs = {"net_arch": pk.get("net_arch", {"pi": [64, 64], "vf": [64, 64]}),
                     "activation_fn": _activation(pk.get("activation_fn", "tanh"))}
    tb_dir = run_dir / "tb"
    if resume:  # the run's config builds the model; model.zip gives weights and counters, never unpickled
        model = MaskablePPO(cfg["policy"], venv, seed=seed, tensorboard_log=str(tb_dir), policy_kwargs=policy_kwargs,
                            verbose=verbose, device="cpu", **ppo_kwargs)
        model = resume_into(model, snapshot / "model.zip", trust_pickle=trust_pickle, env=venv,
                            tensorboard_log=str(tb_dir))
        if norm is not None:
            load_obs_norm(snapshot / "obs_norm.npz", norm)
        done_steps = model.num_timesteps
        for log_file in (run_dir / "eval" / "eval_log.jsonl", run_dir / "train_log.jsonl"):
            trim_jsonl_log(log_file, done_steps)  # what a kill cut short or training will redo
    else:
        model = MaskablePPO(cfg["policy"], venv, seed=seed, tensorboard_log=str(tb_dir), policy_kwargs=policy_kwargs,
                            verbose=verbose, device="cpu", **ppo_kwargs)
        done_steps = 0
        _write_run_files(run_dir, platform, scen_label, train_sc, eval_sc, seed, cfg, probe, timesteps)

    n_envs = cfg["n_envs"]
    eval_log = EvalLogCallback(run_dir / "eval" / "eval_log.jsonl")
    callbacks = CallbackList([
        DomainMetricsCallback(),
        AtomicCheckpointCallback(max(1, cfg["checkpoint_freq"] // n_envs), run_dir / "checkpoints", norm),
        MaskableEvalCallback(eval_env, n_eval_episodes=cfg["n_eval_episodes"], eval_freq=max(1, cfg["eval_freq"] // n_envs),
                             log_path=str(run_dir / "eval"), best_model_save_path=None, deterministic=True, verbose=0,
                             callback_after_eval=eval_log),
    ])
    t0 = time.time()
    remaining = timesteps - done_steps if resume else timesteps
    if remaining > 0:
        model.learn(total_timesteps=remaining, callback=callbacks, tb_log_name=TB_NAME,
                    reset_num_timesteps=not resume, progress_bar=progress_bar)
    write_final(model, norm, run_dir)
    log = run_dir / "train_log.jsonl"
    with open(log, "a") as fh:
        fh.write(json.dumps({"timesteps": model.num_timesteps, "wall_s": round(time.time() - t0, 1),
                             "resumed": bool(resume), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}) + "\n")
    venv.close()
    eval_env.close()
    return run_dir


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


def _write_run_files(run_dir: Path, platform: str, scen_label: str, train_sc: list, eval_sc: list, seed: int,
                     cfg: dict, env: DynamicDNNEnv, timesteps: int) -> None:
    snapshot = {"platform": platform, "scenario": scen_label, "train_scenarios": train_sc, "eval_scenarios": eval_sc,
                "seed": seed, "timesteps": timesteps, "env_id": ENV_ID, "command": " ".join(sys.argv),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "versions": versions(), "hyperparameters": cfg}
    atomic_write_bytes(run_dir / "config.yaml", yaml.safe_dump(snapshot, sort_keys=False).encode())
    atomic_write_bytes(run_dir / "README.txt", load_instructions(bool(cfg["normalize"])).encode())
    env_kwargs = {"randomization": cfg.get("randomization"), "reward_weights": cfg.get("reward_weights"),
                  "episode_steps": cfg.get("episode_steps"), "units": cfg.get("units")}
    write_env_json(run_dir / "env.json", env_spec_of(env, env_kwargs, env_id=ENV_ID, scenario=scen_label))
