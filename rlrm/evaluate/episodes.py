"""Run a policy for seeded episodes and report the metrics every rlrm tool uses."""

from __future__ import annotations

import math
import os
from typing import Any, Callable, Optional, Sequence

from rlrm.policy.base import Policy
from rlrm.agents.registry import make_policy
from rlrm.env.dynamic_dnn import DynamicDNNEnv, select_units
from rlrm.errors import InputError
from rlrm.paths import resolve_checkpoint
from rlrm.platform import Platform, load_platform
from rlrm.policy import SIDECAR_NAME
from rlrm.policy import load as load_checkpoint
from rlrm.rollout import Callback, StepHookCallback, rollout
from rlrm.rollout.progress import ProgressCallback
from rlrm.scores import normalized_score
from rlrm.sim.metrics import SUMMARY_KEYS
from rlrm.table import MAX_WIDTH, default_keys, numeric_keys, render

#: a plain per-step hook ``hook(episode, step, info, reward)``
StepHook = Callable[[int, int, dict, float], None]


def resolve_policy(name: str) -> Policy:
    """A policy from a checkpoint path, a shipped or user checkpoint's name
    (``jetson-xavier-nx-ppo``, in ``checkpoints/`` or ``$RLRM_HOME/checkpoints``), or a baseline name."""
    path = resolve_checkpoint(name, SIDECAR_NAME)
    if path is not None:
        return load_checkpoint(path).as_env_policy()
    if "/" in name or os.sep in name or name.startswith("."):  # a path, not a baseline's name
        raise InputError(name, "--policy", "no such checkpoint (a folder holding policy.json)")
    return make_policy(name)


def checkpoint_env_kwargs(policy: Policy, platform: Optional[Platform] = None) -> dict:
    """Environment arguments a trained policy's spaces depend on (its ``units``, which shape the
    action table, and its ``history``, which shapes the observation), so the policy, the
    baselines and the oracle are all evaluated in the environment it was made for.

    :param policy: any policy; only checkpoints need arguments
    :param platform: the board the environment will model: a checkpoint trained for another
        board, or with ``units`` this board lacks, is refused here, naming its ``policy.json``
    """
    inner = getattr(policy, "policy", None)
    spec = getattr(inner, "spec", None)
    if spec is None:
        return {}
    units = (spec.env_kwargs or {}).get("units")
    if platform is not None:
        source = str(getattr(inner, "sidecar_path", None) or "policy")
        if spec.platform != platform.name:
            raise InputError(source, "env.platform", f"the policy was trained for {spec.platform!r}, "
                                                     f"the environment runs {platform.name!r}")
        select_units(platform, units, source, "env.env_kwargs.units")
    history = (spec.env_kwargs or {}).get("history")
    return {**({"units": units} if units else {}), **({"history": history} if history else {})}


def run_episodes(policy: Policy, env: DynamicDNNEnv, episodes: int, seed: int,
                 on_step: Optional[StepHook] = None, callbacks: Sequence[Callback] = ()) -> tuple[dict, list[dict]]:
    """Run ``episodes`` episodes with seeds ``seed, seed + 1, ...`` (:func:`rlrm.rollout.rollout`).

    :param on_step: a plain hook called after every step
    :param callbacks: rollout callbacks
    :return: the summary over all episodes and one summary per episode
    """
    hooks = list(callbacks) + ([StepHookCallback(on_step)] if on_step is not None else [])
    done = rollout(policy, env, episodes, seed, callbacks=hooks)
    return done.summary, done.per_episode


