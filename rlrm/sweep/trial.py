"""One sweep trial: :func:`rlrm.train.train` inside a Ray Tune trial.

The trial trains in ``<trial dir>/run`` (an ordinary run folder: ``rlrm export``,
``rlrm evaluate`` and TensorBoard read it as any other), reports every evaluation to Tune
(``step``, ``eval_reward``, ``best_reward`` and the domain metrics, so a scheduler such as
ASHA can stop it early), and registers a checkpoint with Tune whenever the run has written a
new one (the run's own snapshot plus ``config.yaml`` and ``env.json``). A trial Tune restores
continues the run from its last snapshot; one whose run folder is gone (another node) rebuilds
it from the checkpoint Tune hands back.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping, Optional

from rlrm.train.api import Evaluation, train

#: the metric trials report and the sweep optimises (mean evaluation reward, higher is better)
METRIC = "eval_reward"
#: the x axis of the reports (environment steps), what ASHA counts
TIME_ATTR = "step"
#: files a Tune checkpoint holds besides the model snapshot, to rebuild a run folder from it
RUN_FILES = ("config.yaml", "env.json")


def trial_dir() -> Path:
    """This trial's directory in the sweep's storage (``DIR/sweep/<trial>``)."""
    from ray import tune

    context = tune.get_context()
    try:  # the storage path (shared by every node of a cluster), not the node-local staging copy
        storage = context.get_storage()
        import pyarrow.fs

        if isinstance(storage.storage_filesystem, pyarrow.fs.LocalFileSystem):
            return Path(storage.trial_fs_path)
    except Exception:  # noqa: BLE001 - an API change: fall back to Tune's trial directory
        pass
    return Path(context.get_trial_dir())


def best_so_far(run_dir: Path) -> Optional[float]:
    """The best mean reward in the run's evaluation log (all evaluations, across resumes)."""
    log = run_dir / "eval" / "eval_log.jsonl"
    best = None
    if log.is_file():
        for line in log.read_text().splitlines():
            try:
                value = float(json.loads(line)["mean_reward"])
            except (ValueError, KeyError, TypeError):
                continue
            best = value if best is None else max(best, value)
    return best


def _checkpoint_of(run_dir: Path, snapshot: Path):  # noqa: ANN202
    """A Tune checkpoint holding ``snapshot`` (model, normalisation, COMPLETE) and the run files."""
    from ray import tune

    staging = Path(tempfile.mkdtemp(prefix="rlrm-ckpt-"))
    for f in snapshot.iterdir():
        if f.is_file():
            shutil.copy2(f, staging / f.name)
    for name in RUN_FILES:
        shutil.copy2(run_dir / name, staging / name)
    return tune.Checkpoint.from_directory(str(staging))


def _rebuild_run(run_dir: Path, checkpoint) -> None:  # noqa: ANN001
    """Make ``run_dir`` resumable from a Tune checkpoint (when the node that trained it is gone)."""
    with checkpoint.as_directory() as folder:
        folder = Path(folder)
        steps = int((folder / "COMPLETE").read_text().strip())
        target = run_dir / "checkpoints" / f"step_{steps:09d}"
        target.mkdir(parents=True, exist_ok=True)
        for f in folder.iterdir():
            if f.name in RUN_FILES:
                if not (run_dir / f.name).exists():
                    shutil.copy2(f, run_dir / f.name)
            elif f.is_file():
                shutil.copy2(f, target / f.name)


def run_trial(params: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
    """The Tune trainable: train one run with ``params`` (platform, scenario, seed,
    hyperparameters), reporting to Tune.

    :param params: the trial's sample of the search space
    :param settings: the sweep's fixed settings (``config``, ``timesteps``, ``eval_scenarios``)
    """
    from ray import tune

    from rlrm.train.callbacks import latest_snapshot  # stable-baselines3: in the trial only

    cpu0 = time.process_time()
    run_dir = trial_dir() / "run"
    timesteps = int(settings["timesteps"])
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None and latest_snapshot(run_dir) is None:
        _rebuild_run(run_dir, checkpoint)
    resume = run_dir if (run_dir / "config.yaml").exists() and latest_snapshot(run_dir) is not None else None
    if resume is None and run_dir.exists():
        shutil.rmtree(run_dir)  # started but never reached a snapshot: start again
    state = {"reported": latest_snapshot(run_dir) if resume else None}
    fixed = {"platform": params["platform"], "scenario": params["scenario"], "seed": int(params["seed"])}

    def metrics_of(evaluation: Evaluation) -> dict:
        best = best_so_far(run_dir)
        return {TIME_ATTR: evaluation.step, METRIC: evaluation.mean_reward,
                "best_reward": evaluation.mean_reward if best is None else max(best, evaluation.mean_reward),
                **evaluation.metrics, **fixed}

    def report(evaluation: Evaluation) -> None:
        if evaluation.step >= timesteps:
            return  # the last evaluation is reported with the final model, below
        snapshot = latest_snapshot(run_dir)
        if snapshot is not None and snapshot != state["reported"]:
            state["reported"] = snapshot
            _report_with(metrics_of(evaluation), run_dir, snapshot)
        else:
            tune.report(metrics_of(evaluation))

    result = train(platform=params["platform"], scenario=params["scenario"],
                   hyperparameters=dict(params.get("hyperparameters") or {}), timesteps=timesteps,
                   seed=int(params["seed"]), config=settings["config"], eval_scenarios=settings.get("eval_scenarios"),
                   run_dir=run_dir, resume=resume, callbacks=[report])
    final = result.curve[-1] if result.curve else _last_logged(run_dir, result.timesteps)
    _report_with({**metrics_of(final), "finished": True, "run_dir": str(result.run_dir),
                  "cpu_s": round(time.process_time() - cpu0, 2)}, run_dir, run_dir)


def _report_with(metrics: dict, run_dir: Path, snapshot: Path) -> None:
    """Report ``metrics`` to Tune with a checkpoint of ``snapshot`` (Tune copies it to storage)."""
    from ray import tune

    checkpoint = _checkpoint_of(run_dir, snapshot)
    try:
        tune.report(metrics, checkpoint=checkpoint)
    finally:
        shutil.rmtree(checkpoint.path, ignore_errors=True)


def _last_logged(run_dir: Path, step: int):  # noqa: ANN202
    """The run's last logged evaluation (a restored trial whose run had already finished)."""
    log = run_dir / "eval" / "eval_log.jsonl"
    lines = log.read_text().splitlines() if log.is_file() else []
    for line in reversed(lines):
        try:
            entry = json.loads(line)
            return Evaluation(step=int(entry["timesteps"]), mean_reward=float(entry["mean_reward"]))
        except (ValueError, KeyError, TypeError):
            continue
    return Evaluation(step=step, mean_reward=float("nan"))
