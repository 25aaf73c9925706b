"""A sweep: many :func:`rlrm.train.train` runs as Ray Tune trials, then a summary.

``DIR`` (``--logdir``) holds everything::

    DIR/sweep.json              the sweep's settings (what --resume re-reads)
    DIR/sweep/                  Tune's experiment (state, one folder per trial)
    DIR/sweep/<trial>/run/      the trial's run folder (rlrm export / evaluate / TensorBoard)
    DIR/summary.md, summary.json  every trial: board, scenario, seed, hyperparameters,
                                final and best reward, wall time, status

Ray starts locally with ``num_cpus`` CPUs unless ``address`` names a running cluster.
Each trial takes one CPU (its environments step in one process). ``--resume DIR`` is
Tune's restore: finished trials are kept, unfinished ones continue from their last checkpoint.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Optional, Sequence

from rlrm.atomic import atomic_write_bytes
from rlrm.env import DynamicDNNEnv
from rlrm.errors import InputError
from rlrm.sweep.space import param_space
from rlrm.sweep.trial import METRIC, TIME_ATTR, run_trial
from rlrm.train.api import choose_scenarios, resolve_hyperparameters

#: Tune's experiment folder name inside DIR
EXPERIMENT = "sweep"
SETTINGS = "sweep.json"
SCHEDULERS = ("fifo", "asha")


def _absolute(value: str) -> str:
    """A path the trials can open from their own working directory (names stay names)."""
    return str(Path(value).resolve()) if Path(value).exists() else value


def make_settings(platforms: Sequence[str], scenario: str, config: str, search: dict, num_samples: int,
                  timesteps: int, scheduler: str, eval_scenarios: Optional[Sequence[str]] = None,
                  search_seed: int = 0) -> dict:
    """The sweep's settings as data (saved as ``DIR/sweep.json`` for ``--resume``)."""
    if num_samples < 1:
        raise InputError("--num-samples", "num_samples", "must be >= 1")
    if timesteps < 1:
        raise InputError("--timesteps", "timesteps", "must be >= 1")
    if scheduler not in SCHEDULERS:
        raise InputError("--scheduler", "scheduler", f"expected one of {', '.join(SCHEDULERS)}")
    return {"platforms": [_absolute(p) for p in platforms], "scenario": _absolute(scenario),
            "config": _absolute(config), "search": search, "num_samples": int(num_samples),
            "timesteps": int(timesteps), "scheduler": scheduler,
            "eval_scenarios": [_absolute(s) for s in eval_scenarios] if eval_scenarios else None,
            "search_seed": int(search_seed)}


def trial_dirname(trial) -> str:  # noqa: ANN001
    """A trial's folder name: ``trial_<id>`` (Tune's default repeats every hyperparameter)."""
    return f"trial_{trial.trial_id}"


def check_inputs(settings: dict) -> None:
    """Every board and scenario the sweep can draw, checked before Ray starts (an
    :class:`InputError` here rather than every trial failing on a cluster)."""
    def values(key: str, default: list) -> list:
        spec = settings["search"].get(key)
        if isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in ("grid", "choice"):
            return list(next(iter(spec.values())))
        return [spec] if spec is not None else default

    for platform in values("platform", settings["platforms"]):
        cfg = resolve_hyperparameters(settings["config"], None, platform)
        for scenario in values("scenario", [settings["scenario"]]):
            train_sc, eval_sc, _ = choose_scenarios(scenario, cfg, settings.get("eval_scenarios"))
            for scenarios in (train_sc, eval_sc):
                DynamicDNNEnv(platform=platform, scenario=scenarios, units=cfg.get("units"),
                              episode_steps=cfg.get("episode_steps"), reward_weights=cfg.get("reward_weights"))


def _trainable(settings: dict):  # noqa: ANN202
    from ray import tune

    fixed = {k: settings[k] for k in ("config", "timesteps", "eval_scenarios")}
    return tune.with_resources(tune.with_parameters(run_trial, settings=fixed), {"cpu": 1})


def _scheduler(settings: dict):  # noqa: ANN202
    if settings["scheduler"] != "asha":
        return None
    from ray.tune.schedulers import ASHAScheduler

    timesteps = settings["timesteps"]
    return ASHAScheduler(time_attr=TIME_ATTR, max_t=timesteps, grace_period=max(1, timesteps // 8),
                         reduction_factor=2)


def _init_ray(num_cpus: Optional[int], address: Optional[str]) -> None:
    import ray

    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    if address:
        ray.init(address=address, ignore_reinit_error=True)
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False, ignore_reinit_error=True)


