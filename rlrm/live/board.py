""":class:`LiveBoard`: the simulator's interface, measured on the real machine."""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

from rlrm.errors import InputError
from rlrm.hw import HardwareActuator
from rlrm.hw.background import BackgroundLoad
from rlrm.hw.measurements import MeasuredPeriod, Measurements
from rlrm.live.apps import AppJob, ConcurrentApps
from rlrm.live.frames import FrameQueue, ServedPeriod
from rlrm.live.inference import InferenceRunner, load_model
from rlrm.live.onnx_inference import load_onnx_runner
from rlrm.platform.profile import Platform
from rlrm.sim.backend import Backend, Plan
from rlrm.sim.model import BoardModel
from rlrm.sim.result import INF, MEASURED, MODELLED, OperatingPoint, StepResult
from rlrm.sim.scenario import Scenario

log = logging.getLogger("rlrm.live")

#: the board input rails (whole-board power) by the names the sensor drivers give them
INPUT_RAILS = ("VDD_IN", "POWER_IN", "VIN")


@dataclass
class LiveConfig:
    """How the live backend runs.

    :param model: ``demo``, ``ofa:PATH`` or a model directory
    :param inputs: ``synthetic`` or a directory of images
    :param sysfs_root: root of the sysfs tree to actuate and sense (None: ``$RLRM_SYSFS_ROOT`` or ``/``)
    :param observe_only: never write frequencies (None: decide from the files and permissions)
    :param statefile: where the actuator saves what it changes (default: its own)
    :param background: run the scenario's CPU background load as real worker processes
    :param device: ``cpu``, ``cuda`` or ``auto`` (the GPU when the unit is a GPU and CUDA exists)
    :param handlers: let the actuator restore on SIGINT / SIGTERM / exit
    :param power_rate_hz: power sensor samples per second (INA3221: one conversion every ~8 ms)
    :param power_threaded: sample power in a background thread and integrate it over each period;
        False reads every rail once per period, at its end (tests that rewrite a fake sensor
        between steps)
    """

    model: str = "demo"
    inputs: str = "synthetic"
    sysfs_root: Optional[str] = None
    observe_only: Optional[bool] = None
    statefile: Optional[str] = None
    background: bool = True
    device: str = "auto"
    handlers: bool = True
    power_rate_hz: float = 125.0
    power_threaded: bool = True


