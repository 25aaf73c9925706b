""":class:`LiveBoard`: the simulator's interface, measured on the real machine."""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from rlrm.errors import InputError
from rlrm.live.background import BackgroundLoad
from rlrm.live.inference import InferenceRunner, load_model
from rlrm.platform.profile import Platform
from rlrm.sim.scenario import INF, Scenario
from rlrm.sim.simulator import BoardSimulator, OperatingPoint, StepResult

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
    """

    model: str = "demo"
    inputs: str = "synthetic"
    sysfs_root: Optional[str] = None
    observe_only: Optional[bool] = None
    statefile: Optional[str] = None
    background: bool = True
    device: str = "auto"
    handlers: bool = True


class LiveBoard(BoardSimulator):
    """The board itself behind :class:`~rlrm.sim.BoardSimulator`'s interface.

    Options, power modes, targets and the background schedule come from the profile, the
    traces and the scenario exactly as in simulation (so the observation and action spaces
    are the simulator's). :meth:`step` instead applies the operating point through
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

    Subnetwork level ``s`` of the trace maps to the model's level ``round(s * (m - 1) / (n - 1))``
    (the same when the model is the library's); accuracy is the library's top-1 of ``s``.
    Active applications share the period: each runs for ``period / active`` seconds in turn.

    :param platform: the board profile
    :param scenario: the workload scenario
    :param traces: optional ``{library: Trace}`` (targets and options as in simulation)
    :param period_s: control period; the scenario's when None
    :param config: the live settings (:class:`LiveConfig`)
    :param runner: an :class:`InferenceRunner` to reuse (else one is built from ``config``)
    """

    def __init__(self, platform: Platform, scenario: Scenario, traces: Optional[dict] = None,
                 period_s: Optional[float] = None, config: Optional[LiveConfig] = None,
                 runner: Optional[InferenceRunner] = None) -> None:
        super().__init__(platform, scenario, traces=traces, period_s=period_s)
        self.config = config or LiveConfig()
        self.runner = runner
        self.actuator: Any = None
        self.energy_estimated = True
        self.sensor_fault_steps = 0
        self.restore_problems: list[str] = []  # what close() could not put back (the kernel refused)
        self.kept_statefile: Optional[Path] = None  # then the originals are here, for `rlrm restore`
        self._rails: Optional[list[str]] = None  # the rails summed for board power, fixed at the first good read
        self._rail_units: Optional[set[int]] = None  # the units those rails measure (None: the whole board)
        self._sensor_fault: Optional[str] = None  # the current fault (None: sensors fine)
        self._warned_gpu_bg = False
        cpu_units = [i for i, u in enumerate(self._units) if u.kind == "cpu"]
        workers = sum(spec.cores for u, spec in self._bg if u in cpu_units)
        self.background = BackgroundLoad(min(workers, os.cpu_count() or 1) if self.config.background else 0)
        self._applied: dict = {}

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> None:
        """Load the model and open the actuator (idempotent)."""
        if self.runner is None and str(self.config.model).startswith("onnx:"):
            from rlrm.live.onnx_inference import load_onnx_runner

            device = self.config.device
            if device == "auto" and self._units[self._scenario_unit].kind != "gpu":
                device = "cpu"
            self.runner = load_onnx_runner(self.config.model, self.config.inputs, device)  # type: ignore[assignment]
        if self.runner is None:
            model = load_model(self.config.model)
            device = self.config.device
            if device == "auto":
                device = "cpu"
                if self._units[self._scenario_unit].kind == "gpu":
                    try:
                        import torch

                        device = "cuda" if torch.cuda.is_available() else "cpu"
                    except ImportError:  # pragma: no cover
                        device = "cpu"
            self.runner = InferenceRunner(model, self.config.inputs, device=device)
        if self.actuator is None:
            from rlrm.hw import HardwareActuator

            act = HardwareActuator(self.config.sysfs_root, statefile=self.config.statefile,
                                   observe_only=self.config.observe_only, handlers=self.config.handlers)
            act.open()
            self.actuator = act

    def close(self) -> None:
        """Stop the background workers and restore the board (idempotent); what could not be
        restored is logged and kept in :attr:`restore_problems` (the state file stays, in
        :attr:`kept_statefile`)."""
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
        super().reset(seed)
        self._applied = {}
        self._wall_start = time.perf_counter()

    def preview(self, points: Sequence[Optional[OperatingPoint]]) -> dict:
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
    def step(self, points: Sequence[Optional[OperatingPoint]]) -> dict:
        self.open()
        result = self._measure(points)
        self._last_freq = result["freq_index"]
        self.step_index += 1
        self.time_s = self.step_index * self.period_s
        self._draw_pending()
        return result

    def _model_level(self, subnet: int, a_i: int) -> int:
        n = len(self._top1[a_i])
        m = self.runner.n_levels
        return subnet if n == m else int(round(subnet * (m - 1) / max(1, n - 1)))

    def _measure(self, points: Sequence[Optional[OperatingPoint]]) -> dict:
        units = self._units
        n_units = len(units)
        pts = self._resolve_points(points)
        active = self.active
        online = [self.online_cores(i) for i in range(n_units)]
        freq_idx = [-1] * n_units
        for a_i, p in enumerate(pts):
            if active[a_i]:
                u = self._opt_unit[p.option]
                freq_idx[u] = max(freq_idx[u], min(p.freq_index, self.max_freq_index(u)))
        for u in range(n_units):
            if freq_idx[u] < 0:
                freq_idx[u] = self._schedutil_index(u, self._pending_bg[u] / online[u])

        # real background load for this step
        bg_applied = [0.0] * n_units
        cpu_load = 0.0
        for u in range(n_units):
            if units[u].kind == "cpu":
                cpu_load += self._pending_bg[u]
            elif self._pending_bg[u] > 0 and not self._warned_gpu_bg:
                log.warning("rlrm: GPU background load cannot be generated here; ignored")
                self._warned_gpu_bg = True
        cpu_load = self.background.set_load(cpu_load)
        cpu_units = [u for u in range(n_units) if units[u].kind == "cpu"]
        for u in cpu_units:  # report the load where the scenario put it
            share = self._pending_bg[u] / max(1e-12, sum(self._pending_bg[v] for v in cpu_units))
            bg_applied[u] = cpu_load * share if cpu_load else 0.0

        n_active = max(1, sum(1 for a in active if a))
        slot = self.period_s / n_active
        applied_any = False
        apps_out: list = []
        busy_units = [0.0] * n_units
        act_units = [0.0] * n_units
        total_inf = 0.0
        deadline = self.targets.latency_ms
        for a_i, p in enumerate(pts):
            if not active[a_i]:
                apps_out.append(None)
                continue
            u = self._opt_unit[p.option]
            unit = units[u]
            cores = self._opt_cores[p.option]
            applied_any = self._apply(unit.name, unit.freqs_khz[freq_idx[u]], cores) or applied_any
            self.runner.switch(self._model_level(p.subnet, a_i))
            lat = self.runner.run_for(slot, fps=self.apps[a_i].fps)
            n_inf = float(len(lat))
            mean = sum(lat) / n_inf
            srt = sorted(lat)
            median = srt[len(srt) // 2]
            miss = sum(1 for x in lat if x > deadline) / n_inf if deadline < INF else 0.0
            if self.apps[a_i].controlled:
                total_inf += n_inf
            busy = min(1.0, sum(lat) / 1000.0 / self.period_s)
            share = busy * (cores if unit.kind == "cpu" else 1.0)
            busy_units[u] += share
            act_units[u] += share * self._act[a_i][p.subnet][p.option]
            apps_out.append({"controlled": self.apps[a_i].controlled, "latency_ms": mean, "latency_median_ms": median,
                             "inferences": n_inf, "deadline_miss": miss, "accuracy": self._top1[a_i][p.subnet],
                             "subnet": p.subnet, "unit": unit.name, "cores": cores,
                             "freq_khz": unit.freqs_khz[freq_idx[u]]})

        for u in range(n_units):
            busy_units[u] += bg_applied[u]
            act_units[u] += bg_applied[u] * 0.5
        power_units, util = self._unit_power(busy_units, act_units, freq_idx, online)
        power, estimated, fault = self._read_power(power_units)
        if power is None:
            power = self.platform.base_power_w + sum(power_units)
        energy_mj = power * self.period_s * 1000.0
        return StepResult({
            "step": self.step_index, "time_s": self.time_s, "apps": apps_out,
            "power_w": power, "energy_mj": energy_mj, "inferences": total_inf,
            "energy_per_inference_mj": energy_mj / total_inf if total_inf > 0 else INF,
            "unit_power_w": power_units, "utilisation": util, "freq_index": freq_idx,
            "freq_khz": [units[u].freqs_khz[freq_idx[u]] for u in range(n_units)],
            "background": [min(1.0, bg_applied[u] / online[u]) if units[u].kind == "cpu" else 0.0
                           for u in range(n_units)],
            "targets": self.targets, "power_mode": self.power_mode.name,
            "energy_estimated": estimated, "sensor_fault": fault, "freq_applied": applied_any, "backend": "live",
        })

    def _read_power(self, power_units: Sequence[float]) -> tuple[Optional[float], bool, bool]:
        """Board power from the sensors: ``(watts, estimated, sensor_fault)``.

        ``(None, True, False)`` when the board has no sensors; ``(None, True, True)`` when it
        has some but a rail in use is gone or garbled (the caller uses the power model).

        :param power_units: the power model's per-unit power this step (for the units no rail measures)
        """
        act = self.actuator
        if act is None or not act.sensors:
            self.energy_estimated = True
            return None, True, False
        readings = act.read_power()
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
        index = {u.name: i for i, u in enumerate(self._units)}
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