def run_sweep(logdir: str, settings: Optional[dict] = None, resume: bool = False, num_cpus: Optional[int] = None,
              address: Optional[str] = None, verbose: int = 1) -> list[dict]:
    """Run (or, with ``resume``, continue) a sweep in ``logdir``; returns the summary rows."""
    import ray
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    root = Path(logdir).resolve()
    experiment = root / EXPERIMENT
    if resume:
        settings = read_settings(root)
        if not tune.Tuner.can_restore(str(experiment)):
            raise InputError(root, EXPERIMENT, "no Ray Tune experiment to resume here")
    else:
        assert settings is not None
        if (root / SETTINGS).exists() or experiment.exists():
            raise InputError(root, SETTINGS, "a sweep exists here already: use --resume DIR or another --logdir")
        check_inputs(settings)
        root.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(root / SETTINGS, (json.dumps(settings, indent=2) + "\n").encode())
    _init_ray(num_cpus, address)
    try:
        if resume:
            tuner = tune.Tuner.restore(str(experiment), trainable=_trainable(settings), resume_errored=True)
        else:
            space = param_space(settings["search"], settings["platforms"], settings["scenario"])
            tuner = tune.Tuner(
                _trainable(settings), param_space=space,
                tune_config=tune.TuneConfig(metric=METRIC, mode="max", num_samples=settings["num_samples"],
                                            scheduler=_scheduler(settings), trial_dirname_creator=trial_dirname,
                                            search_alg=BasicVariantGenerator(random_state=settings["search_seed"])),
                run_config=tune.RunConfig(name=EXPERIMENT, storage_path=str(root), verbose=verbose,
                                          checkpoint_config=tune.CheckpointConfig(num_to_keep=2)))
        grid = tuner.fit()
        rows = summarize(grid, settings["timesteps"])
    finally:
        ray.shutdown()
    write_summary(root, rows)
    return rows


def read_settings(root: Path) -> dict:
    """``DIR/sweep.json``, as :func:`make_settings` wrote it."""
    path = Path(root) / SETTINGS
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(path, "<file>", "no such file: not a sweep folder (rlrm sweep --logdir DIR)") from None
    except (OSError, ValueError) as err:
        raise InputError(path, "<json>", f"cannot read: {err}") from None
    for key in ("platforms", "scenario", "config", "search", "num_samples", "timesteps", "scheduler"):
        if key not in data:
            raise InputError(path, key, "missing required field")
    return data


def _number(value: Any) -> Optional[float]:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def summarize(grid, timesteps: int) -> list[dict]:  # noqa: ANN001
    """One row per trial of a Tune ``ResultGrid``."""
    rows = []
    for result in grid:
        metrics = result.metrics or {}
        config = result.config or {}
        if result.error is not None:
            status = "error"
        elif metrics.get("finished"):
            status = "finished"
        elif metrics.get("done") and int(metrics.get(TIME_ATTR) or 0) < timesteps:
            status = "stopped early"
        else:
            status = "interrupted"
        path = Path(result.path) if result.path else None
        rows.append({
            "trial": metrics.get("trial_id") or (path.name if path else "?"),
            "status": status, "platform": config.get("platform"), "scenario": config.get("scenario"),
            "seed": config.get("seed"), "hyperparameters": config.get("hyperparameters") or {},
            "steps": metrics.get(TIME_ATTR), "final_reward": _number(metrics.get(METRIC)),
            "best_reward": _number(metrics.get("best_reward")), "wall_s": _number(metrics.get("time_total_s")),
            "cpu_s": _number(metrics.get("cpu_s")),
            "run_dir": str(path / "run") if path else None,
            "error": str(result.error).splitlines()[0] if result.error is not None else None})
    rows.sort(key=lambda r: (r["final_reward"] is None, -(r["final_reward"] or 0.0)))
    return rows


def best_row(rows: list[dict]) -> Optional[dict]:
    """The finished trial with the highest final reward."""
    done = [r for r in rows if r["status"] == "finished" and r["final_reward"] is not None]
    return max(done, key=lambda r: r["final_reward"]) if done else None


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def write_summary(root: Path, rows: list[dict]) -> None:
    """``DIR/summary.json`` (every row) and ``DIR/summary.md`` (a table, best first)."""
    best = best_row(rows)
    atomic_write_bytes(root / "summary.json", (json.dumps({"trials": rows, "best": best and best["trial"]},
                                                          indent=2) + "\n").encode())
    hp_keys = sorted({k for r in rows for k in r["hyperparameters"]})
    head = ["trial", "status", "platform", "scenario", "seed", *hp_keys, "steps", "final reward", "best reward",
            "wall s"]
    lines = ["# rlrm sweep", "", f"{len(rows)} trials, "
             f"{sum(r['status'] == 'finished' for r in rows)} finished; best: {best['trial'] if best else '-'} "
             f"(run folder `{best['run_dir'] if best else '-'}`)", "",
             "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in rows:
        cells = [r["trial"], r["status"], r["platform"], r["scenario"], r["seed"],
                 *[r["hyperparameters"].get(k) for k in hp_keys], r["steps"], r["final_reward"], r["best_reward"],
                 r["wall_s"]]
        lines.append("| " + " | ".join(_fmt(c) for c in cells) + " |")
    atomic_write_bytes(root / "summary.md", ("\n".join(lines) + "\n").encode())
