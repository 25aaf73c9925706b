"""The trace-driven board simulator.

Time-stepped and deterministic for a seed. One :meth:`BoardSimulator.step` advances one
control period: every active DNN application runs inferences of its chosen subnetwork on its
chosen unit, core count and frequency; background workloads occupy CPU cores and GPU time;
latency stretches under contention; power and energy integrate per unit, idle units
included; targets and the power mode follow the scenario's schedule.

Model (all documented in ``envs/README.md``):

* latency at frequency ``f``: the trace's ``t(f)`` (compute-bound share scales with
  ``f_max / f``), times a per-step log-normal factor from the trace's p90 spread;
* CPU contention (:mod:`rlrm.platform.contention`): the unit's measured contention table where the
  profile has one (``rlrm profile`` measures it), else the analytical model: other work fills
  the cores the inference does not use first, the excess shares its cores, a multi-threaded
  inference runs at the pace of its slowest thread, and shared-memory interference adds
  ``MEM_INTERFERENCE * other_load / c``;
* GPU contention: time slicing, ``latency * (1 + g)`` where ``g`` is the GPU time share
  used by other work;
* power per unit: ``static * V / V_max + ceff * V^2 * f * activity`` (see
  :class:`rlrm.platform.ComputeUnit`), the board's base power on top;
* units no application uses follow schedutil's rule ``f = 1.25 * f_max * util`` (what the
  kernel would do with their background load);
* deadline misses: each inference's latency is log-normal around the step's median with the
  trace's spread; the step reports the fraction of inferences that miss the deadline.

Dynamics a scenario may enable (``[dynamics]``, apps' ``queue``, targets' ``energy_window_j``;
all off in the scenarios shipped before them, whose steps are then computed exactly as before,
by :meth:`BoardSimulator.execute_static`), see :mod:`rlrm.sim.dynamics`:

* costs: a subnetwork switch takes ``subnet_switch_ms`` of the application's period; every
  frequency transition costs the unit ``dvfs_energy_uj``; a GPU inference needs
  ``gpu_host_ms`` of a core of the largest CPU unit, which adds CPU load and is stretched by CPU
  contention (``latency = (t - h) * gpu_stretch + h * cpu_stretch``);
* frame queues: an application at ``fps`` with ``queue`` > 0 receives ``fps * period`` frames a
  period; those it cannot run wait (latency = queueing + inference) up to ``queue`` frames,
  the rest are dropped and count as missed deadlines;
* thermal: every modelled unit's zone follows an RC model driven by the unit's power; at the
  trip point the kernel lowers the unit's maximum frequency one step per period;
* energy windows: once the board has spent the window's budget, the managed applications are
  suspended (their frames dropped) until the next window.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

from rlrm.platform.profile import Platform
from rlrm.sim.backend import Backend, Plan
from rlrm.platform.contention import MEM_INTERFERENCE, cpu_stretch
from rlrm.sim.dynamics import HOST_ACTIVITY, frame_queue, rc_temperature, throttle_index
from rlrm.sim.model import BoardModel
from rlrm.sim.result import INF, OperatingPoint, StepResult, Targets
from rlrm.sim.scenario import Scenario

__all__ = ["BoardSimulator", "OperatingPoint", "StepResult", "Targets", "MEM_INTERFERENCE", "GPU_SHARE_CAP",
           "cpu_stretch"]

#: GPU time share above which other work is taken to saturate the GPU
GPU_SHARE_CAP = 0.95


def gpu_stretch(other: float) -> float:
    """Latency stretch of a GPU inference when other work keeps the GPU ``other`` busy (time slicing)."""
    return 1.0 + min(other, GPU_SHARE_CAP)
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
        # the model of a step, chosen once: without dynamics the original one, unchanged
        self.execute = self.execute_dynamic if self.board.dynamic else self.execute_static  # type: ignore[method-assign]
        self.reset(seed)

    def preview(self, points: Sequence[Optional[OperatingPoint]]) -> StepResult:
        """What :meth:`step` would return for ``points``, without advancing (for the oracle)."""
        return self.execute(self.plan(points))

    def execute(self, plan: Plan) -> StepResult:
        """The model of one control period at ``plan`` (see the module's docstring):
        :meth:`execute_dynamic` with the scenario's dynamics, else :meth:`execute_static` (the
        instance binds the one it needs at construction)."""
        return self.execute_dynamic(plan) if self.board.dynamic else self.execute_static(plan)

    def execute_static(self, plan: Plan) -> StepResult:
        """One control period without dynamics (the model of the original scenarios)."""
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
            stretch = (cpu_stretch(cores, other, online[u], unit.contention, unit.cores, p.subnet) if unit.kind == "cpu"
                       else gpu_stretch(other))
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

    # ------------------------------------------------------------------ dynamics
    def execute_dynamic(self, plan: Plan) -> StepResult:
        """One control period with the scenario's dynamics; what it leaves behind (temperatures,
        caps, queues, the window's energy) is staged for :meth:`commit`."""
        board = self.board
        units = board.units
        apps = board.apps
        opt_unit, opt_cores = board.option_unit, board.option_cores
        period = self.period_s
        period_ms = period * 1000.0
        pts, active, online, freq_idx = plan.points, plan.active, plan.online, plan.freq_index
        lat_scale = self.latency_scale
        host_u = board.host_unit
        host_ms = board.gpu_host_ms * lat_scale
        suspended = self.window_left_j() <= 0.0

        bg = self.pending_background
        n = len(pts)
        lat0 = [0.0] * n
        app_busy = [0.0] * n
        host = [0.0] * n  # per app: host CPU ms per inference (GPU apps with costs)
        demand = [0.0] * len(units)
        for a_i, p in enumerate(pts):
            if not active[a_i]:
                continue
            u = opt_unit[p.option]
            lat0[a_i] = board.latency_ms[a_i][p.subnet][p.option][freq_idx[u]] * lat_scale
            app = apps[a_i]
            if app.queue > 0 and app.fps > 0:
                app_busy[a_i] = min(1.0, (self.backlog[a_i] + app.fps * period) * lat0[a_i] / period_ms)
            else:
                app_busy[a_i] = board.busy_share(a_i, lat0[a_i])
            if app.controlled and suspended:
                app_busy[a_i] = 0.0
            demand[u] += app_busy[a_i] * (opt_cores[p.option] if units[u].kind == "cpu" else 1.0)
            if host_ms > 0 and units[u].kind == "gpu" and host_u is not None:
                host[a_i] = min(host_ms, lat0[a_i])
                demand[host_u] += app_busy[a_i] * host[a_i] / lat0[a_i]

        tally = self.tally()
        deadline = self.targets.latency_ms
        backlog = list(self.backlog)
        subnets = list(self.last_subnet)
        host_busy = 0.0
        for a_i, p, u, unit in self.running(plan, tally):
            app = apps[a_i]
            cores = opt_cores[p.option]
            mine = app_busy[a_i] * (cores if unit.kind == "cpu" else 1.0)
            other = bg[u] + demand[u] - mine
            if unit.kind == "cpu":
                median = lat0[a_i] * cpu_stretch(cores, other, online[u], unit.contention, unit.cores, p.subnet)
            else:
                stretch = gpu_stretch(other)
                h = host[a_i]
                if h > 0:  # the inference's host-side CPU time, stretched by the CPU's own contention
                    other_cpu = bg[host_u] + demand[host_u] - app_busy[a_i] * h / lat0[a_i]
                    median = (lat0[a_i] - h) * stretch + h * cpu_stretch(1.0, other_cpu, online[host_u], units[host_u].contention,
                                                                      units[host_u].cores)
                else:
                    median = lat0[a_i] * stretch
            sigma = board.sigma[a_i][p.subnet][p.option]
            # time the period leaves for inferences: a subnetwork switch and DVFS transitions
            avail = 1.0
            if board.switch_ms > 0 and subnets[a_i] is not None and subnets[a_i] != p.subnet:
                avail -= board.switch_ms / period_ms
            if freq_idx[u] != self.last_freq_index[u]:
                avail -= unit.dvfs_latency_us * 1e-6 / period
            avail = max(0.0, avail)
            subnets[a_i] = p.subnet
            halted = app.controlled and suspended
            dropped = queue_left = None
            wait_ms = 0.0
            if app.queue > 0 and app.fps > 0:
                capacity = 0.0 if halted else avail * period_ms / median
                served, left, dropped, ahead = frame_queue(backlog[a_i], app.fps * period, capacity, app.queue)
                backlog[a_i] = queue_left = left
                n_inf = n_seen = served
                busy = served * median / period_ms
                wait_ms = ahead * median
            elif halted:
                n_inf = n_seen = busy = 0.0
                dropped = app.fps * period if app.fps > 0 else 0.0
            else:
                busy = board.busy_share(a_i, median)
                n_seen = busy * period_ms / median
                n_inf = n_seen * avail
            if unit.kind == "gpu" and host[a_i] > 0:
                host_busy += busy * host[a_i] / median
            mean = wait_ms + median * math.exp(0.5 * sigma * sigma + sigma * self.pending_noise[a_i] / math.sqrt(max(n_seen, 1.0)))
            budget = deadline - wait_ms
            if budget <= 0:
                miss = 1.0
            elif deadline < INF and sigma > 0:
                miss = 0.5 * math.erfc((math.log(budget) - math.log(median)) / (sigma * _SQRT2))
            else:
                miss = float(median > budget)
            if dropped:
                miss = (n_inf * miss + dropped) / (n_inf + dropped)
            elif halted:
                miss = 1.0
            tally.add(a_i, p, u, unit.freqs_khz[freq_idx[u]], busy, n_inf, mean, median, miss, dropped, queue_left)

        busy_units, act_units = tally.busy, tally.activity
        if host_busy > 0:
            busy_units[host_u] += host_busy
            act_units[host_u] += host_busy * HOST_ACTIVITY
        bg_act = self.pending_background_activity
        for u in range(len(units)):
            busy_units[u] += bg[u]
            act_units[u] += bg_act[u]
        power_units, util = board.unit_power(busy_units, act_units, freq_idx, online, self.power_scale)
        for u in range(len(units)):  # DVFS transition energy, spread over the period
            if board.dvfs_energy_j[u] > 0 and freq_idx[u] != self.last_freq_index[u]:
                power_units[u] += board.dvfs_energy_j[u] / period
        power = self.platform.base_power_w + sum(power_units)

        temps = list(self.temperature_c)
        caps = list(self.thermal_cap)
        for u, zone in enumerate(board.thermal):
            if zone is not None:
                r, c, trip, hyst = zone
                temps[u] = rc_temperature(temps[u], power_units[u], r, c, board.ambient_c, period)
                caps[u] = throttle_index(caps[u], temps[u], trip, hyst, units[u].n_freqs)
        window_used = self.window_energy_j + power * period
        self._staged = (temps, caps, backlog, window_used, subnets)
        budget_j = self.targets.energy_window_j
        return self.result(plan, tally, power_units, util, power, self.background_load(),
                           temperature_c=temps if any(z is not None for z in board.thermal) else None,
                           energy_window_left_j=budget_j - window_used if budget_j < INF else None)

    def commit(self, result: StepResult) -> None:
        """Carry the staged state of the step just executed into the next (see :meth:`execute_dynamic`)."""
        temps, caps, backlog, window_used, subnets = self._staged
        self.temperature_c, self.backlog, self.last_subnet = temps, backlog, subnets
        if caps != self.thermal_cap:
            self.set_thermal_caps(caps)
        window = self.board.window_s
        t_next = (self.step_index + 1) * self.period_s
        if math.floor(t_next / window + 1e-9) != math.floor(self.time_s / window + 1e-9):
            window_used = 0.0  # a new window starts with the next step
        self.window_energy_j = window_used