def evaluate(policy_name: str, platform: str, scenario: str, episodes: int, seed: int,
             env_kwargs: Optional[dict] = None, oracle: bool = True, progress: bool = False) -> dict:
    """Evaluate a policy; with ``oracle`` also the oracle and the masked uniform random policy
    on the same seeds and environment, for ``normalized_score`` (:func:`rlrm.scores.normalized_score`:
    0 is random, 1 the oracle; NaN without them).

    A tuned baseline's design-time choice (``static-best``'s point, ``lut``'s margin, both
    picked on tuning seeds) is returned as ``choice``. ``progress``: a bar per run on a terminal's
    stderr (the reference runs' included).
    """
    if episodes < 1:
        raise InputError("--episodes", "episodes", "must be >= 1")
    policy = resolve_policy(policy_name)
    board = platform if isinstance(platform, Platform) else load_platform(platform)
    env_kwargs = {**checkpoint_env_kwargs(policy, board), **(env_kwargs or {})}
    env = DynamicDNNEnv(platform=board, scenario=scenario, **env_kwargs)
    name = str(getattr(policy, "name", policy_name))
    summary, per_episode = run_episodes(policy, env, episodes, seed, callbacks=_progress(progress, name, episodes))
    refs = reference_rewards(env, episodes, seed, run=oracle,
                             known={policy_name: summary["reward_mean"]} if policy_name in REFERENCES else {},
                             progress=progress)
    summary.update(refs)
    summary["normalized_score"] = normalized_score(summary["reward_mean"], refs["random_reward_mean"],
                                                   refs["oracle_reward_mean"])
    out = {"policy": getattr(policy, "name", policy_name), "platform": env.platform.name,
           "scenario": env.scenario.name, "episodes": episodes, "seed": seed, **summary}
    choice = policy_choice(policy)
    if choice is not None:
        out["choice"] = choice
    out["per_episode"] = per_episode
    return out


#: the two policies a normalised score is measured against (0 and 1)
REFERENCES = ("random", "oracle")


def reference_rewards(env: DynamicDNNEnv, episodes: int, seed: int, run: bool = True,
                      known: Optional[dict] = None, progress: bool = False) -> dict:
    """``random_reward_mean`` and ``oracle_reward_mean`` on the same seeds and environment
    (those in ``known`` are taken as given; ``run=False``: NaN for the others)."""
    out = {}
    for name in REFERENCES:
        if known and name in known:
            reward = known[name]
        elif run:
            reward = run_episodes(make_policy(name), env, episodes, seed,
                                  callbacks=_progress(progress, f"{name} (for normalized_score)", episodes))[0]["reward_mean"]
        else:
            reward = math.nan
        out[f"{name}_reward_mean"] = reward
    return out


def policy_choice(policy: Policy) -> Optional[dict]:
    """A tuned baseline's design-time choice, JSON-ready: ``static-best``'s point (with its
    tuning reward and seeds) or ``lut``'s margin (with its tuning seeds); None for the others."""
    choice = getattr(policy, "choice", None)
    if not isinstance(choice, dict):
        return None
    keep = ("point", "reward", "tuning_seeds", "candidates", "confirmed", "margin", "seeds", "rewards")
    out = {k: choice[k] for k in keep if k in choice}
    for key in ("rewards", "confirmed"):  # tuning-seed mean reward of every margin / shortlisted point
        if isinstance(out.get(key), dict):
            out[key] = {str(k): float(v) for k, v in out[key].items()}
    return out


def _progress(on: bool, desc: str, episodes: int) -> list[Callback]:
    return [ProgressCallback(desc, episodes)] if on else []


def format_table(rows: list[dict], keys: Any = None, wide: bool = False) -> str:
    """A plain-text table, one row per result: by default the few columns that matter
    (:data:`rlrm.table.DEFAULT_KEYS` the rows hold) in at most :data:`rlrm.table.MAX_WIDTH`
    columns; ``wide``: every numeric key, however wide; ``keys``: exactly these."""
    if keys is None:
        keys = numeric_keys(rows) if wide else default_keys(rows)
    return render(rows, list(keys), max_width=None if wide else MAX_WIDTH)


def format_value(v: Any) -> str:
    """A metric as tables show it: 4 decimals below 10, 1 above, ``nan``, ``-`` for None."""
    if v is None:
        return "-"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)
