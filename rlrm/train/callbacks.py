"""Training callbacks: domain metrics in TensorBoard, atomic periodic checkpoints."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
from sb3_contrib.common.maskable.callbacks import MaskableEvalCallback
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecNormalize

from rlrm.atomic import atomic_remove_dir, atomic_replace_dir, atomic_write_bytes, make_staging_dir, remove_temporaries
from rlrm.metrics import MetricsAccumulator
from rlrm.policy.spec import Normalization, read_obs_norm, write_obs_norm
from rlrm.train.api import Evaluation

#: the domain metrics logged under ``rlrm/`` (names as in ``rlrm evaluate``)
DOMAIN_KEYS = ("energy_per_inference_mj", "latency_mean_ms", "latency_p95_ms", "deadline_miss_rate",
               "accuracy_mean", "power_violation_rate", "reward_mean")


class DomainMetricsCallback(BaseCallback):
    """Logs the episodes' energy per inference, latency, deadline-miss rate, accuracy, power
    violations and reward to TensorBoard under ``rlrm/`` at the end of each rollout."""

    def _on_training_start(self) -> None:
        self._acc = [MetricsAccumulator() for _ in range(self.training_env.num_envs)]
        self._done: list[dict] = []

    def _on_step(self) -> bool:
        infos = self.locals["infos"]
        rewards = self.locals["rewards"]
        dones = self.locals["dones"]
        for i, info in enumerate(infos):
            if "result" in info:
                self._acc[i].add(info["result"], float(rewards[i]))
            if dones[i]:
                self._done.append(self._acc[i].summary())
                self._acc[i].reset()
        return True

    def _on_rollout_end(self) -> None:
        if not self._done:
            return
        for key in DOMAIN_KEYS:
            values = [d[key] for d in self._done if key in d and np.isfinite(d[key])]
            if values:
                self.logger.record(f"rlrm/{key}", float(np.mean(values)))
        self._done.clear()


class EvalLogCallback(BaseCallback):
    """Run after each evaluation: appends ``{timesteps, wall_s, mean_reward}`` to a JSONL
    file, so time-to-quality can be read off a run (``experiments/bench_train.py``).

    :param path: the JSONL file
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        self._t0 = time.time()  # created right before learning starts

    def _on_step(self) -> bool:
        parent = self.parent
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as fh:
            fh.write(json.dumps({"timesteps": int(self.num_timesteps), "wall_s": round(time.time() - self._t0, 2),
                                 "mean_reward": float(parent.last_mean_reward)}) + "\n")
        return True


def write_obs_norm_of(venv: Optional[VecNormalize], path: Path) -> None:
    """Write a VecNormalize's observation statistics as ``obs_norm.npz`` (no pickle); nothing
    when normalisation is off."""
    if venv is not None:
        write_obs_norm(path, Normalization.from_vec_normalize(venv))


def load_obs_norm(path: Path, venv: VecNormalize) -> None:
    """Restore statistics written by :func:`write_obs_norm_of` into ``venv``."""
    norm = read_obs_norm(path)
    venv.obs_rms.mean = norm.mean.copy()
    venv.obs_rms.var = norm.var.copy()
    venv.obs_rms.count = norm.count


def write_snapshot(model, venv: Optional[VecNormalize], folder: Path) -> Path:  # noqa: ANN001
    """Write ``model.zip`` and ``obs_norm.npz`` into ``folder`` atomically as a pair."""
    folder = Path(folder)
    staging = make_staging_dir(folder)
    buf = io.BytesIO()
    model.save(buf)
    atomic_write_bytes(staging / "model.zip", buf.getvalue())
    write_obs_norm_of(venv, staging / "obs_norm.npz")
    (staging / "COMPLETE").write_text(f"{model.num_timesteps}\n")
    return atomic_replace_dir(staging, folder)


class AtomicCheckpointCallback(BaseCallback):
    """Every ``save_freq`` calls, a complete checkpoint ``checkpoints/step_<N>/`` (model and
    normalisation written together, atomically); keeps the ``keep`` newest (older ones are
    removed atomically too: a crash while pruning leaves no partly deleted checkpoint).

    :param save_freq: calls (vectorised steps) between checkpoints
    :param folder: the run's ``checkpoints`` folder
    :param venv: the VecNormalize wrapper whose statistics go with the model
    :param keep: how many checkpoints to keep
    """

    def __init__(self, save_freq: int, folder: Path, venv: Optional[VecNormalize], keep: int = 3) -> None:
        super().__init__()
        self.save_freq = max(1, int(save_freq))
        self.folder = Path(folder)
        self.venv = venv
        self.keep = keep

    def _on_step(self) -> bool:
        if self.n_calls % self.save_freq == 0:
            write_snapshot(self.model, self.venv, self.folder / f"step_{self.num_timesteps:09d}")
            done = sorted(p for p in self.folder.glob("step_*") if (p / "COMPLETE").exists())
            for old in done[:-self.keep]:
                atomic_remove_dir(old)
        return True


def write_final(model, venv: Optional[VecNormalize], run_dir: Path) -> Path:  # noqa: ANN001
    """The run's final ``model.zip`` and ``obs_norm.npz`` at its top level; the ``COMPLETE``
    marker is removed first and written last, so a crash in between leaves no pair that
    looks complete (``--resume`` then takes the last checkpoint)."""
    run_dir = Path(run_dir)
    (run_dir / "COMPLETE").unlink(missing_ok=True)
    buf = io.BytesIO()
    model.save(buf)
    atomic_write_bytes(run_dir / "model.zip", buf.getvalue())
    write_obs_norm_of(venv, run_dir / "obs_norm.npz")
    atomic_write_bytes(run_dir / "COMPLETE", f"{model.num_timesteps}\n".encode())
    return run_dir


