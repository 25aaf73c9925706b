"""The trace-driven board simulator.

Time-stepped and deterministic for a seed. One :meth:`BoardSimulator.step` advances one
control period: every active DNN application runs inferences of its chosen subnetwork on its
chosen unit, core count and frequency; background workloads occupy CPU cores and GPU time;
latency stretches under contention; power and energy integrate per unit, idle units
included; targets and the power mode follow the scenario's schedule.

Model (all documented in ``envs/README.md``):

* latency at frequency ``f``: the trace's ``t(f)`` (compute-bound share scales with
  ``f_max / f``), times a per-step log-normal factor from the trace's p90 spread;
* CPU contention: ``n`` DNN threads plus ``b`` other busy threads on ``c`` online cores run
  at ``min(1, c / (n + b))`` of a core each (CFS fair share), and shared-memory interference
  adds ``MEM_INTERFERENCE * other_load / c``;
* GPU contention: time slicing, ``latency * (1 + g)`` where ``g`` is the GPU time share
  used by other work;
* power per unit: ``static * V / V_max + ceff * V^2 * f * activity`` (see
  :class:`rlrm.platform.ComputeUnit`), the board's base power on top;
* units no application uses follow schedutil's rule ``f = 1.25 * f_max * util`` (what the
  kernel would do with their background load);
* deadline misses: each inference's latency is log-normal around the step's median with the
  trace's spread; the step reports the fraction of inferences that miss the deadline.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

from rlrm.platform.profile import Platform
from rlrm.sim.backend import Backend, Plan
from rlrm.sim.model import BoardModel
from rlrm.sim.result import INF, OperatingPoint, StepResult, Targets
from rlrm.sim.scenario import Scenario

__all__ = ["BoardSimulator", "OperatingPoint", "StepResult", "Targets", "MEM_INTERFERENCE", "GPU_SHARE_CAP"]

#: extra latency per unit of other load on the same CPU cluster (shared L2 / memory), estimated
MEM_INTERFERENCE = 0.1
#: GPU time share above which other work is taken to saturate the GPU
GPU_SHARE_CAP = 0.95
_SQRT2 = math.sqrt(2.0)


class BoardSimulator(Backend):
    """Simulates one board running DNN applications next to background workloads (the ``sim``
    backend).

    :param platform: the board profile
    :param scenario: the workload scenario
    :param traces: one trace per library the scenario's applications use; loaded from
        ``envs/traces/<board>/<library>.json`` when not given
    :param seed: seed of the random generator (background Markov chains, latency noise)
    :param period_s: control period; the scenario's when None
    :param board: a :class:`BoardModel` already built for this platform and scenario (then
        ``traces`` and ``period_s`` are its own)
    """

    name = "sim"

    def __init__(self, platform: Platform, scenario: Scenario, traces: Optional[dict] = None,
                 seed: Optional[int] = None, period_s: Optional[float] = None,
                 board: Optional[BoardModel] = None) -> None:
        super().__init__(board or BoardModel(platform, scenario, traces=traces, period_s=period_s), seed)
        self.reset(seed)

    def preview(self, points: Sequence[Optional[OperatingPoint]]) -> StepResult:
        """What :meth:`step` would return for ``points``, without advancing (for the oracle)."""
        return self.execute(self.plan(points))

    def execute(self, plan: Plan) -> StepResult:
        """The model of one control period at ``plan`` (see the module's docstring)."""
        board = self.board
        units = board.units
        opt_unit, opt_cores = board.option_unit, board.option_cores
        period = self.period_s
        pts, active, online, freq_idx = plan.points, plan.active, plan.online, plan.freq_index
        lat_scale = self.latency_scale

        # pass 1: uncontended busy share of each app; pass 2: latency under contention
        bg = self.pending_background
        lat0 = [0.0] * len(pts)
        app_busy = [0.0] * len(pts)
        demand = [0.0] * len(units)  # other-load bookkeeping: CPU threads' busy, GPU share
        for a_i, p in enumerate(pts):  # the active apps' points (inactive ones keep 0)
            if active[a_i]:
                u = opt_unit[p.option]
                lat0[a_i] = board.latency_ms[a_i][p.subnet][p.option][freq_idx[u]] * lat_scale
                app_busy[a_i] = board.busy_share(a_i, lat0[a_i])
                demand[u] += app_busy[a_i] * (opt_cores[p.option] if units[u].kind == "cpu" else 1.0)

        tally = self.tally()
        deadline = self.targets.latency_ms
        for a_i, p, u, unit in self.running(plan, tally):
            cores = opt_cores[p.option]
            mine = app_busy[a_i] * (cores if unit.kind == "cpu" else 1.0)
            other = bg[u] + demand[u] - mine
            if unit.kind == "cpu":
                c = online[u]
                stretch = max(1.0, (cores + other) / c) * (1.0 + MEM_INTERFERENCE * min(other, c) / c)
            else:
                stretch = 1.0 + min(other, GPU_SHARE_CAP)
            sigma = board.sigma[a_i][p.subnet][p.option]
            median = lat0[a_i] * stretch
            busy = board.busy_share(a_i, median)
            n_inf = busy * period * 1000.0 / median
            # step mean over n_inf log-normal inferences, with this step's drawn noise
            mean = median * math.exp(0.5 * sigma * sigma + sigma * self.pending_noise[a_i] / math.sqrt(max(n_inf, 1.0)))
            if deadline < INF and sigma > 0:
                miss = 0.5 * math.erfc((math.log(deadline) - math.log(median)) / (sigma * _SQRT2))
            else:
                miss = float(median > deadline)
            # DVFS transitions cost time on the unit that changed frequency
            if freq_idx[u] != self.last_freq_index[u]:
                n_inf *= max(0.0, 1.0 - unit.dvfs_latency_us * 1e-6 / period)
            tally.add(a_i, p, u, unit.freqs_khz[freq_idx[u]], busy, n_inf, mean, median, miss)

        busy_units, act_units = tally.busy, tally.activity
        bg_act = self.pending_background_activity
        for u in range(len(units)):
            busy_units[u] += bg[u]
            act_units[u] += bg_act[u]
        power_units, util = board.unit_power(busy_units, act_units, freq_idx, online, self.power_scale)
        power = self.platform.base_power_w + sum(power_units)
        return self.result(plan, tally, power_units, util, power, self.background_load())
