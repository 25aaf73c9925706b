"""Run the policies of a comparison on identical seeded episodes and log them to TensorBoard.

Every policy gets its own TensorBoard run directory ``<logdir>/<run name>`` with the same
scalar tags:

* per step (global step ``episode * episode_steps + step``): ``step/latency_ms``,
  ``step/energy_mj``, ``step/power_w``, ``step/accuracy``, ``step/subnet``, ``step/unit``
  (index of the unit in the platform's unit list), ``step/freq_khz/<unit>`` for every unit,
  ``step/target_latency_ms`` (values of the first managed application); on the live backend
  also ``step/energy_estimated`` and ``step/sensor_fault`` (1 when the power is the model's
  estimate; the second when it is because a sensor failed mid-run);
* per episode (step = episode index): ``episode/<key>`` for each summary key of
  ``rlrm evaluate`` that exists per episode (all of :data:`rlrm.evaluate.SUMMARY_KEYS` but
  ``oracle_reward_fraction``);
* an hparams entry (``policy``, ``platform``, ``scenario``, ``seeds``, ``seed``,
  ``episode_steps``) with the metrics ``hparam/<key>`` for every summary key, so
  TensorBoard's HPARAMS tab is the comparison table.

TensorBoard cannot show inf or nan, so every non-finite value (no deadline: target latency
inf; no inference: energy per inference inf; latency of an inactive application) is written
as :data:`NONFINITE` (-1; all these quantities are otherwise >= 0). The summary files keep
the real values.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from rlrm.agents.base import Policy
from rlrm.agents.registry import make_policy
from rlrm.env.dynamic_dnn import DynamicDNNEnv
from rlrm.errors import InputError
from rlrm.evaluate import SUMMARY_KEYS, _fraction, checkpoint_env_kwargs, resolve_policy, run_episodes
from rlrm.platform import Platform, load_platform

#: what a non-finite value (inf, nan, missing) is written as in TensorBoard
NONFINITE = -1.0
#: the ``rlrm evaluate`` summary keys logged per episode as ``episode/<key>``
EPISODE_KEYS: tuple[str, ...] = tuple(k for k in SUMMARY_KEYS if k != "oracle_reward_fraction")
#: the per-step info keys logged as ``step/<key>`` (besides ``step/freq_khz/<unit>``)
STEP_KEYS: tuple[str, ...] = ("latency_ms", "energy_mj", "power_w", "accuracy", "subnet", "unit",
                              "target_latency_ms")
#: the live backend's per-step flags, logged as ``step/<key>`` (1.0 or 0.0) when the result has them
LIVE_STEP_KEYS: tuple[str, ...] = ("energy_estimated", "sensor_fault")


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


def finite(value: Any) -> float:
    """``value`` as a float, or :data:`NONFINITE` if it is missing, inf or nan.

    :param value: a number or None
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        return NONFINITE
    return v if math.isfinite(v) else NONFINITE


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


class _StepLogger:
    """The ``on_step`` hook of :func:`rlrm.evaluate.run_episodes`: per-step scalars, and the
    steps of episode ``keep_episode`` for the time-series figure (None: keep none, for runs of
    unbounded length such as ``rlrm run``)."""

    def __init__(self, writer: Any, env: DynamicDNNEnv, keep_episode: Optional[int] = 0) -> None:
        self.writer = writer
        self.env = env
        self.units = list(env.platform.units)
        self.sim_units = list(env.sim.unit_names)
        self.keep_episode = keep_episode
        self.series: list[dict] = []

    def __call__(self, ep: int, step: int, info: dict, reward: float) -> None:
        gstep = ep * self.env.episode_steps + step
        unit = info.get("unit")
        values = {k: info.get(k) for k in STEP_KEYS}
        values["unit"] = self.units.index(unit) if unit in self.units else None
        for k, v in values.items():
            self.writer.add_scalar(f"step/{k}", finite(v), gstep)
        for key in LIVE_STEP_KEYS:
            if key in info["result"]:
                self.writer.add_scalar(f"step/{key}", float(bool(info["result"][key])), gstep)
        freqs = info["result"]["freq_khz"]
        for u, f in zip(self.sim_units, freqs):
            self.writer.add_scalar(f"step/freq_khz/{u}", finite(f), gstep)
        if ep == self.keep_episode:
            self.series.append({"step": step, "latency_ms": info.get("latency_ms"),
                                "target_latency_ms": info.get("target_latency_ms"),
                                "subnet": info.get("subnet"), "unit": unit, "freq_khz": info.get("freq_khz"),
                                "accuracy": info.get("accuracy"), "reward": reward})


def _clear_run_dir(run_dir: Path, overwrite: bool) -> None:
    events = sorted(run_dir.glob("events.out.tfevents.*")) if run_dir.is_dir() else []
    if events and not overwrite:
        raise InputError(str(run_dir), "logdir", "already holds TensorBoard events (use --overwrite or another --logdir)")
    for ev in events:
        ev.unlink()


