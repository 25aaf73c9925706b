"""The board model both backends share: compute options, latency and power tables, the
scenario's applications, background workloads, power-mode schedule and targets.

A :class:`BoardModel` is built once from a profile, a scenario and traces and never changes
(domain randomisation scales live in the backend). The trace backend
(:class:`rlrm.sim.BoardSimulator`) computes a step from it; the live backend
(:class:`rlrm.live.LiveBoard`) measures one and uses it for what it does not measure.
"""

from __future__ import annotations

from typing import Optional, Sequence

from rlrm.errors import InputError
from rlrm.platform.profile import ComputeUnit, Platform, PowerMode
from rlrm.sim.result import INF, AppResult, OperatingPoint, Targets
from rlrm.sim.scenario import AppSpec, BackgroundSpec, Scenario
from rlrm.sim.trace import Trace, load_trace, trace_for


class BoardModel:
    """Options, tables, schedule and targets of one board running one scenario.

    :param platform: the board profile
    :param scenario: the workload scenario
    :param traces: one trace per library the scenario's applications use; loaded from
        ``envs/traces/<board>/<library>.json`` (or beside a profile kept elsewhere) when not given
    :param period_s: control period; the scenario's when None

    Public tables (read-only): :attr:`options` (``(unit, cores)`` pairs), :attr:`option_unit`
    and :attr:`option_cores` per option, and per application ``latency_ms[a][subnet][option][f]``
    (median at frequency index ``f``), ``sigma[a][subnet][option]`` (log-normal spread),
    ``activity[a][subnet][option]`` and ``top1[a][subnet]``.
    """

    def __init__(self, platform: Platform, scenario: Scenario, traces: Optional[dict] = None,
                 period_s: Optional[float] = None) -> None:
        self.platform = platform
        self.scenario = scenario
        self.period_s = float(period_s or scenario.period_s)
        self.traces: dict[str, Trace] = self._load_traces(dict(traces or {}))
        self.unit_names: list[str] = list(platform.units)
        self.units: list[ComputeUnit] = [platform.units[n] for n in self.unit_names]
        self.unit_index = {n: i for i, n in enumerate(self.unit_names)}
        self.scenario_unit = self.resolve_unit(scenario.unit, "unit")
        self._build_options()
        self._build_apps()
        self.background: list[tuple[int, BackgroundSpec]] = [
            (self.resolve_unit(b.unit, f"background[{i}].unit"), b) for i, b in enumerate(scenario.background)]
        # portable scenarios may name a power mode only some boards have: ignored elsewhere
        self.mode_schedule: list[tuple[float, PowerMode]] = [
            (at_s, platform.power_modes[name]) for at_s, name in scenario.power_modes if name in platform.power_modes]
        self.targets: list[tuple[float, Targets]] = self._build_targets()
        self._build_dynamics()

    # ------------------------------------------------------------------ set-up
    def _build_dynamics(self) -> None:
        """The scenario's dynamics resolved against the profile (see :class:`rlrm.sim.scenario.Dynamics`)."""
        dyn = self.scenario.dynamics
        platform = self.platform
        #: the scenario charges switch time, DVFS energy and the CPU time of GPU inferences
        self.costs = dyn.costs
        cpus = [i for i, u in enumerate(self.units) if u.kind == "cpu"]
        #: the CPU unit a GPU inference's host work runs on (the largest), None without a CPU
        self.host_unit = max(cpus, key=lambda i: (self.units[i].cores, self.units[i].f_max_khz)) if cpus else None
        self.switch_ms = platform.subnet_switch_ms if dyn.costs else 0.0
        self.gpu_host_ms = platform.gpu_host_ms if dyn.costs else 0.0
        self.dvfs_energy_j = [u.dvfs_energy_uj * 1e-6 if dyn.costs else 0.0 for u in self.units]
        #: per unit: ``(R, C, trip, hysteresis)`` of its thermal zone, None where not modelled
        self.thermal = [None] * len(self.units)
        if dyn.thermal:
            for i, u in enumerate(self.units):
                t = u.thermal
                if t is not None:
                    r = t.r_fanless_k_per_w if dyn.cooling == "fanless" else t.r_k_per_w
                    self.thermal[i] = (r, t.c_j_per_k, t.trip_c, t.hysteresis_c)
        self.ambient_c = platform.ambient_c if dyn.ambient_c is None else dyn.ambient_c
        self.start_c = self.ambient_c if dyn.start_c is None else dyn.start_c
        self.window_s = dyn.window_s
        #: whether any application has a frame queue, any target an energy window
        self.queues = any(a.queue > 0 and a.fps > 0 for a in self.apps)
        self.windows = any(t.energy_window_j < INF for _, t in self.targets)
        #: whether the step needs the dynamic model at all (False: the original model, unchanged)
        self.dynamic = bool(dyn.costs or any(x is not None for x in self.thermal) or self.queues or self.windows)

    def _load_traces(self, traces: dict) -> dict:
        platform, scenario = self.platform, self.scenario
        for i, app in enumerate(scenario.apps):
            if app.library in traces:
                continue
            path = trace_for(platform, app.library)  # a board's own trace (beside its profile) wins
            if not app.library or not path.is_file():
                raise InputError(scenario.path or scenario.name, f"apps[{i}].library",
                                 f"no trace of {app.library!r} for {platform.name} (expected {path})")
            traces[app.library] = load_trace(path, platform=platform)
        return traces

    def resolve_unit(self, name: str, field: str) -> int:
        """Index of a unit given by its name or as portable ``cpu`` / ``gpu`` (the largest unit
        of that kind; ``gpu`` on a board without one means its largest CPU unit, so the
        shipped scenarios also run on CPU-only boards such as a profiled host)."""
        if name in self.unit_index:
            return self.unit_index[name]
        if name == "gpu" and not any(u.kind == "gpu" for u in self.units):
            name = "cpu"
        kinds = [i for i, u in enumerate(self.units) if u.kind == name]
        if name in ("cpu", "gpu") and kinds:
            # the largest unit of that kind: most cores, then highest frequency
            return max(kinds, key=lambda i: (self.units[i].cores, self.units[i].f_max_khz))
        src = self.scenario.path or self.scenario.name
        raise InputError(src, field, f"{name!r} is not a unit of {self.platform.name} ({', '.join(self.unit_names)})")

    def _build_options(self) -> None:
        """Compute options common to every library: ``(unit, cores)`` pairs."""
        common = None
        for trace in self.traces.values():
            opts = set(trace.options())
            common = opts if common is None else common & opts
        self.options: list[tuple[str, int]] = sorted(common or (), key=lambda o: (self.unit_index[o[0]], o[1]))
        if not self.options:
            raise InputError(self.scenario.path or self.scenario.name, "apps",
                             "the traces of its libraries share no compute option on this board")
        self.option_unit = [self.unit_index[u] for u, _ in self.options]
        self.option_cores = [c for _, c in self.options]

    def _build_apps(self) -> None:
        self.apps: list[AppSpec] = list(self.scenario.apps)
        self.latency_ms: list = []  # per app: [subnet][option][freq_index] -> median latency ms
        self.sigma: list = []  # per app: [subnet][option] -> log-normal sigma
        self.activity: list = []  # per app: [subnet][option] -> activity
        self.top1: list[list[float]] = []  # per app: [subnet] -> top-1 (%)
        self.fixed: list[Optional[OperatingPoint]] = []  # per app: its fixed point (uncontrolled apps)
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
            self.latency_ms.append(lat)
            self.sigma.append(sig)
            self.activity.append(act)
            self.top1.append([s.top1 for s in trace.subnets])
            self.fixed.append(None if app.controlled else self._fixed_point(a_i, app))

    def _fixed_point(self, a_i: int, app: AppSpec) -> OperatingPoint:
        src = self.scenario.path or self.scenario.name
        n_sub = len(self.top1[a_i])
        subnet = n_sub - 1 if app.subnet < 0 else app.subnet
        if subnet >= n_sub:
            raise InputError(src, f"apps.{app.name}.subnet", f"library has levels 0..{n_sub - 1}")
        u = self.resolve_unit(app.unit, f"apps.{app.name}.unit")
        unit = self.units[u]
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

    def _build_targets(self) -> list[tuple[float, Targets]]:
        """Resolve relative targets against this board and library."""
        ref = self.reference_point()
        lat_ref, energy_ref = ref["latency_ms"], ref["energy_mj"]
        p_ref = self.full_load_power_w(self.platform.power_mode())
        top1 = self.top1[0]
        out = []
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
            window = t.energy_window_j if t.energy_window_j is not None else INF
            out.append((t.at_s, Targets(lat, pw, en, acc, window)))
        return out

    # ------------------------------------------------------------------ queries
    def reference_point(self) -> dict[str, float]:
        """Latency and energy per inference of app 0's largest subnet on the scenario's unit at
        maximum frequency, all cores, nothing else running: what relative targets scale."""
        u = self.scenario_unit
        unit = self.units[u]
        cores = unit.cores if unit.kind == "cpu" else 0
        opt = self.options.index((unit.name, cores)) if (unit.name, cores) in self.options else \
            max((i for i, o in enumerate(self.options) if o[0] == unit.name), key=lambda i: self.options[i][1])
        s = len(self.top1[0]) - 1
        fi = unit.n_freqs - 1
        lat = self.latency_ms[0][s][opt][fi]
        busy = float(self.option_cores[opt]) if unit.kind == "cpu" else 1.0
        power = self.platform.base_power_w + sum(
            (x.power_w(fi if i == u else 0, busy if i == u else 0.0, self.activity[0][s][opt]) for i, x in enumerate(self.units)))
        return {"latency_ms": lat, "energy_mj": power * lat, "power_w": power}

    def full_load_power_w(self, mode: PowerMode) -> float:
        """Board power with every unit fully busy at the mode's caps (what ``power_x`` scales)."""
        total = self.platform.base_power_w
        for unit in self.units:
            cap = mode.freq_cap_khz(unit)
            fi = max(i for i, f in enumerate(unit.freqs_khz) if f <= cap)
            online = mode.cores_online(unit) if unit.kind == "cpu" else 1
            total += unit.power_w(fi, float(online), 1.0, online if unit.kind == "cpu" else None)
        return total

    def schedule_at(self, t_s: float) -> tuple[PowerMode, Targets, list[bool]]:
        """The power mode, targets and active applications at scenario time ``t_s``."""
        mode = self.platform.power_mode()
        for at_s, m in self.mode_schedule:
            if at_s <= t_s:
                mode = m
        target = self.targets[0][1]
        for at_s, tg in self.targets:
            if at_s <= t_s:
                target = tg
        return mode, target, [a.start_s <= t_s < a.stop_s for a in self.apps]

    def busy_share(self, a_i: int, latency_ms: float) -> float:
        """The share of a period application ``a_i`` keeps its unit busy at this latency (1 when
        it runs back to back, ``fps = 0``)."""
        fps = self.apps[a_i].fps
        if fps <= 0.0:
            return 1.0
        return min(1.0, latency_ms * fps / 1000.0)

    def resolve_points(self, points: Sequence[Optional[OperatingPoint]]) -> list[OperatingPoint]:
        """One point per scenario application: the controlled apps' from ``points`` (in order),
        the fixed point of the others."""
        out = []
        it = iter(points)
        for a_i, app in enumerate(self.apps):
            if app.controlled:
                try:
                    p = next(it)
                except StopIteration:
                    raise ValueError(f"need an operating point for every controlled app ({len(self.scenario.controlled_apps)})") from None
            else:
                p = self.fixed[a_i]
            out.append(p)
        return out

    def unit_power(self, busy_units: Sequence[float], act_units: Sequence[float], freq_idx: Sequence[int],
                   online: Sequence[int], scale: float = 1.0) -> tuple[list[float], list[float]]:
        """Power (W) and utilisation of every unit from its busy slots and summed activity."""
        power_units, util = [], []
        for u, unit in enumerate(self.units):
            slots = online[u] if unit.kind == "cpu" else 1
            b = min(busy_units[u], float(slots))
            act = act_units[u] / busy_units[u] if busy_units[u] > 0 else 0.0
            power_units.append(scale * unit.power_w(freq_idx[u], b, act, online[u] if unit.kind == "cpu" else None))
            util.append(b / slots)
        return power_units, util