class LiveBoard(Backend):
    """The board itself behind the :class:`~rlrm.sim.Backend` interface (the ``live`` backend).

    Options, power modes, targets and the background schedule come from the board model
    (:class:`~rlrm.sim.BoardModel`: the profile, the traces and the scenario) exactly as in
    simulation (so the observation and action spaces are the simulator's). :meth:`step` instead applies the operating point through
    :class:`rlrm.hw.HardwareActuator` (observe-only where it cannot write), sets the real
    background load (worker processes burning CPU at the scenario's level; GPU background
    is not possible and is ignored with one warning), runs the model's subnetwork for one
    control period and measures latency per inference. Power comes from the board's sensors
    or, without any, from the profile's power model (``energy_estimated: True``).

    Board power: the input rail (``VDD_IN``/``POWER_IN``/``VIN``) when the board has one; else
    the profile's ``base_power_w`` plus the rails the profile says measure units (the Odroid's
    A15, A7, GPU) plus the power model's value for the units no rail measures, so that live and
    simulated power are the same quantity and the scenario's power targets mean the same.

    Sensor faults: the rails used are fixed at the first good reading. When one of them
    vanishes or returns garbage mid-run, the step's power is the power model's estimate, the
    result says ``energy_estimated: True`` and ``sensor_fault: True``, and one warning names
    the rail and the problem; another says when the rails read again.

    The dynamics' state is measured, not modelled (the observation's ``<unit>.headroom``,
    ``<app>.queue``, ``budget.left``): each unit's temperature is read from the thermal zones
    its profile names (``[units.<u>.thermal] zones``, the hottest) at every reset and at the
    end of every step, in every scenario (so a live headroom is measured even where the
    scenario models no heating); a zone that reads garbage or vanishes flags ``thermal_fault``
    (the power sensors' ``sensor_fault`` keeps its meaning) with one warning naming the file
    and field, and the unit keeps its last temperature, tagged ``modelled``, until it reads
    again; a unit whose zones are not on the board (or
    the first observation before :meth:`open`) has the scenario's modelled start temperature.
    An application with a frame queue (``fps`` > 0 and ``queue`` > 0) is fed by a
    :class:`~rlrm.live.frames.FrameQueue`: frames arrive at ``fps`` on the wall clock, wait,
    drop beyond ``queue``, and the frames waiting at the end of the period are the step's
    measured queue (latency = wait + inference, dropped frames count as misses, as in
    simulation). The energy window's spent energy is the measured energy integrated over the
    steps (the power model's estimate on steps without a sensor); once the window's budget is
    spent the managed applications are halted until the next window (their frames dropped), as
    in simulation. The kernel's thermal throttling is not modelled live (the frequencies read
    back show it); ``<unit>.cap`` stays the power mode's.

    Subnetwork level ``s`` of the trace maps to the model's level ``round(s * (m - 1) / (n - 1))``
    (the same when the model is the library's); accuracy is the library's top-1 of ``s``.
    Active applications run at the same time, each in its own thread with its own model for the
    whole period (:class:`~rlrm.live.apps.ConcurrentApps`), frames driven by its ``fps``.

    :param platform: the board profile
    :param scenario: the workload scenario
    :param traces: optional ``{library: Trace}`` (targets and options as in simulation)
    :param period_s: control period; the scenario's when None
    :param config: the live settings (:class:`LiveConfig`, or its fields as a mapping)
    :param runner: an :class:`InferenceRunner` to reuse (else one is built from ``config``)
    :param board: a :class:`BoardModel` already built for this platform and scenario
    :param seed: seed of the scenario's background schedule
    :param measurements: a :class:`~rlrm.hw.measurements.Measurements` to use instead of the one
        :meth:`open` builds over the actuator's sensors (tests inject a scripted rail and clock);
        it is started by :meth:`open` and stopped by :meth:`close`
    :param runner_factory: builds the runner of each application after the first (tests; else
        one is built from ``config`` like ``runner``)
    """

    name = "live"

    def __init__(self, platform: Platform, scenario: Scenario, traces: Optional[dict] = None,
                 period_s: Optional[float] = None, config: Union[LiveConfig, Mapping[str, Any], None] = None,
                 runner: Optional[InferenceRunner] = None, board: Optional[BoardModel] = None,
                 seed: Optional[int] = None, measurements: Optional[Measurements] = None,
                 runner_factory: Optional[Callable[[], Any]] = None) -> None:
        #: power integrated over each period, utilisation and frequencies read back (from open())
        self.measurements: Optional[Measurements] = measurements
        self._own_measurements = measurements is None  # built by open(), dropped by close()
        super().__init__(board or BoardModel(platform, scenario, traces=traces, period_s=period_s), seed)
        self.config = config if isinstance(config, LiveConfig) else LiveConfig(**dict(config or {}))
        self.runner = runner
        #: runners of the applications after the first (built on first use, or by ``runner_factory``)
        self.app_runners: dict = {}
        self.runner_factory = runner_factory
        self._concurrent = ConcurrentApps()
        self.actuator: Optional[HardwareActuator] = None
        self.energy_estimated = True
        self.sensor_fault_steps = 0
        self.restore_problems: list[str] = []  # what close() could not put back (the kernel refused)
        self.kept_statefile: Optional[Path] = None  # then the originals are here, for `rlrm restore`
        self._rails: Optional[list[str]] = None  # the rails summed for board power, fixed at the first good read
        self._rail_units: Optional[set[int]] = None  # the units those rails measure (None: the whole board)
        self._sensor_fault: Optional[str] = None  # the current fault (None: sensors fine)
        self._warned_gpu_bg = False
        #: the last step's measurement detail: per-element sources, power samples, largest gap
        self.last_measurement: dict = {}
        cpu_units = [i for i, u in enumerate(self.board.units) if u.kind == "cpu"]
        workers = sum(spec.cores for u, spec in self.board.background if u in cpu_units)
        self.background = BackgroundLoad(min(workers, os.cpu_count() or 1) if self.config.background else 0)
        self._applied: dict = {}
        #: per application, its frame queue (None: frames paced by fps without a queue, or back to back)
        self.frame_queues: list[Optional[FrameQueue]] = [
            FrameQueue(a.fps, a.queue) if a.fps > 0 and a.queue > 0 else None for a in self.apps]
        #: the live board always has a state to carry into the next step (measured temperatures,
        #: frame queues, the energy window), whatever the scenario models
        self.stateful = True
        self._thermal_faults: dict[str, str] = {}  # unit -> the current problem of its zones
        self._last_latency: list[float] = [0.0] * len(self.apps)  # per app, its last measured mean, ms
        self._staged: Optional[tuple] = None
        #: waits out a period in which no application runs (tests replace it)
        self.sleep: Callable[[float], None] = time.sleep
        self.reset(seed)

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> None:
        """Load the model and open the actuator (idempotent)."""
        if self.runner is None:
            self.runner = self._build_runner()
        if self.actuator is None:
            act = HardwareActuator(self.config.sysfs_root, statefile=self.config.statefile,
                                   observe_only=self.config.observe_only, handlers=self.config.handlers)
            act.open()
            self.actuator = act
            if self.measurements is None:
                # from now on the sampler is the sensors' only reader (RAPL readers difference
                # against their previous read): nothing else calls act.read_power()
                self.measurements = Measurements(act.sensors, self.platform, act.fs,
                                                 rate_hz=self.config.power_rate_hz,
                                                 threaded=self.config.power_threaded)
            self.measurements.start()

    def _build_runner(self) -> Any:
        """A runner of the configured model (one per application: each switches its own levels)."""
        if str(self.config.model).startswith("onnx:"):
            device = self.config.device
            if device == "auto" and self.board.units[self.board.scenario_unit].kind != "gpu":
                device = "cpu"
            return load_onnx_runner(self.config.model, self.config.inputs, device)
        model = load_model(self.config.model)
        device = self.config.device
        if device == "auto":
            device = "cpu"
            if self.board.units[self.board.scenario_unit].kind == "gpu":
                try:
                    import torch

                    device = "cuda" if torch.cuda.is_available() else "cpu"
                except ImportError:  # pragma: no cover
                    device = "cpu"
        return InferenceRunner(model, self.config.inputs, device=device)

    def _runner_for(self, app_index: int) -> Any:
        """Application ``app_index``'s runner: :attr:`runner` for the first, its own for the others."""
        if app_index == 0:
            return self.runner
        runner = self.app_runners.get(app_index)
        if runner is None:
            runner = self.app_runners[app_index] = (self.runner_factory or self._build_runner)()
        return runner

    def close(self) -> None:
        """Stop the background workers and restore the board (idempotent); what could not be
        restored is logged and kept in :attr:`restore_problems` (the state file stays, in
        :attr:`kept_statefile`)."""
        try:
            if self.measurements is not None:
                self.measurements.stop()
                if self._own_measurements:
                    self.measurements = None
        finally:
            self._close_board()

    def _close_board(self) -> None:
        try:
            self.background.stop()
        finally:
            if self.actuator is not None:
                act, self.actuator = self.actuator, None
                problems = act.close()
                for p in problems:
                    log.warning("rlrm: restore: %s", p)
                if problems:
                    self.restore_problems += problems
                    self.kept_statefile = act.guard.statefile

    def reset(self, seed: Optional[int] = None) -> None:
        """Back to time 0 of the scenario (the board stays open)."""
        super().reset(seed)
        self._applied = {}
        self._wall_start = time.perf_counter()
        if self.measurements is not None and self.actuator is not None:
            self.measurements.restart()

    def reset_dynamics(self) -> None:
        """The state at time 0: empty frame queues, a full energy window, and the temperatures
        the thermal zones read now (where the board is measured; else the scenario's start)."""
        super().reset_dynamics()
        for q in getattr(self, "frame_queues", ()):
            if q is not None:
                q.reset()
        self._staged = None
        if self.measurements is not None:
            names = self.unit_names
            readings = self.measurements.temperatures()
            self.temperature_c = [readings[n].value if n in readings and readings[n].value is not None else t
                                  for n, t in zip(names, self.temperature_c)]

    def preview(self, points: Sequence[Optional[OperatingPoint]]) -> StepResult:
        """Refused: a step on the board cannot be known before it runs (the oracle needs the simulator)."""
        raise InputError("backend", "live", "the live backend cannot preview a step (the oracle needs the simulator)")

    # ------------------------------------------------------------------ actuation
    def _clusters_of(self, unit_name: str) -> list[Any]:
        act = self.actuator
        unit = self.platform.units[unit_name]
        paths = [Path(p).name for p in (unit.sysfs or {}).get("cpufreq_policies", [])]
        clusters = [c for c in act.clusters if c.active and (not paths or c.name in paths)]
        return clusters or [c for c in act.clusters if c.active]

    def _apply(self, unit_name: str, freq_khz: int, cores: int) -> bool:
        """Set the unit's frequency (nearest of the hardware's table) and this process's cores;
        True when the frequency was written."""
        act = self.actuator
        unit = self.platform.units[unit_name]
        key = (unit_name, freq_khz, cores)
        if self._applied.get(unit_name) == key:
            return self._applied.get(("ok", unit_name), False)
        ok = False
        try:
            if unit.kind == "cpu":
                for c in self._clusters_of(unit_name):
                    khz = min(c.available_khz, key=lambda f: abs(f - freq_khz)) if c.available_khz else freq_khz
                    ok = act.set_cpu_frequency(c.name, khz) or ok
                if cores > 0:
                    n = min(cores, max(1, len(act.cores.candidates())))
                    act.set_cores(n)
            elif act.gpu is not None:
                table = list(getattr(act.gpu, "available_hz", ()) or ())
                khz = freq_khz if not table else min(table, key=lambda f: abs(f - freq_khz * 1000)) // 1000
                ok = act.set_gpu_frequency(khz)
        except (InputError, ValueError, OSError) as err:
            log.warning("rlrm: could not apply %s at %s kHz: %s", unit_name, freq_khz, err)
        self._applied[unit_name] = key
        self._applied[("ok", unit_name)] = ok
        return ok

    # ------------------------------------------------------------------ dynamics
    def _model_level(self, subnet: int, a_i: int) -> int:
        n = len(self.board.top1[a_i])
        m = self.runner.n_levels
        return subnet if n == m else int(round(subnet * (m - 1) / max(1, n - 1)))

    def _apply_background(self) -> list[float]:
        """Start this step's real background load; the load per unit, where the scenario put it."""
        units = self.board.units
        pending = self.pending_background
        cpu_units = [u for u in range(len(units)) if units[u].kind == "cpu"]
        if any(pending[u] > 0 for u in range(len(units)) if u not in cpu_units) and not self._warned_gpu_bg:
            log.warning("rlrm: GPU background load cannot be generated here; ignored")
            self._warned_gpu_bg = True
        cpu_load = self.background.set_load(sum(pending[u] for u in cpu_units))
        applied = [0.0] * len(units)
        total = max(1e-12, sum(pending[v] for v in cpu_units))
        for u in cpu_units:
            applied[u] = cpu_load * pending[u] / total if cpu_load else 0.0
        return applied

    def execute(self, plan: Plan) -> StepResult:
        """Apply ``plan`` to the board, run each active application's subnetwork for its share of
        the period and measure latency and power (see the class docstring)."""
        self.open()
        assert self.runner is not None
        board = self.board
        units = board.units
        online, freq_idx = plan.online, plan.freq_index
        bg_applied = self._apply_background()

        applied_any = False
        tally = self.tally()
        deadline = self.targets.latency_ms
        suspended = self.window_left_j() <= 0.0  # the energy window's budget is spent
        runs = list(self.running(plan, self.tally()))  # the active apps (inactive ones tallied below)
        halted = {a_i for a_i, *_ in runs if suspended and self.apps[a_i].controlled}
        jobs, job_apps = [], []
        for a_i, p, u, unit in runs:
            if a_i in halted:
                continue
            applied_any = self._apply(unit.name, unit.freqs_khz[freq_idx[u]], board.option_cores[p.option]) or applied_any
            jobs.append(AppJob(self._runner_for(a_i), self._model_level(p.subnet, a_i), self.period_s,
                               self.apps[a_i].fps, self.frame_queues[a_i]))
            job_apps.append(a_i)
        # every active application runs the whole period, at the same time as the others
        latencies = dict(zip(job_apps, self._concurrent.run(jobs)))
        for q, active in zip(self.frame_queues, plan.active):
            if q is not None and not active:
                q.reset()  # an application that does not run has no camera feeding it
        if halted and not jobs:
            self.sleep(self.period_s)  # the period passes with nothing running
        for a_i, p, u, unit in self.running(plan, tally):
            self._tally_app(tally, a_i, p, u, unit, freq_idx[u], latencies.get(a_i, []), a_i in halted, deadline)

        for u in range(len(units)):
            tally.busy[u] += bg_applied[u]
            tally.activity[u] += bg_applied[u] * 0.5
        assert self.measurements is not None
        period = self.measurements.period()
        power_units, modelled_util = board.unit_power(tally.busy, tally.activity, freq_idx, online, self.power_scale)
        names = [u.name for u in units]
        util_tagged = period.utilisation(names, modelled_util)
        util = [float(t.value) if t.value is not None else m for t, m in zip(util_tagged, modelled_util)]
        requested = [units[u].freqs_khz[freq_idx[u]] for u in range(len(units))]
        freq_tagged = period.freq_khz(names, requested)
        freqs = [int(t.value) if t.value is not None else r for t, r in zip(freq_tagged, requested)]
        power, estimated, fault = self._read_power(power_units, period.readings())
        duration_s = period.power.duration_s
        energy_mj = None
        if power is None:
            power = self.platform.base_power_w + sum(power_units)
        elif self._rails is not None:
            energy_j = period.power.energy_j(self._rails)
            if energy_j is not None and duration_s > 0:
                if self._rail_units is not None:  # per-unit rails (Odroid): + base and unmeasured units
                    unmeasured = sum(p for u, p in enumerate(power_units) if u not in self._rail_units)
                    energy_j += (self.platform.base_power_w + unmeasured) * duration_s
                energy_mj = energy_j * 1000.0
        background = [min(1.0, bg_applied[u] / online[u]) if units[u].kind == "cpu" else 0.0 for u in range(len(units))]
        temp_tagged = period.temperature_c(names, self.temperature_c)
        temps = [t.value for t in temp_tagged]
        thermal_fault = self._check_thermal(period.temperature_faults())
        zoned = [i for i, u in enumerate(units) if self.platform.units[u.name].thermal is not None]
        spent_j = (energy_mj if energy_mj is not None else power * self.period_s * 1000.0) / 1000.0
        window_used = self.window_energy_j + spent_j
        budget_j = self.targets.energy_window_j
        queued = [q is not None for q in self.frame_queues]
        provenance = {"latency_ms": MEASURED, "inferences": MEASURED, "deadline_miss": MEASURED,
                      "utilisation": MeasuredPeriod.field_source(util_tagged),
                      "freq_khz": MeasuredPeriod.field_source(freq_tagged)}
        if zoned:
            provenance["temperature_c"] = MeasuredPeriod.field_source([temp_tagged[i] for i in zoned])
        if any(queued):
            provenance["queue"] = MEASURED
        if not estimated:
            provenance.update(power_w=MEASURED, energy_mj=MEASURED, energy_per_inference_mj=MEASURED,
                              energy_window_left_j=MEASURED)
        sources = MeasuredPeriod.sources(not estimated, utilisation=util_tagged, freq_khz=freq_tagged,
                                         temperature_c=temp_tagged)
        sources["queue"] = [MEASURED if q else MODELLED for q in queued]
        sources["energy_window"] = MEASURED if not estimated else MODELLED
        self.last_measurement = {
            "sources": sources,
            "power_samples": period.power.samples, "power_max_gap_s": period.power.max_gap_s,
            "period_s": duration_s,
        }
        if thermal_fault:
            self.last_measurement["thermal_problems"] = dict(self._thermal_faults)
        self._staged = (temps, window_used, [p.subnet if a else s for p, a, s in
                                             zip(plan.points, plan.active, self.last_subnet)])
        return self.result(plan, tally, power_units, util, power, background, energy_estimated=estimated,
                           sensor_fault=fault, thermal_fault=thermal_fault, freq_applied=applied_any, backend="live",
                           provenance=provenance, freq_khz=freqs, energy_mj=energy_mj,
                           temperature_c=temps if any(t is not None for t in temps) else None,
                           energy_window_left_j=budget_j - window_used if budget_j < INF else None)

    def _tally_app(self, tally: Any, a_i: int, p: OperatingPoint, u: int, unit: Any, fi: int,
                   lat: list, halted: bool, deadline: float) -> None:
        """Account one application's period: its latencies, and with a frame queue the frames
        it dropped and left waiting (halted: the energy window is spent, nothing ran)."""
        queue = self.frame_queues[a_i]
        served: Optional[ServedPeriod] = None
        if queue is not None:
            served = queue.halt(0.0) if halted else queue.last
        infer = served.inference_ms if served is not None else lat
        dropped = float(served.dropped) if served is not None else None
        if halted and served is None:
            fps = self.apps[a_i].fps
            dropped = fps * self.period_s if fps > 0 else 0.0
        n_inf = float(len(lat))
        late = sum(1 for x in lat if x > deadline) if deadline < INF else 0
        seen = n_inf + (dropped or 0.0)
        miss = (late + (dropped or 0.0)) / seen if seen > 0 else (1.0 if halted else 0.0)
        if lat:
            self._last_latency[a_i] = sum(lat) / n_inf
        mean = self._last_latency[a_i]
        median = sorted(lat)[len(lat) // 2] if lat else mean
        busy = min(1.0, sum(infer) / 1000.0 / self.period_s)
        tally.add(a_i, p, u, unit.freqs_khz[fi], busy, n_inf, mean, median, miss, dropped,
                  float(served.backlog) if served is not None else None)

    def _check_thermal(self, faults: Mapping[str, str]) -> bool:
        """Warn when a unit's thermal zones stop reading (once) and when they read again; True
        while any does not read."""
        for unit, problem in faults.items():
            if unit not in self._thermal_faults:
                log.warning("rlrm: thermal zone %s at step %d: %s keeps its last temperature (modelled) until "
                            "it reads again (thermal_fault in the step info)", problem, self.step_index, unit)
        for unit in [u for u in self._thermal_faults if u not in faults]:
            log.warning("rlrm: thermal zones of %s read again at step %d", unit, self.step_index)
        self._thermal_faults = dict(faults)
        return bool(faults)

    def commit(self, result: StepResult) -> None:
        """Carry the measured state into the next step: the temperatures read at the end of the
        step, each frame queue's backlog, the energy spent in the window (a new window starts
        empty), the subnetworks run."""
        if self._staged is None:
            return
        temps, window_used, subnets = self._staged
        self._staged = None
        self.temperature_c = temps
        self.backlog = [float(q.backlog) if q is not None else 0.0 for q in self.frame_queues]
        self.last_subnet = subnets
        window = self.board.window_s
        t_next = (self.step_index + 1) * self.period_s
        if math.floor(t_next / window + 1e-9) != math.floor(self.time_s / window + 1e-9):
            window_used = 0.0  # a new window starts with the next step
        self.window_energy_j = window_used

    def _read_power(self, power_units: Sequence[float], readings: Mapping[str, Any]) -> tuple[Optional[float], bool, bool]:
        """Board power from the sensors' readings over the period: ``(watts, estimated, sensor_fault)``.

        ``(None, True, False)`` when the board has no sensors; ``(None, True, True)`` when it
        has some but a rail in use is gone or garbled (the caller uses the power model).

        :param power_units: the power model's per-unit power this step (for the units no rail measures)
        :param readings: ``{rail: Reading}``, each rail's mean power over the period
            (:meth:`MeasuredPeriod.readings`); empty when the board has no sensors
        """
        if self.measurements is None or not self.measurements.has_sensors:
            self.energy_estimated = True
            return None, True, False
        good = {k: r.value for k, r in readings.items() if r.value is not None and math.isfinite(r.value)}
        if self._rails is None and good:
            self._rails, self._rail_units = self._choose_rails(good)
        rails = self._rails or sorted(readings)
        missing = [k for k in rails if k not in good]
        if missing or not rails:
            name = missing[0] if missing else "power"
            reading = readings.get(name)
            problem = (reading.problem if reading is not None and reading.problem else "no reading")
            self._flag_sensor_fault(f"{name}: {problem}")
            self.energy_estimated = True
            return None, True, True
        if self._sensor_fault is not None:
            log.warning("rlrm: power sensors read again at step %d; power is measured again", self.step_index)
            self._sensor_fault = None
        self.energy_estimated = False
        measured = float(sum(good[k] for k in rails))
        if self._rail_units is None:
            return measured, False, False
        unmeasured = sum(p for u, p in enumerate(power_units) if u not in self._rail_units)
        return self.platform.base_power_w + measured + unmeasured, False, False

    def _choose_rails(self, good: dict[str, float]) -> tuple[list[str], Optional[set[int]]]:
        """The rails that make up board power, and the units they stand for.

        The board's input rail alone when it has one (``(rails, None)``: whole-board power).
        Else the rails the profile says measure units (Odroid XU3: A15, A7, GPU): board power is
        then the profile's ``base_power_w`` + those rails + the power model's value for the units
        no rail measures, the same quantity the simulator reports (rails measuring ``board``
        without being an input rail, such as the Odroid's MEM, are part of the base). Else
        (rails the profile does not describe) the sum of all of them, as read.
        """
        inputs = [k for k in good if k.upper() in INPUT_RAILS]
        if inputs:
            return inputs[:1], None
        index = {u.name: i for i, u in enumerate(self.board.units)}
        unit_rails, covered = [], set()
        for sensor in self.platform.sensors:
            if sensor.name in good and sensor.measures and all(m in index for m in sensor.measures):
                unit_rails.append(sensor.name)
                covered.update(index[m] for m in sensor.measures)
        if unit_rails:
            return unit_rails, covered
        return sorted(good), None

    def _flag_sensor_fault(self, what: str) -> None:
        """Count a step on the estimate; warn when the fault starts (not on every step)."""
        self.sensor_fault_steps += 1
        if self._sensor_fault is None:
            log.warning("rlrm: power sensor %s at step %d: using the power model's estimate until it reads again "
                        "(sensor_fault in the metrics)", what, self.step_index)
        self._sensor_fault = what
