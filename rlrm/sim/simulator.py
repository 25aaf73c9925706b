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
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from rlrm.agents.governors.schedutil import map_util_freq
from rlrm.errors import InputError
from rlrm.platform.profile import Platform
from rlrm.sim.scenario import INF, Scenario, sample_background
from rlrm.sim.trace import load_trace, trace_path

#: extra latency per unit of other load on the same CPU cluster (shared L2 / memory), estimated
MEM_INTERFERENCE = 0.1
#: GPU time share above which other work is taken to saturate the GPU
GPU_SHARE_CAP = 0.95
_SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True)
class OperatingPoint:
    """What one application runs in a step.

    :param subnet: subnetwork level
    :param option: index into :attr:`BoardSimulator.options` (a ``(unit, cores)`` pair)
    :param freq_index: index into that unit's frequency table
    """

    subnet: int
    option: int
    freq_index: int


class StepResult(dict):
    """One step's metrics (a dict). Never mutated after the step, so copies share it:
    ``copy.deepcopy`` (which vectorised environments apply to every info) returns it as is."""

    def __deepcopy__(self, memo: dict) -> "StepResult":
        return self


@dataclass
class Targets:
    """Targets in force (inf / 0 where a target is not set)."""

    latency_ms: float
    power_w: float
    energy_mj: float
    accuracy: float


