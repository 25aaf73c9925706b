"""TensorBoard logging of a rollout, as a :class:`~rlrm.rollout.loop.Callback`.

Every run directory gets the same scalar tags:

* per step (global step ``episode * episode_steps + step``): ``step/latency_ms``,
  ``step/energy_mj``, ``step/power_w``, ``step/accuracy``, ``step/subnet``, ``step/unit``
  (index of the unit in the platform's unit list), ``step/freq_khz/<unit>`` for every unit,
  ``step/target_latency_ms`` (values of the first managed application); on the live backend
  also ``step/energy_estimated`` and ``step/sensor_fault`` (1 when the power is the model's
  estimate; the second when it is because a sensor failed mid-run);
* per episode (step = episode index): ``episode/<key>`` for each key of :data:`EPISODE_KEYS`;
* an hparams entry (:func:`write_hparams`) with the metrics ``hparam/<key>``, so
  TensorBoard's HPARAMS tab is the comparison table.

TensorBoard cannot show inf or nan, so every non-finite value (no deadline: target latency
inf; no inference: energy per inference inf; latency of an inactive application) is written
as :data:`NONFINITE` (-1; all these quantities are otherwise >= 0). The summary files keep
the real values.

torch's ``SummaryWriter`` is imported only by :func:`open_writer` (torch is an optional
dependency of the board runtime).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional, Sequence

from rlrm.policy.base import Policy
from rlrm.env.dynamic_dnn import DynamicDNNEnv
from rlrm.errors import InputError
from rlrm.rollout.loop import Callback, StepRecord
from rlrm.sim.metrics import SUMMARY_KEYS

#: what a non-finite value (inf, nan, missing) is written as in TensorBoard
NONFINITE = -1.0
#: the summary keys logged per episode as ``episode/<key>``
#: (the normalised score needs the random and oracle runs: it is a summary value, not a per-episode one)
EPISODE_KEYS: tuple[str, ...] = tuple(k for k in SUMMARY_KEYS if k != "normalized_score")
#: the per-step info keys logged as ``step/<key>`` (besides ``step/freq_khz/<unit>``)
STEP_KEYS: tuple[str, ...] = ("latency_ms", "energy_mj", "power_w", "accuracy", "subnet", "unit",
                              "target_latency_ms")
#: the live backend's per-step flags, logged as ``step/<key>`` (1.0 or 0.0) when the result has them
LIVE_STEP_KEYS: tuple[str, ...] = ("energy_estimated", "sensor_fault", "thermal_fault")


def finite(value: Any) -> float:
    """``value`` as a float, or :data:`NONFINITE` if it is missing, inf or nan.

    :param value: a number or None
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        return NONFINITE
    return v if math.isfinite(v) else NONFINITE


def clear_run_dir(run_dir: Path, overwrite: bool, hint: str = "use --overwrite or another --logdir") -> None:
    """Refuse a run directory that already holds event files (or delete them with ``overwrite``)."""
    events = sorted(run_dir.glob("events.out.tfevents.*")) if run_dir.is_dir() else []
    if events and not overwrite:
        raise InputError(str(run_dir), "logdir", f"already holds TensorBoard events ({hint})")
    for ev in events:
        ev.unlink()


class NullWriter:
    """Stands in for a ``SummaryWriter`` where torch is missing (a board running ONNX): logs nothing."""

    def add_scalar(self, *args: Any, **kwargs: Any) -> None:
        """Nothing is logged."""

    def flush(self) -> None:
        """Nothing to flush."""

    def close(self) -> None:
        """Nothing to close."""


def open_writer(run_dir: Path, required: bool = True) -> Any:
    """A torch ``SummaryWriter`` writing into ``run_dir`` (created).

    :param required: when False and torch is missing, a :class:`NullWriter` instead of ImportError
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        if required:
            raise
        return NullWriter()
    run_dir.mkdir(parents=True, exist_ok=True)
    return SummaryWriter(log_dir=str(run_dir))


def write_hparams(writer: Any, hparam_dict: dict, metric_dict: dict) -> None:
    """What ``SummaryWriter.add_hparams(..., run_name=".")`` writes, into ``writer``'s own
    event file instead of a second one.

    :param writer: an open SummaryWriter
    :param hparam_dict: the hyperparameters (str, int, float or bool)
    :param metric_dict: the metrics, ``hparam/<key>`` -> finite float
    """
    if isinstance(writer, NullWriter):
        return
    from torch.utils.tensorboard.summary import hparams

    exp, ssi, sei = hparams(hparam_dict, metric_dict)
    fw = writer._get_file_writer()  # torch has no public way to write into the run's own file
    for s in (exp, ssi, sei):
        fw.add_summary(s)
    for k, v in metric_dict.items():
        writer.add_scalar(k, v, 0)


class TensorBoardCallback(Callback):
    """Per-step and per-episode scalars of a rollout into an open ``SummaryWriter``, and the
    steps of episode ``keep_episode`` kept in :attr:`series` for the time-series figure.

    :param writer: an open SummaryWriter
    :param keep_episode: the episode whose steps are kept (None: none, for runs of unbounded
        length such as ``rlrm run``)
    :param episode_keys: the summary keys logged per episode as ``episode/<key>``
    """

    def __init__(self, writer: Any, keep_episode: Optional[int] = 0,
                 episode_keys: Sequence[str] = EPISODE_KEYS) -> None:
        self.writer = writer
        self.keep_episode = keep_episode
        self.episode_keys = tuple(episode_keys)
        self.series: list[dict] = []
        self.units: list[str] = []
        self.sim_units: list[str] = []
        self.episode_steps = 1

    def on_rollout_start(self, env: DynamicDNNEnv, policy: Policy) -> None:
        self.units = list(env.platform.units)
        self.sim_units = list(env.sim.unit_names)
        self.episode_steps = int(env.episode_steps)

    def on_step(self, record: StepRecord) -> bool:
        info, writer = record.info, self.writer
        gstep = record.episode * self.episode_steps + record.step
        unit = info.get("unit")
        values = {k: info.get(k) for k in STEP_KEYS}
        values["unit"] = self.units.index(unit) if unit in self.units else None
        for k, v in values.items():
            writer.add_scalar(f"step/{k}", finite(v), gstep)
        result = record.result
        for key in LIVE_STEP_KEYS:
            if key in result:
                writer.add_scalar(f"step/{key}", float(bool(result[key])), gstep)
        for u, f in zip(self.sim_units, result.freq_khz):
            writer.add_scalar(f"step/freq_khz/{u}", finite(f), gstep)
        if record.episode == self.keep_episode:
            self.series.append({"step": record.step, "latency_ms": info.get("latency_ms"),
                                "target_latency_ms": info.get("target_latency_ms"),
                                "subnet": info.get("subnet"), "unit": unit, "freq_khz": info.get("freq_khz"),
                                "accuracy": info.get("accuracy"), "reward": record.reward,
                                "power_budget_w": info.get("power_budget_w"),
                                "apps": [None if a is None else {"latency_ms": a.latency_ms, "subnet": a.subnet,
                                                                 "unit": a.unit, "freq_khz": a.freq_khz}
                                         for a in result.apps]})
        return True

    def on_episode_end(self, episode: int, summary: dict) -> None:
        for key in self.episode_keys:
            self.writer.add_scalar(f"episode/{key}", finite(summary.get(key)), episode)