class StepTally:
    """What the applications of one step add up to: their results, and the busy slots and
    summed activity per unit and the managed inferences they account for. Both backends fill one
    per step, the simulator from its model and the live board from what it measured."""

    __slots__ = ("board", "apps", "busy", "activity", "inferences")

    def __init__(self, board: BoardModel) -> None:
        self.board = board
        self.apps: list[Optional[AppResult]] = []
        n = len(board.units)
        self.busy = [0.0] * n
        self.activity = [0.0] * n
        self.inferences = 0.0

    def inactive(self) -> None:
        """An application not running this step."""
        self.apps.append(None)

    def add(self, a_i: int, p: OperatingPoint, u: int, freq_khz: int, busy: float, n_inf: float,
            mean_ms: float, median_ms: float, miss: float, dropped: Optional[float] = None,
            queue: Optional[float] = None) -> None:
        """Account application ``a_i`` run at ``p`` on unit ``u``.

        :param busy: the share of the period it kept its cores (or the GPU) busy
        :param n_inf: its inferences
        """
        board = self.board
        unit = board.units[u]
        cores = board.option_cores[p.option]
        controlled = board.apps[a_i].controlled
        if controlled:
            self.inferences += n_inf
        share = busy * (cores if unit.kind == "cpu" else 1.0)
        self.busy[u] += share
        self.activity[u] += share * board.activity[a_i][p.subnet][p.option]
        self.apps.append(AppResult(controlled, mean_ms, median_ms, n_inf, miss, board.top1[a_i][p.subnet],
                                   p.subnet, unit.name, cores, freq_khz, dropped, queue))