class BoardSimulator:
    """Simulates one board running DNN applications next to background workloads.

    :param platform: the board profile
    :param scenario: the workload scenario
    :param traces: one trace per library the scenario's applications use; loaded from
        ``envs/traces/<board>/<library>.json`` when not given
    :param seed: seed of the random generator (background Markov chains, latency noise)
    :param period_s: control period; the scenario's when None
    """

    def __init__(self, platform: Platform, scenario: Scenario, traces: Optional[dict] = None,
                 seed: Optional[int] = None, period_s: Optional[float] = None) -> None:
        self.platform = platform
        self.scenario = scenario
        self.period_s = float(period_s or scenario.period_s)
        traces = dict(traces or {})
        for i, app in enumerate(scenario.apps):
            if app.library not in traces:
                path = trace_path(platform.name, app.library)
                if platform.path is not None and not path.is_file():
                    # a profile kept outside the project: its traces sit beside it (envs/traces/<board>/)
                    beside = platform.path.resolve().parent.parent / "traces" / platform.name / f"{app.library}.json"
                    path = beside if beside.is_file() else path
                if not app.library or not path.is_file():
                    raise InputError(scenario.path or scenario.name, f"apps[{i}].library",
                                     f"no trace of {app.library!r} for {platform.name} (expected {path})")
                traces[app.library] = load_trace(path, platform=platform)
        self.traces: dict = traces
        self.unit_names: list[str] = list(platform.units)
        self._units = [platform.units[n] for n in self.unit_names]
        self._unit_idx = {n: i for i, n in enumerate(self.unit_names)}
        self._scenario_unit = self.resolve_unit(scenario.unit, "unit")
        self._build_options()
        self._build_apps()
        self._build_background()
        self._build_power_schedule()
        self._build_targets()
        self._rng = np.random.default_rng(seed)
        #: domain-randomisation factors (1.0: the profile and traces as they are)
        self.latency_scale = 1.0
        self.power_scale = 1.0
        self.background_scale = 1.0
        self.reset(seed)

    # ------------------------------------------------------------------ set-up
    def resolve_unit(self, name: str, field: str) -> int:
        """Index of a unit given by its name or as portable ``cpu`` / ``gpu`` (the largest unit
        of that kind; ``gpu`` on a board without one means its largest CPU unit, so the
        shipped scenarios also run on CPU-only boards such as a profiled host)."""
        if name in self._unit_idx:
            return self._unit_idx[name]
        if name == "gpu" and not any(u.kind == "gpu" for u in self._units):
            name = "cpu"
        kinds = [i for i, u in enumerate(self._units) if u.kind == name]
        if name in ("cpu", "gpu") and kinds:
            # the largest unit of that kind: most cores, then highest frequency
            return max(kinds, key=lambda i: (self._units[i].cores, self._units[i].f_max_khz))
        src = self.scenario.path or self.scenario.name
        raise InputError(src, field, f"{name!r} is not a unit of {self.platform.name} ({', '.join(self.unit_names)})")

    def _build_options(self) -> None:
        """Compute options common to every library: ``(unit, cores)`` pairs."""
        common = None
        for trace in self.traces.values():
            opts = set(trace.options())
            common = opts if common is None else common & opts
        self.options: list[tuple[str, int]] = sorted(common or (), key=lambda o: (self._unit_idx[o[0]], o[1]))
        if not self.options:
            raise InputError(self.scenario.path or self.scenario.name, "apps",
                             "the traces of its libraries share no compute option on this board")
        self._opt_unit = [self._unit_idx[u] for u, _ in self.options]
        self._opt_cores = [c for _, c in self.options]

    def _build_apps(self) -> None:
        self.apps = list(self.scenario.apps)
        self._lat: list = []  # per app: [subnet][option][freq_index] -> median latency ms
        self._sigma: list = []  # per app: [subnet][option] -> log-normal sigma
        self._act: list = []  # per app: [subnet][option] -> activity
        self._top1: list = []
        self._fixed: list = []
        for a_i, app in enumerate(self.apps):
            trace = self.traces[app.library]
            lat, sig, act = [], [], []
            for s in trace.subnets:
                lat_s, sig_s, act_s = [], [], []
                for unit, cores in self.options:
                    e = trace.entry(s.level, unit, cores)
                    u = self.platform.units[unit]
                    lat_s.append([e.latency_at(f, u.f_max_khz) for f in u.freqs_khz])
                    sig_s.append(e.sigma)
                    act_s.append(e.activity)
                lat.append(lat_s)
                sig.append(sig_s)
                act.append(act_s)
            self._lat.append(lat)
            self._sigma.append(sig)
            self._act.append(act)
            self._top1.append([s.top1 for s in trace.subnets])
            self._fixed.append(None if app.controlled else self._fixed_point(a_i, app))

    def _fixed_point(self, a_i: int, app) -> OperatingPoint:  # noqa: ANN001
        src = self.scenario.path or self.scenario.name
        n_sub = len(self._top1[a_i])
        subnet = n_sub - 1 if app.subnet < 0 else app.subnet
        if subnet >= n_sub:
            raise InputError(src, f"apps.{app.name}.subnet", f"library has levels 0..{n_sub - 1}")
        u = self.resolve_unit(app.unit, f"apps.{app.name}.unit")
        unit = self._units[u]
        cores = app.cores or (unit.cores if unit.kind == "cpu" else 0)
        try:
            option = self.options.index((unit.name, cores))
        except ValueError:
            raise InputError(src, f"apps.{app.name}.cores", f"no trace entry for {unit.name} with {cores} cores") from None
        if app.freq == "max":
            fi = unit.n_freqs - 1
        elif app.freq == "min":
            fi = 0
        else:
            try:
                fi = unit.freq_index(int(app.freq))
            except ValueError:
                raise InputError(src, f"apps.{app.name}.freq", f"{app.freq} kHz is not an operating point of {unit.name}") from None
        return OperatingPoint(subnet, option, fi)

    def _build_background(self) -> None:
        self._bg = []
        for i, b in enumerate(self.scenario.background):
            self._bg.append((self.resolve_unit(b.unit, f"background[{i}].unit"), b))

    def _build_power_schedule(self) -> None:
        self._mode_schedule = []
        for at_s, name in self.scenario.power_modes:
            if name not in self.platform.power_modes:
                # portable scenarios may name a mode only some boards have: ignored elsewhere
                continue
            self._mode_schedule.append((at_s, self.platform.power_modes[name]))

    def _build_targets(self) -> None:
        """Resolve relative targets against this board and library."""
        ref = self.reference_point()
        lat_ref, energy_ref = ref["latency_ms"], ref["energy_mj"]
        p_ref = self.full_load_power_w(self.platform.power_mode())
        top1 = self._top1[0]
        self._targets = []
        for t in self.scenario.targets:
            lat = t.latency_ms if t.latency_ms is not None else (t.latency_x * lat_ref if t.latency_x else INF)
            pw = t.power_w if t.power_w is not None else (t.power_x * p_ref if t.power_x else INF)
            en = t.energy_mj if t.energy_mj is not None else (t.energy_x * energy_ref if t.energy_x else INF)
            if t.accuracy is not None:
                acc = t.accuracy
            elif t.accuracy_level is not None:
                acc = top1[min(t.accuracy_level, len(top1) - 1)]
            else:
                acc = 0.0
            self._targets.append((t.at_s, Targets(lat, pw, en, acc)))

    def reference_point(self) -> dict:
        """Latency and energy per inference of app 0's largest subnet on the scenario's unit at
        maximum frequency, all cores, nothing else running: what relative targets scale."""
        u = self._scenario_unit
        unit = self._units[u]
        cores = unit.cores if unit.kind == "cpu" else 0
        opt = self.options.index((unit.name, cores)) if (unit.name, cores) in self.options else \
            max((i for i, o in enumerate(self.options) if o[0] == unit.name), key=lambda i: self.options[i][1])
        s = len(self._top1[0]) - 1
        fi = unit.n_freqs - 1
        lat = self._lat[0][s][opt][fi]
        busy = float(self._opt_cores[opt]) if unit.kind == "cpu" else 1.0
        power = self.platform.base_power_w + sum(
            (x.power_w(fi if i == u else 0, busy if i == u else 0.0, self._act[0][s][opt]) for i, x in enumerate(self._units)))
        return {"latency_ms": lat, "energy_mj": power * lat, "power_w": power}

    def full_load_power_w(self, mode) -> float:  # noqa: ANN001
        """Board power with every unit fully busy at the mode's caps (what ``power_x`` scales)."""
        total = self.platform.base_power_w
        for unit in self._units:
            cap = mode.freq_cap_khz(unit)
            fi = max(i for i, f in enumerate(unit.freqs_khz) if f <= cap)
            online = mode.cores_online(unit) if unit.kind == "cpu" else 1
            total += unit.power_w(fi, float(online), 1.0, online if unit.kind == "cpu" else None)
        return total

    # ------------------------------------------------------------------ state
    def perturb(self, latency_scale: float = 1.0, power_scale: float = 1.0, background_scale: float = 1.0) -> None:
        """Scale every latency, every unit's power and every background load (domain
        randomisation); takes effect from the next :meth:`reset`."""
        self.latency_scale = float(latency_scale)
        self.power_scale = float(power_scale)
        self.background_scale = float(background_scale)

    def reset(self, seed: Optional[int] = None) -> None:
        """Back to time 0. A seed re-seeds the generator (same seed: same run)."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.step_index = 0
        self.time_s = 0.0
        self._bg_state = [[0] for _ in self._bg]
        self._last_freq = [u.n_freqs - 1 for u in self._units]
        self._draw_pending()

    def _draw_pending(self) -> None:
        """Draw what the next step will see regardless of the action (hidden state)."""
        t = self.time_s
        rng = self._rng
        n_units = len(self._units)
        bg_cores = [0.0] * n_units  # CPU: busy core-equivalents; GPU: time share
        bg_act = [0.0] * n_units  # sum of busy * activity
        for (u, spec), state in zip(self._bg, self._bg_state):
            level = min(1.0, sample_background(spec, t, state, rng, self.period_s) * self.background_scale)
            load = level * spec.cores if self._units[u].kind == "cpu" else level
            bg_cores[u] += load
            bg_act[u] += load * spec.activity
        self._pending_bg = bg_cores
        self._pending_bg_act = bg_act
        self._pending_z = rng.standard_normal(len(self.apps)).tolist()
        mode = self.platform.power_mode()
        for at_s, m in self._mode_schedule:
            if at_s <= t:
                mode = m
        self.power_mode = mode
        target = self._targets[0][1]
        for at_s, tg in self._targets:
            if at_s <= t:
                target = tg
        self.targets = target
        self.active = [a.start_s <= t < a.stop_s for a in self.apps]

    # ------------------------------------------------------------------ queries
    def online_cores(self, unit_index: int) -> int:
        unit = self._units[unit_index]
        return self.power_mode.cores_online(unit) if unit.kind == "cpu" else 1

    def max_freq_index(self, unit_index: int) -> int:
        """Highest frequency index the power mode allows on a unit."""
        unit = self._units[unit_index]
        cap = self.power_mode.freq_cap_khz(unit)
        return max(i for i, f in enumerate(unit.freqs_khz) if f <= cap)

    def option_allowed(self, option: int) -> bool:
        """Whether a compute option fits the cores online now."""
        u = self._opt_unit[option]
        return self._opt_cores[option] <= self.online_cores(u)

    def background_load(self) -> list[float]:
        """Background load per unit for the coming step (CPU: fraction of online cores)."""
        out = []
        for i, load in enumerate(self._pending_bg):
            out.append(min(1.0, load / self.online_cores(i)) if self._units[i].kind == "cpu" else min(1.0, load))
        return out

    def fixed_point(self, app_index: int) -> Optional[OperatingPoint]:
        return self._fixed[app_index]

    # ------------------------------------------------------------------ dynamics
    def preview(self, points: Sequence[Optional[OperatingPoint]]) -> dict:
        """What :meth:`step` would return for ``points``, without advancing (for the oracle)."""
        return self._evaluate(points)

    def step(self, points: Sequence[Optional[OperatingPoint]]) -> dict:
        """Advance one control period.

        :param points: one :class:`OperatingPoint` per controlled application, in scenario
            order (uncontrolled applications use their fixed point; entries may be None for
            them)
        :return: the step's metrics (see ``envs/README.md``)
        """
        result = self._evaluate(points)
        self._last_freq = result["freq_index"]
        self.step_index += 1
        self.time_s = self.step_index * self.period_s
        self._draw_pending()
        return result

    def _resolve_points(self, points: Sequence[Optional[OperatingPoint]]) -> list:
        out = []
        it = iter(points)
        for a_i, app in enumerate(self.apps):
            if app.controlled:
                try:
                    p = next(it)
                except StopIteration:
                    raise ValueError(f"need an operating point for every controlled app ({len(self.scenario.controlled_apps)})") from None
            else:
                p = self._fixed[a_i]
            out.append(p)
        return out

    def _evaluate(self, points: Sequence[Optional[OperatingPoint]]) -> dict:
        units = self._units
        n_units = len(units)
        period = self.period_s
        pts = self._resolve_points(points)
        active = self.active
        online = [self.online_cores(i) for i in range(n_units)]

        # frequency per unit: the highest requested by an app on it (capped), else schedutil
        freq_idx = [-1] * n_units
        for a_i, p in enumerate(pts):
            if not active[a_i]:
                continue
            u = self._opt_unit[p.option]
            fi = min(p.freq_index, self.max_freq_index(u))
            if fi > freq_idx[u]:
                freq_idx[u] = fi

        # pass 1: uncontended busy share of each app; pass 2: latency under contention
        bg = self._pending_bg
        lat0 = [0.0] * len(pts)
        demand = [0.0] * n_units  # other-load bookkeeping: CPU threads' busy, GPU share
        for a_i, p in enumerate(pts):
            if not active[a_i]:
                continue
            u = self._opt_unit[p.option]
            fi = freq_idx[u]
            lat0[a_i] = self._lat[a_i][p.subnet][p.option][fi] * self.latency_scale
        app_busy = [0.0] * len(pts)
        for a_i, p in enumerate(pts):
            if active[a_i]:
                app_busy[a_i] = self._busy_share(a_i, lat0[a_i])
                u = self._opt_unit[p.option]
                demand[u] += app_busy[a_i] * (self._opt_cores[p.option] if units[u].kind == "cpu" else 1.0)

        apps_out = []
        busy_units = [0.0] * n_units
        act_units = [0.0] * n_units
        total_inf = 0.0
        for a_i, p in enumerate(pts):
            if not active[a_i]:
                apps_out.append(None)
                continue
            u = self._opt_unit[p.option]
            unit = units[u]
            cores = self._opt_cores[p.option]
            mine = app_busy[a_i] * (cores if unit.kind == "cpu" else 1.0)
            other = bg[u] + demand[u] - mine
            if unit.kind == "cpu":
                c = online[u]
                stretch = max(1.0, (cores + other) / c) * (1.0 + MEM_INTERFERENCE * min(other, c) / c)
            else:
                stretch = 1.0 + min(other, GPU_SHARE_CAP)
            sigma = self._sigma[a_i][p.subnet][p.option]
            median = lat0[a_i] * stretch
            busy = self._busy_share(a_i, median)
            n_inf = busy * period * 1000.0 / median
            # step mean over n_inf log-normal inferences, with this step's drawn noise
            mean = median * math.exp(0.5 * sigma * sigma + sigma * self._pending_z[a_i] / math.sqrt(max(n_inf, 1.0)))
            deadline = self.targets.latency_ms
            if deadline < INF and sigma > 0:
                miss = 0.5 * math.erfc((math.log(deadline) - math.log(median)) / (sigma * _SQRT2))
            else:
                miss = float(median > deadline)
            # DVFS transitions cost time on the unit that changed frequency
            if freq_idx[u] != self._last_freq[u]:
                n_inf *= max(0.0, 1.0 - unit.dvfs_latency_us * 1e-6 / period)
            if self.apps[a_i].controlled:
                total_inf += n_inf
            share = busy * (cores if unit.kind == "cpu" else 1.0)
            busy_units[u] += share
            act_units[u] += share * self._act[a_i][p.subnet][p.option]
            apps_out.append({"controlled": self.apps[a_i].controlled, "latency_ms": mean, "latency_median_ms": median, "inferences": n_inf,
                             "deadline_miss": miss, "accuracy": self._top1[a_i][p.subnet],
                             "subnet": p.subnet, "unit": unit.name, "cores": cores,
                             "freq_khz": unit.freqs_khz[freq_idx[u]]})

        # units without an app: schedutil's rule on their background load
        for u in range(n_units):
            busy_units[u] += bg[u]
            act_units[u] += self._pending_bg_act[u]
            if freq_idx[u] < 0:
                freq_idx[u] = self._schedutil_index(u, bg[u] / online[u])

        power_units, util = self._unit_power(busy_units, act_units, freq_idx, online)
        power = self.platform.base_power_w + sum(power_units)
        energy_mj = power * period * 1000.0
        return StepResult({
            "step": self.step_index, "time_s": self.time_s, "apps": apps_out,
            # inferences and energy per inference count the managed (controlled) apps only;
            # the energy is the whole board's
            "power_w": power, "energy_mj": energy_mj, "inferences": total_inf,
            "energy_per_inference_mj": energy_mj / total_inf if total_inf > 0 else INF,
            "unit_power_w": power_units, "utilisation": util, "freq_index": freq_idx,
            "freq_khz": [units[u].freqs_khz[freq_idx[u]] for u in range(n_units)],
            "background": self.background_load(),
            "targets": self.targets, "power_mode": self.power_mode.name,
        })

    def _unit_power(self, busy_units: list, act_units: list, freq_idx: list, online: list) -> tuple[list, list]:
        """Power (W) and utilisation of every unit from its busy slots and summed activity."""
        power_units, util = [], []
        for u, unit in enumerate(self._units):
            slots = online[u] if unit.kind == "cpu" else 1
            b = min(busy_units[u], float(slots))
            act = act_units[u] / busy_units[u] if busy_units[u] > 0 else 0.0
            power_units.append(self.power_scale * unit.power_w(freq_idx[u], b, act, online[u] if unit.kind == "cpu" else None))
            util.append(b / slots)
        return power_units, util

    def _busy_share(self, a_i: int, latency_ms: float) -> float:
        fps = self.apps[a_i].fps
        if fps <= 0.0:
            return 1.0
        return min(1.0, latency_ms * fps / 1000.0)

    def _schedutil_index(self, u: int, util: float) -> int:
        """The frequency index schedutil (:func:`rlrm.agents.governors.map_util_freq`) picks for a
        unit's utilisation, capped by the power mode."""
        unit = self._units[u]
        return min(unit.freqs_khz.index(map_util_freq(unit.freqs_khz, util)), self.max_freq_index(u))