def remove_interrupted_writes(run_dir: Path) -> list[Path]:
    """Delete what a killed run left of the writes it was in the middle of (temporary files,
    unpublished or half-removed checkpoint folders) in ``run_dir`` and its ``checkpoints``;
    never a snapshot. Returns what was deleted. Only while no other process trains this run."""
    run_dir = Path(run_dir)
    return [*remove_temporaries(run_dir), *remove_temporaries(run_dir / "checkpoints")]


def trim_jsonl_log(path: Path, max_timesteps: int) -> int:
    """Make an append-only JSON-lines log fit a resume from ``max_timesteps``: drop a last line
    a kill cut short, and the entries of steps after ``max_timesteps`` (training that was lost
    with the process and will be done again). Rewritten atomically; returns the lines dropped."""
    path = Path(path)
    if not path.is_file():
        return 0
    lines = path.read_bytes().split(b"\n")
    kept: list[bytes] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:  # half a line (a kill mid-append): nothing after it was written
            continue
        if isinstance(entry, dict) and int(entry.get("timesteps", 0)) > max_timesteps:
            continue
        kept.append(line)
    dropped = sum(1 for line in lines if line.strip()) - len(kept)
    if dropped:
        atomic_write_bytes(path, b"".join(line + b"\n" for line in kept))
    return dropped


def latest_snapshot(run_dir: Path) -> Optional[Path]:
    """The newest complete snapshot of a run: the final one or the last checkpoint."""
    candidates = []
    for folder in [run_dir, *sorted((run_dir / "checkpoints").glob("step_*"))]:
        marker = folder / "COMPLETE"
        if marker.exists() and (folder / "model.zip").exists():
            try:
                candidates.append((int(marker.read_text().strip()), folder == run_dir, folder))
            except ValueError:
                continue
    return max(candidates)[2] if candidates else None  # the final one wins a tie


class HParamsCallback(BaseCallback):
    """Writes the run's hyperparameters once, at the start, as a TensorBoard hparams record
    (the HPARAMS tab compares runs on ``eval/mean_reward`` and ``rlrm/reward_mean``).

    :param hparams: flat scalar hyperparameters (:func:`rlrm.train.api.hparams_of`)
    """

    def __init__(self, hparams: dict) -> None:
        super().__init__()
        self.hparams = hparams

    def _on_training_start(self) -> None:
        from stable_baselines3.common.logger import HParam

        metrics = {"eval/mean_reward": 0.0, "rlrm/reward_mean": 0.0}  # the tags the tab reads from the run
        self.logger.record("hparams", HParam(self.hparams, metrics), exclude=("stdout", "log", "json", "csv"))

    def _on_step(self) -> bool:
        return True


class ReportingEvalCallback(MaskableEvalCallback):
    """MaskableEvalCallback that also measures the evaluation episodes' domain metrics (logged
    under ``eval/rlrm/``), keeps the curve, and calls ``listeners`` with an
    :class:`rlrm.train.api.Evaluation` after every evaluation; a listener returning ``False``
    stops training (``stopped`` is then set).

    :param eval_env: the evaluation environment
    :param listeners: callables taking an ``Evaluation``
    """

    def __init__(self, eval_env, listeners: Sequence[Callable] = (), **kwargs) -> None:  # noqa: ANN001
        super().__init__(eval_env, **kwargs)
        self.listeners = list(listeners)
        self.curve: list = []
        self.stopped = False
        self._t0 = time.time()
        self._acc = MetricsAccumulator()
        self._episodes: list[dict] = []

    def _on_training_start(self) -> None:
        self._t0 = time.time()

    def _log_success_callback(self, locals_: dict, globals_: dict) -> None:
        super()._log_success_callback(locals_, globals_)
        info = locals_.get("info") or {}
        if "result" in info:
            self._acc.add(info["result"], float(locals_.get("reward", 0.0)))
        if locals_.get("done"):
            self._episodes.append(self._acc.summary())
            self._acc.reset()

    def _on_step(self) -> bool:
        if self.eval_freq > 0 and self.n_calls % self.eval_freq == 0:
            return self.evaluate_now()
        return True

    def evaluate_now(self) -> bool:
        """Evaluate at the current step (also after training, for the last step)."""
        self._acc.reset()
        self._episodes = []
        period, self.eval_freq = self.eval_freq, 1  # the parent evaluates when n_calls % eval_freq == 0
        try:
            go_on = super()._on_step()
        finally:
            self.eval_freq = period
        metrics = {}
        for key in DOMAIN_KEYS:
            values = [d[key] for d in self._episodes if key in d and np.isfinite(d[key])]
            if values:
                metrics[key] = float(np.mean(values))
                self.logger.record(f"eval/rlrm/{key}", metrics[key])
        self.logger.dump(self.num_timesteps)
        evaluation = Evaluation(step=int(self.num_timesteps), mean_reward=float(self.last_mean_reward),
                                metrics=metrics, wall_s=round(time.time() - self._t0, 2))
        self.curve.append(evaluation)
        for listener in self.listeners:
            if listener(evaluation) is False:
                self.stopped = True
                go_on = False
        return bool(go_on)
