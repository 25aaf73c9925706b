"""Run the policies of a comparison on identical seeded episodes and log them to TensorBoard.

Every policy gets its own TensorBoard run directory ``<logdir>/<run name>`` with the tags of
:mod:`rlrm.rollout.tensorboard` (per step, per episode, and an hparams entry: ``policy``,
``platform``, ``scenario``, ``seeds``, ``seed``, ``episode_steps``, with the metrics
``hparam/<key>`` for every summary key, so TensorBoard's HPARAMS tab is the comparison table).
Non-finite values are written as :data:`NONFINITE` (-1); the summary files keep the real values.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from rlrm.policy.base import Policy
from rlrm.agents.registry import make_policy
from rlrm.env.dynamic_dnn import DynamicDNNEnv
from rlrm.errors import InputError
from rlrm.evaluate import (REFERENCES, SUMMARY_KEYS, checkpoint_env_kwargs, policy_choice, reference_rewards,
                           resolve_policy)
from rlrm.live.board import LiveConfig
from rlrm.live.restore import take_restore_problems
from rlrm.rollout.progress import ProgressCallback
from rlrm.platform import Platform, load_platform
from rlrm.rollout import rollout
from rlrm.agents.static_best import static_frontier_rows
from rlrm.scores import ENERGY, MISS, TOP1, add_energy_vs_matched, dominates, mark_pareto, normalized_score
from rlrm.rollout.tensorboard import (EPISODE_KEYS, LIVE_STEP_KEYS, NONFINITE, STEP_KEYS, TensorBoardCallback,
                                      clear_run_dir, finite, open_writer, write_hparams)

__all__ = ["EPISODE_KEYS", "LIVE_STEP_KEYS", "NONFINITE", "STEP_KEYS", "PolicySpec", "common_env_kwargs",
           "finite", "parse_policies", "run_compare", "split_policies"]


@dataclass
class PolicySpec:
    """One policy of a comparison.

    :param label: the policy as the user wrote it (``ppo:checkpoints/x``, ``schedutil``)
    :param source: what :func:`rlrm.evaluate.resolve_policy` takes (a name or a checkpoint path)
    :param run_name: the TensorBoard run directory name (sanitised, unique)
    """

    label: str
    source: str
    run_name: str
    policy: Optional[Policy] = field(default=None, repr=False)


def _sanitize(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_.")
    return name or "policy"


def split_policies(text: str) -> list[str]:
    """Split ``--policies`` on commas, keeping ``fixed:subnet=L,unit=U,freq=F`` whole (a part
    with ``=`` but no ``:`` continues the previous ``fixed:`` policy).

    :param text: the comma-separated list
    """
    parts: list[str] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        if parts and "=" in item and ":" not in item and parts[-1].startswith("fixed:"):
            parts[-1] += "," + item
        else:
            parts.append(item)
    return parts


def parse_policies(text: str) -> list[PolicySpec]:
    """Parse ``--policies`` and load every policy (bad names and paths raise InputError).

    :param text: comma-separated policies: ``ppo:PATH`` (a checkpoint), a checkpoint path, or
        any name :func:`rlrm.agents.registry.make_policy` knows
    """
    specs: list[PolicySpec] = []
    used: set[str] = set()
    for label in split_policies(text):
        if label.startswith("ppo:"):
            path = label[4:]
            if not path or not os.path.exists(path):
                raise InputError("--policies", "ppo", f"checkpoint {path!r} not found")
            source = path
            base = "ppo_" + _sanitize(Path(path.rstrip("/\\")).name)
        else:
            source = label
            base = ("ppo_" + _sanitize(Path(label.rstrip("/\\")).name)) if os.path.exists(label) else _sanitize(label)
        name, n = base, 2
        while name in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name)
        specs.append(PolicySpec(label, source, name, policy=resolve_policy(source)))
    if not specs:
        raise InputError("--policies", "policies", "no policy given")
    return specs


def common_env_kwargs(specs: list[PolicySpec], platform: Optional[Platform] = None) -> dict:
    """The environment arguments every policy runs in: those the checkpoints need (their
    ``units``), shared by the baselines and the oracle so all are comparable.

    :param specs: the loaded policies
    :param platform: the board: checkpoints trained for another are refused (naming their policy.json)
    :raises InputError: if two checkpoints need different environments
    """
    chosen: dict = {}
    owner = ""
    for spec in specs:
        kw = checkpoint_env_kwargs(spec.policy, platform) if spec.policy is not None else {}
        if not kw:
            continue
        if chosen and kw != chosen:
            raise InputError("--policies", spec.label,
                             f"needs environment {kw}, but {owner} needs {chosen}: compare them separately")
        chosen, owner = kw, spec.label
    return dict(chosen)


def run_compare(specs: list[PolicySpec], platform: str, scenario: str, seeds: int, seed: int,
                logdir: str | os.PathLike[str], episode_steps: Optional[int] = None,
                overwrite: bool = False, oracle: bool = True, backend: str = "sim",
                live: Union[LiveConfig, Mapping[str, Any], None] = None, period_s: Optional[float] = None,
                static_frontier: bool = True, progress: bool = False) -> dict:
    """Run every policy on the same seeds and environment and log it to TensorBoard.

    :param specs: the policies (from :func:`parse_policies`)
    :param platform: board profile name or path
    :param scenario: scenario name or path
    :param seeds: how many seeded episodes per policy (seeds ``seed .. seed + seeds - 1``)
    :param seed: the first seed
    :param logdir: where the run directories go (one per policy)
    :param episode_steps: override of the scenario's episode length
    :param overwrite: delete old event files of the same run names instead of refusing
    :param oracle: run the oracle and the random policy silently for ``normalized_score`` when
        they are not among the policies (else the score is nan)
    :param backend: ``sim`` or ``live`` (this machine: real inferences and background load,
        one policy after the other; the oracle cannot run live, so the score is nan)
    :param live: the live backend's :class:`rlrm.live.LiveConfig` (or its fields)
    :param period_s: control period (default: the scenario's)
    :param static_frontier: measure every static operating point on the same seeds (simulator
        only) for Pareto marking, ``energy_vs_matched`` and ``pareto.png``
    :return: ``{"platform", "scenario", "seeds", "seed", "episode_steps", "env_kwargs", "rows",
        "restore_problems", "statefile", "static_frontier"}`` (live: what the kernel refused to put back, and the
        state file kept for ``rlrm restore``);
        each row is the summary of one policy (``rlrm evaluate``'s keys) with ``per_episode``
        and ``timeseries`` (the steps of its first episode), ``normalized_score``,
        ``pareto_dominated`` / ``dominated_by``, ``energy_vs_matched`` / ``matched_by`` and, for
        ``static-best`` / ``lut``, ``choice`` (the point / margin picked on tuning seeds)
    """
    if seeds < 1:
        raise InputError("--seeds", "seeds", "must be >= 1")
    if backend == "live":
        if any(spec.source in ("oracle", "oracle-greedy") for spec in specs):
            raise InputError("--policies", "oracle", "the oracle needs the simulator's hidden state; it cannot run live")
        oracle = False
    board = platform if isinstance(platform, Platform) else load_platform(platform)
    env_kwargs = common_env_kwargs(specs, board)
    if period_s is not None:
        env_kwargs["period_s"] = period_s
    if episode_steps is not None:
        env_kwargs["episode_steps"] = episode_steps
    logdir = Path(logdir)
    for spec in specs:
        clear_run_dir(logdir / spec.run_name, overwrite)
    if backend == "live":  # a checkpoint for another environment is refused before the board is opened
        probe = DynamicDNNEnv(platform=board, scenario=scenario, **env_kwargs)
        for spec in specs:
            spec.policy.reset(probe, seed=seed)

    rows: list[dict] = []
    writers: list[Any] = []
    env = None
    unrestored: list[tuple[str, str]] = []  # live: (problem, state file kept) the kernel refused to restore
    try:
        for spec in specs:
            if env is not None:
                env.close()  # live: stop the background workers and restore the board between policies
                unrestored += take_restore_problems(env)
            live_kw = {"live": live} if backend == "live" else {}
            env = DynamicDNNEnv(platform=board, scenario=scenario, backend=backend, **live_kw, **env_kwargs)
            writer = open_writer(logdir / spec.run_name)
            writers.append(writer)
            tb = TensorBoardCallback(writer)
            done = rollout(spec.policy, env, seeds, seed, callbacks=[tb, *_bar(progress, spec.run_name, seeds)])
            row = {"policy": spec.run_name, "source": spec.label, **done.summary,
                   "per_episode": done.per_episode, "timeseries": tb.series}
            choice = policy_choice(spec.policy)
            if choice is not None:
                row["choice"] = choice
            rows.append(row)

        assert env is not None
        _fill_scores(rows, specs, board, scenario, env_kwargs, seeds, seed, oracle, progress)
        static: list[dict] = []
        if backend == "sim" and static_frontier:
            static = static_frontier_rows(DynamicDNNEnv(platform=board, scenario=scenario, **env_kwargs),
                                          list(range(seed, seed + seeds)))
        _fill_pareto(rows, static)
        steps = int(env.episode_steps)
        for spec, row, writer in zip(specs, rows, writers):
            write_hparams(writer, {"policy": spec.label, "platform": env.platform.name,
                                    "scenario": env.scenario.name, "seeds": seeds, "seed": seed,
                                    "episode_steps": steps},
                           {f"hparam/{k}": finite(row.get(k)) for k in SUMMARY_KEYS})
    finally:
        for writer in writers:
            writer.close()
        if env is not None:
            env.close()
            unrestored += take_restore_problems(env)
    problems = [p for p, _ in unrestored]
    return {"platform": env.platform.name, "scenario": env.scenario.name, "seeds": seeds, "seed": seed,
            "episode_steps": steps, "env_kwargs": env_kwargs, "backend": backend, "rows": rows,
            "restore_problems": problems, "statefile": unrestored[0][1] if unrestored else None,
            "static_frontier": _frontier(static)}


def _bar(progress: bool, desc: str, episodes: int) -> list:
    """A progress bar callback (drawn only on a terminal's stderr) when ``progress``."""
    return [ProgressCallback(desc, episodes)] if progress else []


def _frontier(static: list[dict]) -> list[dict]:
    """The static points no other static point dominates, in (energy, misses, top-1) only."""
    keep = [r for r in static if not any(dominates(o, r) for o in static if o is not r)]
    return [{k: r.get(k) for k in ("policy", ENERGY, MISS, TOP1, "reward_mean")}
            for r in sorted(keep, key=lambda r: r[ENERGY])]


def _fill_scores(rows: list[dict], specs: list[PolicySpec], platform: Platform, scenario: str,
                 env_kwargs: dict, seeds: int, seed: int, references: bool, progress: bool = False) -> None:
    """Set ``random_reward_mean``, ``oracle_reward_mean`` and ``normalized_score`` of every row:
    against the ``random`` / ``oracle`` rows if the comparison has them, else against silent
    runs on the same seeds and environment (``references=False``: NaN).

    :param rows: the policies' summaries, updated in place
    :param specs: the policies, in the order of ``rows``
    :param platform: board profile
    :param scenario: scenario
    :param env_kwargs: the common environment arguments
    :param seeds: number of episodes
    :param seed: first seed
    :param references: whether to run random and the oracle when they are not among the policies
    """
    known = {s.source: r["reward_mean"] for r, s in zip(rows, specs) if s.source in REFERENCES}
    env = DynamicDNNEnv(platform=platform, scenario=scenario, **env_kwargs)
    refs = reference_rewards(env, seeds, seed, run=references, known=known, progress=progress)
    for row in rows:
        row.update(refs)
        row["normalized_score"] = normalized_score(row["reward_mean"], refs["random_reward_mean"],
                                                   refs["oracle_reward_mean"])


def _fill_pareto(rows: list[dict], static: list[dict]) -> None:
    """Mark Pareto-dominated rows and set ``energy_vs_matched`` / ``matched_by`` against the
    other rows and the static points (:mod:`rlrm.scores`)."""
    mark_pareto(rows, keys=(), others=static)
    add_energy_vs_matched(rows, keys=(), others=static)
