"""The metrics every part of rlrm reports, under the same names.

Simulator, live backend, baselines, ``rlrm evaluate`` and TensorBoard all use these names:
``energy_per_inference_mj``, ``latency_mean_ms``, ``latency_p95_ms``, ``deadline_miss_rate``,
``accuracy_mean``, ``power_violation_rate``, ``energy_violation_rate``, ``power_mean_w``,
``inferences``; and ``sensor_fault_steps``, the steps whose power came from the power
model because a sensor the live backend was reading vanished or returned garbage (0 in
simulation).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from rlrm.sim.result import StepResult

#: keys of the summary ``rlrm evaluate`` prints and writes (and ``rlrm compare`` tabulates), in order
SUMMARY_KEYS = ("energy_per_inference_mj", "latency_mean_ms", "latency_p95_ms", "deadline_miss_rate",
                "accuracy_mean", "power_violation_rate", "energy_violation_rate", "power_mean_w",
                "reward_mean", "normalized_score")


class MetricsAccumulator:
    """Accumulates step results (the :class:`rlrm.sim.StepResult` every backend's ``step`` returns).

    Latency statistics are weighted by the inferences of each step, so they are per
    inference, not per step (the deadline-miss rate per frame: frames a bounded queue dropped
    count as misses); energy per inference is the board's energy over the
    inferences of the managed (controlled) applications. Uncontrolled applications (a
    scenario's "second app") load the board but are not counted as the manager's work.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._lat: list[float] = []
        self._w: list[float] = []
        self._miss = 0.0
        self._frames = 0.0  # inferences plus frames dropped (the deadline-miss rate's denominator)
        self._acc = 0.0
        self._inf = 0.0
        self._energy = 0.0
        self._power: list[float] = []
        self._pviol = 0
        self._eviol = 0
        self._steps = 0
        self._sensor_fault = 0
        self._reward: list[float] = []

    def add(self, result: StepResult, reward: Optional[float] = None) -> None:
        """Add one step's result (and the reward it earned, if any)."""
        self._steps += 1
        if result.sensor_fault:
            self._sensor_fault += 1
        self._energy += result.energy_mj
        self._power.append(result.power_w)
        targets = result.targets
        if result.power_w > targets.power_w:
            self._pviol += 1
        step_inf = step_frames = 0.0
        for app in result.apps:
            if app is None or not app.controlled:
                continue
            n = app.inferences
            step_inf += n
            self._lat.append(app.latency_ms)
            self._w.append(n)
            # a frame-driven app's miss fraction covers its dropped frames too
            frames = n + app.dropped if app.dropped else n
            step_frames += frames
            self._miss += app.deadline_miss * frames
            self._acc += app.accuracy * n
        self._inf += step_inf
        self._frames += step_frames
        if step_inf > 0 and result.energy_mj / step_inf > targets.energy_mj:
            self._eviol += 1
        if reward is not None:
            self._reward.append(float(reward))

    def summary(self) -> dict:
        """The aggregate metrics."""
        inf = self._inf
        lat = np.asarray(self._lat)
        w = np.asarray(self._w)
        if inf > 0:
            mean = float((lat * w).sum() / w.sum())
            order = np.argsort(lat)
            cum = np.cumsum(w[order]) / w.sum()
            p95 = float(lat[order][min(int(np.searchsorted(cum, 0.95)), len(lat) - 1)])
        else:
            mean = p95 = math.nan
        out = {
            "steps": self._steps,
            "inferences": inf,
            "energy_mj": self._energy,
            "energy_per_inference_mj": self._energy / inf if inf > 0 else math.inf,
            "latency_mean_ms": mean,
            "latency_p95_ms": p95,
            "deadline_miss_rate": self._miss / self._frames if self._frames > 0 else math.nan,
            "accuracy_mean": self._acc / inf if inf > 0 else math.nan,
            "power_mean_w": float(np.mean(self._power)) if self._power else math.nan,
            "power_violation_rate": self._pviol / self._steps if self._steps else math.nan,
            "energy_violation_rate": self._eviol / self._steps if self._steps else math.nan,
            "sensor_fault_steps": self._sensor_fault,
        }
        if self._reward:
            out["reward_mean"] = float(np.mean(self._reward))
        return out