def run_compare(specs: list[PolicySpec], platform: str, scenario: str, seeds: int, seed: int,
                logdir: str | os.PathLike[str], episode_steps: Optional[int] = None,
                overwrite: bool = False, oracle: bool = True, backend: str = "sim",
                live: Optional[Any] = None, period_s: Optional[float] = None) -> dict:
    """Run every policy on the same seeds and environment and log it to TensorBoard.

    :param specs: the policies (from :func:`parse_policies`)
    :param platform: board profile name or path
    :param scenario: scenario name or path
    :param seeds: how many seeded episodes per policy (seeds ``seed .. seed + seeds - 1``)
    :param seed: the first seed
    :param logdir: where the run directories go (one per policy)
    :param episode_steps: override of the scenario's episode length
    :param overwrite: delete old event files of the same run names instead of refusing
    :param oracle: run the oracle silently for ``oracle_reward_fraction`` when it is not
        one of the policies (else the fraction is nan)
    :param backend: ``sim`` or ``live`` (this machine: real inferences and background load,
        one policy after the other; the oracle cannot run live, so the fraction is nan)
    :param live: the live backend's :class:`rlrm.live.LiveConfig` (or its fields)
    :param period_s: control period (default: the scenario's)
    :return: ``{"platform", "scenario", "seeds", "seed", "episode_steps", "env_kwargs", "rows",
        "restore_problems", "statefile"}`` (live: what the kernel refused to put back, and the
        state file kept for ``rlrm restore``);
        each row is the summary of one policy (``rlrm evaluate``'s keys) with ``per_episode``
        and ``timeseries`` (the steps of its first episode)
    """
    from torch.utils.tensorboard import SummaryWriter

    if seeds < 1:
        raise InputError("--seeds", "seeds", "must be >= 1")
    if backend == "live":
        if any(spec.source == "oracle" for spec in specs):
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
        _clear_run_dir(logdir / spec.run_name, overwrite)
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
                unrestored += _restore_problems(env)
            if backend == "live":
                env = DynamicDNNEnv(platform=board, scenario=scenario, backend="live", live=live, **env_kwargs)
            else:
                env = DynamicDNNEnv(platform=board, scenario=scenario, **env_kwargs)
            run_dir = logdir / spec.run_name
            run_dir.mkdir(parents=True, exist_ok=True)
            writer = SummaryWriter(log_dir=str(run_dir))
            writers.append(writer)
            hook = _StepLogger(writer, env)
            summary, per_episode = run_episodes(spec.policy, env, seeds, seed, on_step=hook)
            for ep in per_episode:
                index = ep["seed"] - seed
                for key in EPISODE_KEYS:
                    writer.add_scalar(f"episode/{key}", finite(ep.get(key)), index)
            rows.append({"policy": spec.run_name, "source": spec.label, **summary,
                         "per_episode": per_episode, "timeseries": hook.series})

        assert env is not None
        _fill_oracle_fraction(rows, specs, board, scenario, env_kwargs, seeds, seed, oracle)
        steps = int(env.episode_steps)
        for spec, row, writer in zip(specs, rows, writers):
            _write_hparams(writer, {"policy": spec.label, "platform": env.platform.name,
                                    "scenario": env.scenario.name, "seeds": seeds, "seed": seed,
                                    "episode_steps": steps},
                           {f"hparam/{k}": finite(row.get(k)) for k in SUMMARY_KEYS})
    finally:
        for writer in writers:
            writer.close()
        if env is not None:
            env.close()
            unrestored += _restore_problems(env)
    problems = [p for p, _ in unrestored]
    return {"platform": env.platform.name, "scenario": env.scenario.name, "seeds": seeds, "seed": seed,
            "episode_steps": steps, "env_kwargs": env_kwargs, "backend": backend, "rows": rows,
            "restore_problems": problems, "statefile": unrestored[0][1] if unrestored else None}


def _restore_problems(env: DynamicDNNEnv) -> list[tuple[str, str]]:
    """What closing a live environment could not put back on the board, with the state file kept."""
    board = env.sim
    problems = getattr(board, "restore_problems", [])
    out = [(p, str(board.kept_statefile)) for p in problems]
    problems.clear()  # reported once
    return out


def _write_hparams(writer: Any, hparam_dict: dict, metric_dict: dict) -> None:
    """What ``SummaryWriter.add_hparams(..., run_name=".")`` writes, into ``writer``'s own
    event file instead of a second one.

    :param writer: an open SummaryWriter
    :param hparam_dict: the hyperparameters (str, int, float or bool)
    :param metric_dict: the metrics, ``hparam/<key>`` -> finite float
    """
    from torch.utils.tensorboard.summary import hparams

    exp, ssi, sei = hparams(hparam_dict, metric_dict)
    fw = writer._get_file_writer()
    for s in (exp, ssi, sei):
        fw.add_summary(s)
    for k, v in metric_dict.items():
        writer.add_scalar(k, v, 0)


def _fill_oracle_fraction(rows: list[dict], specs: list[PolicySpec], platform: Platform, scenario: str,
                          env_kwargs: dict, seeds: int, seed: int, oracle: bool) -> None:
    """Set ``oracle_reward_mean`` and ``oracle_reward_fraction`` of every row: against the
    ``oracle`` row if there is one, else against a silent oracle run on the same seeds and
    environment (``oracle=False``: nan).

    :param rows: the policies' summaries, updated in place
    :param specs: the policies, in the order of ``rows``
    :param platform: board profile
    :param scenario: scenario
    :param env_kwargs: the common environment arguments
    :param seeds: number of episodes
    :param seed: first seed
    :param oracle: whether to run the oracle when it is not among the policies
    """
    oracle_reward = next((r["reward_mean"] for r, s in zip(rows, specs) if s.source == "oracle"), None)
    if oracle_reward is None:
        if oracle:
            oracle_env = DynamicDNNEnv(platform=platform, scenario=scenario, **env_kwargs)
            oracle_reward = run_episodes(make_policy("oracle"), oracle_env, seeds, seed)[0]["reward_mean"]
        else:
            oracle_reward = math.nan
    for row in rows:
        row["oracle_reward_mean"] = oracle_reward
        row["oracle_reward_fraction"] = _fraction(row["reward_mean"], oracle_reward)
