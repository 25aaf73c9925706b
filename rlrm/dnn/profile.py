"""``rlrm profile``: measure a sub-network library on this machine, write a board profile
and a trace the simulator loads.

For every compute option the machine offers here (CPU thread counts, each pinned to as many
cores; CUDA if present) and every CPU frequency where cpufreq is writable, every level is
run on one image under ``torch.inference_mode`` (as ``rlrm run`` runs it) after a warm-up, repeated until the median's 95 % confidence interval
(order statistics) is within a stated width of it or a run count / time budget is spent:
median and 90th percentile of the latency, the share of
the used cores' time the process kept busy (the trace's ``activity``), and package power
where :mod:`rlrm.hw` finds a sensor (INA3221, INA231, RAPL, hwmon; else ``power_w`` is null). Results go through the board
profile and trace writers of :mod:`rlrm.platform` and :mod:`rlrm.sim.trace`; cpufreq and
the power sensors are driven through :mod:`rlrm.hw` (its :class:`~rlrm.hw.StateGuard` saves
every value before the first write and puts it back, also on SIGINT/SIGTERM).
"""

from __future__ import annotations

import datetime
import math
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import torch

from rlrm.dnn.dynamic_ofa import DynamicOFA
from rlrm.dnn.hostinfo import cpu_model_name, estimate_tdp_w, nominal_freq_khz
from rlrm.dnn.library import SubnetLibrary
from rlrm.dnn.measure import Measurement, measure, pool, repeatability, repeatability_text
from rlrm.dnn.profile_contention import ROUNDS as CONTENTION_ROUNDS
from rlrm.dnn.profile_contention import SETTLE_S, ContentionSampler, combine_levels, measure_contention
from rlrm.errors import InputError
from rlrm.hw import CpuPolicy, PowerReader, StateGuard, Sysfs, auto_discover, discover_policies
from rlrm.hw.affinity import set_process_affinity
from rlrm.hw.cpufreq import KHZ_MAX, KHZ_MIN
from rlrm.platform.contention import ContentionTable
from rlrm.platform.profile import ComputeUnit, Platform, PowerMode, PowerModel, Sensor, load_platform, save_platform
from rlrm.sim.trace import SubnetInfo, Trace, TraceEntry, load_trace, save_trace

#: Placeholder voltage where the machine does not expose one: every operating point gets it,
#: so the estimated power model scales with frequency alone (the profile says so).
PLACEHOLDER_MV = 1000.0
MISSING_POWER = "missing: no power sensor readable on this machine"
#: Share of the full-load power an estimated model puts in the static (leakage) part.
STATIC_SHARE = 0.3
#: Activity of an idle, clocked core in an estimated model.
IDLE_ACTIVITY = 0.05
#: Full-load power assumed for a CUDA GPU whose power is not measured, W.
GPU_ESTIMATE_W = 30.0


#: most rounds ``rlrm profile --rounds`` takes
MAX_ROUNDS = 100


def default_contention_levels(n_levels: int) -> list[int]:
    """The levels ``rlrm profile`` measures contention at by default: lowest, middle, highest."""
    return sorted({0, n_levels // 2, n_levels - 1})


def estimated_power_model(full_load_w: float, busy_slots: int, f_max_khz: int, source: str) -> PowerModel:
    """A power model that draws ``full_load_w`` with every slot busy (activity 1) at ``f_max_khz``
    and the placeholder voltage: :data:`STATIC_SHARE` of it static, the rest dynamic, linear in
    frequency. Used where no sensor could fit one; its ``source`` starts with ``estimated:``."""
    f_ghz = max(f_max_khz, 1) / 1e6
    v = PLACEHOLDER_MV / 1000.0
    ceff = (1.0 - STATIC_SHARE) * full_load_w / (max(1, busy_slots) * v * v * f_ghz)
    return PowerModel(round(ceff, 6), round(STATIC_SHARE * full_load_w, 4), IDLE_ACTIVITY,
                      f"estimated: {full_load_w:.3g} W at full load ({source}); {STATIC_SHARE:.0%} static, "
                      f"the rest dynamic, linear in frequency (voltage not known); idle activity {IDLE_ACTIVITY:g}")


def peak_measured_power_w(results: Optional[dict]) -> Optional[float]:
    """The highest board power measured over a profile's results (None without a sensor)."""
    watts = [m.power_w for pts in (results or {}).values() for _, m in pts if m.power_w is not None]
    return max(watts) if watts else None


@dataclass(frozen=True)
class ComputeOption:
    """Where an inference runs.

    :param unit: unit name in the profile (``cpu``, ``gpu``)
    :param cores: CPU: threads, pinned to as many cores; GPU: 0
    :param cpus: the cores the process is pinned to (CPU options)
    """

    unit: str
    cores: int
    cpus: tuple[int, ...] = ()


#: Rails that measure the whole board's input (the others are parts of it).
BOARD_RAILS = ("VDD_IN", "POM_5V_IN")


def board_power(readers: Sequence[PowerReader]) -> Optional[Callable[[], Optional[float]]]:
    """A function returning the board's power in watts: the total-input rail where there is
    one (Jetson ``VDD_IN``), else the sum of every rail (Odroid A15 + A7 + GPU + MEM, RAPL
    packages); None without sensors. A reading with a missing rail is None."""
    if not readers:
        return None
    total = [r for r in readers if r.name in BOARD_RAILS]
    use = total[:1] or list(readers)

    def read() -> Optional[float]:
        values = [r.read().value for r in use]
        return None if any(v is None for v in values) else float(sum(values))  # type: ignore[arg-type]

    return read


def fit_compute_fraction(points: Sequence[tuple[int, float]]) -> float:
    """Least-squares ``cf`` of ``t(f) = t_max * (cf * f_max / f + 1 - cf)`` over
    ``(freq_khz, latency_ms)`` points, clamped to [0, 1]."""
    f_max = max(f for f, _ in points)
    t_max = next(t for f, t in points if f == f_max)
    xs = [f_max / f - 1.0 for f, _ in points]
    ys = [t / t_max - 1.0 for _, t in points]
    den = sum(x * x for x in xs)
    if den == 0:
        return 1.0
    return min(1.0, max(0.0, sum(x * y for x, y in zip(xs, ys)) / den))


class HostProfiler:
    """Measures a Dynamic-OFA model's levels on this machine.

    :param model: the model (its weights' values do not change latency)
    :param name: profile name (``host``)
    :param threads: CPU thread counts to measure (default: 1..number of usable cores)
    :param warmup: untimed runs per measurement
    :param repeats: timed runs per measurement
    :param frequencies: measure every frequency where cpufreq is writable
    :param cuda: measure CUDA if available
    :param root: filesystem root for sysfs/procfs (default: ``$RLRM_SYSFS_ROOT`` or ``/``;
        tests use a fake tree)
    :param freq_steps: measure only this many frequencies, evenly spread, lowest and highest
        included (default: all)
    :param target_ci: repeat each measurement (beyond ``repeats``) until its median's 95 %
        confidence interval is at most this wide relative to the median (None: ``repeats`` runs)
    :param max_repeats: at most this many timed runs per measurement (with ``target_ci``)
    :param budget_s: at most this many seconds of timed runs per measurement (with ``target_ci``)
    :param contention_s: seconds of timed runs per (core count, background) cell of the CPU
        unit's contention table (:mod:`rlrm.dnn.profile_contention`), in a burst of rounds per
        level; with ``rounds`` >= 3, twice that in all, one contention round per level after
        each of the profile's rounds (:attr:`contention_round_s` each); 0: not measured (the
        simulator then uses its analytical contention model)
    :param contention_levels: the levels the contention table is measured at (default: the
        lowest, the middle and the highest; the simulator interpolates between them)
    :param rounds: sweeps over every measurement, pooled (:func:`pool`); each round takes
        ``1/rounds`` of ``repeats`` (at least one run), ``max_repeats`` and ``budget_s``, in
        alternating order, and stops at ``sqrt(rounds)`` times ``target_ci`` (the pooled
        interval is about ``sqrt(rounds)`` times narrower; the pooled one is what is reported). Rounds spread
        over the profile's time keep a slow or fast moment of the machine out of it.
    """

    def __init__(
        self,
        model: DynamicOFA,
        name: str = "host",
        threads: Optional[Sequence[int]] = None,
        warmup: int = 3,
        repeats: int = 20,
        frequencies: bool = True,
        cuda: bool = True,
        root: Optional[Path] = None,
        freq_steps: Optional[int] = None,
        target_ci: Optional[float] = None,
        max_repeats: Optional[int] = None,
        budget_s: Optional[float] = None,
        contention_s: float = 0.0,
        contention_levels: Optional[Sequence[int]] = None,
        rounds: int = 1,
    ) -> None:
        self.model = model.eval()
        self.name = name
        self.fs = Sysfs(root)
        self.root = self.fs.root
        self.warmup, self.repeats = warmup, repeats
        self.target_ci, self.max_repeats, self.budget_s = target_ci, max_repeats, budget_s
        self.last_repeatability: Optional[dict[str, Any]] = None
        self.allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
        n_cpu = os.cpu_count() or len(self.allowed)
        self.n_cores = n_cpu
        usable = len(self.allowed)
        self.threads = sorted(set(threads)) if threads else list(range(1, usable + 1))
        for t in self.threads:
            if not 1 <= t <= usable:
                raise InputError("--threads", "threads", f"{t} is not in 1..{usable} (cores this process may use)")
        self.policies = [p for p in discover_policies(self.fs) if p.active]
        self.writable = [p for p in self.policies if p.available_khz and self._can_pin(p)] if frequencies else []
        self.freq_steps = freq_steps
        self.readers = auto_discover(self.fs)
        self.power = board_power(self.readers)
        self.cuda = cuda and torch.cuda.is_available()
        self.contention_s = float(contention_s)
        if not 1 <= int(rounds) <= MAX_ROUNDS:
            raise InputError("--rounds", "rounds", f"need 1..{MAX_ROUNDS}, got {rounds}")
        self.rounds = int(rounds)
        self.contention_levels = (default_contention_levels(model.n_levels) if contention_levels is None
                                  else sorted(set(int(lv) for lv in contention_levels)))
        for lv in self.contention_levels:
            if not 0 <= lv < model.n_levels:
                raise InputError("--contention-level", "contention_level", f"must be 0..{model.n_levels - 1}, got {lv}")
        #: the contention table measured by the last :meth:`run` (None: not measured)
        self.contention: Optional[ContentionTable] = None

    def _can_pin(self, p: CpuPolicy) -> bool:
        return all(self.fs.writable(p.file(f)) for f in ("scaling_min_freq", "scaling_max_freq"))

    # ---------------------------------------------------------------------------- options
    def options(self) -> list[ComputeOption]:
        opts = [ComputeOption("cpu", n, tuple(self.allowed[:n])) for n in self.threads]
        if self.cuda:
            opts.append(ComputeOption("gpu", 0))
        return opts

    def cpu_freqs(self) -> tuple[list[int], str, bool]:
        """Operating points of the ``cpu`` unit, their source, and whether we set them."""
        if self.writable:
            common = sorted(set.intersection(*(set(p.available_khz) for p in self.writable)))
            if common:
                if self.freq_steps and len(common) > self.freq_steps:
                    n = max(2, self.freq_steps)
                    common = sorted({common[round(i * (len(common) - 1) / (n - 1))] for i in range(n)})
                where = ", ".join(str(self.fs.path(p.rel)) for p in self.writable)
                return common, f"cpufreq {where}: scaling_available_frequencies (each pinned in turn)", True
        if self.policies:
            p = self.policies[0]
            f = max(p.available_khz) if p.available_khz else p.cpuinfo_max_khz
            return [f], f"cpufreq {self.fs.path(p.rel)} highest frequency (not writable here: not set)", False
        khz, source = nominal_freq_khz(self.root)
        return [khz], source, False

    def transition_latency_us(self) -> float:
        lat = 0
        for p in self.policies:
            rel = p.file("cpuinfo_transition_latency")
            if self.fs.exists(rel):
                try:
                    lat = max(lat, self.fs.read_int(rel, "transition latency (ns)", minimum=0))
                except InputError:
                    pass
        return lat / 1000.0

    # -------------------------------------------------------------------------- measuring
    def _run_level(self, level: int, device: str) -> Callable[[], Any]:
        r = self.model.library[level].resolution
        x = torch.randn(1, 3, r, r, device=device)
        model = self.model

        def run() -> Any:
            # inference_mode, as rlrm run runs it (rlrm.live.inference): no_grad is up to ~10 % slower here
            with torch.inference_mode():
                return model(x)

        return run

    def run(self, levels: Optional[Sequence[int]] = None, progress: bool = True) -> dict[tuple[int, str, int], list[tuple[int, Measurement]]]:
        """Measure; results keyed by (level, unit, cores), a list of (freq_khz, Measurement)."""
        from tqdm import tqdm

        levels = list(range(self.model.n_levels)) if levels is None else list(levels)
        freqs, _, settable = self.cpu_freqs()
        freq_steps: list[Optional[int]] = list(freqs) if settable else [None]
        opts = self.options()
        jobs = [(f, o, lv) for f in freq_steps for o in opts if not (o.unit == "gpu" and f is not None and f != freq_steps[-1])
                for lv in levels]
        results: dict[tuple[int, str, int], list[tuple[int, Measurement]]] = {}
        threads0 = torch.get_num_threads()
        affinity0 = set(self.allowed)
        level0 = self.model.level
        bar = tqdm(total=len(jobs) * self.rounds, desc=f"rlrm profile {self.name}", unit="run", disable=not progress, file=sys.stderr)
        guard: Optional[StateGuard] = None
        if settable:
            guard = StateGuard(self.fs)
            for p in self.writable:
                guard.plan_limits(p.file("scaling_min_freq"), p.file("scaling_max_freq"), bounds=(KHZ_MIN, KHZ_MAX))
        try:
            current_f: Optional[int] = None
            # One untimed pass over every option and level first: one-time costs (thread
            # pools, allocator, kernel selection) would otherwise land on the first jobs.
            for opt in opts:
                for lv in levels:
                    self._measure_one(opt, lv, warmup=1, repeats=1)
            cpu_threads = [o.cores for o in opts if o.unit == "cpu"]
            measure_c = self.contention_s > 0 and bool(cpu_threads)
            # spread: one contention round per level after each of the profile's rounds (next to a
            # busy core the ratio moves 10-15 % between bursts a minute apart on a shared VM:
            # experiments/results/fidelity.md); with fewer rounds, a burst of rounds per level
            spread = measure_c and self.rounds >= CONTENTION_ROUNDS
            sampler = ContentionSampler(cpu_threads, self.allowed) if spread else None
            contention_after = self.contention_schedule() if measure_c and not spread else {}
            tables = []
            taken: dict[tuple[int, str, int, int], list[Measurement]] = {}
            for r in range(self.rounds):
                for f, opt, lv in (jobs if r % 2 == 0 else jobs[::-1]):
                    if guard is not None and f is not None and f != current_f:
                        for p in self.writable:
                            p.set_frequency(f, guard, method="pin")
                        time.sleep(0.01)
                        current_f = f
                    bar.set_postfix_str(f"{opt.unit}x{opt.cores or ''} level {lv}" + (f" {f / 1000:g} MHz" if f else "")
                                        + (f" round {r + 1}/{self.rounds}" if self.rounds > 1 else ""))
                    m = self._measure_one(opt, lv, share=1.0 / self.rounds)
                    taken.setdefault((lv, opt.unit, opt.cores, f if f is not None else freqs[-1]), []).append(m)
                    bar.update(1)
                burst = contention_after.get(r + 1, [])
                for lv in (self.contention_levels if spread else burst):
                    bar.set_postfix_str(f"contention at level {lv}" + (f" round {r + 1}/{self.rounds}" if spread else ""))
                    if guard is not None and freq_steps[-1] is not None and current_f != freq_steps[-1]:
                        for p in self.writable:  # at the highest frequency, as the table's reference
                            p.set_frequency(freq_steps[-1], guard, method="pin")
                        time.sleep(0.01)
                        current_f = freq_steps[-1]
                    if self.cuda:
                        self.model.to("cpu")
                    self.model.switch(lv)
                    # each its own worker, stopped after it: an idle worker still wakes every cycle; with
                    # one left through the rounds, two-thread entries came out up to 18 % above the live
                    # runs in two fidelity runs (experiments/results/fidelity.md)
                    if sampler is not None:
                        sampler.sample(lv, self._run_level(lv, "cpu"), self.contention_round_s)
                    else:
                        tables.append(measure_contention(self._run_level(lv, "cpu"), lv, cpu_threads, self.allowed,
                                                         self.contention_s))
            if sampler is not None:
                tables = [sampler.table(lv, f"one round after each of the profile's {self.rounds} rounds, spread over "
                                            f"its time") for lv in self.contention_levels]
            for (lv, unit, cores, f), ms in taken.items():
                results.setdefault((lv, unit, cores), []).append((f, pool(ms, self.target_ci)))
            if tables:
                self.contention = combine_levels(tables)
        finally:
            bar.close()
            problems = guard.close() if guard is not None else []
            torch.set_num_threads(threads0)
            if hasattr(os, "sched_setaffinity"):
                set_process_affinity(affinity0)
            if self.cuda:
                self.model.to("cpu")
            if level0 >= 0:
                self.model.switch(level0)
        if problems:
            raise InputError(problems[0], "restore", "could not restore a cpufreq setting; see `rlrm restore`")
        self.last_repeatability = repeatability(results)
        return results

    @property
    def contention_round_s(self) -> float:
        """Timed seconds per contention cell in each of the profile's rounds, when the rounds are
        spread (``rounds`` >= 3): twice ``contention_s`` in all, at least two settle times each."""
        return max(2 * self.contention_s / self.rounds, 2 * SETTLE_S)

    def contention_schedule(self) -> dict[int, list[int]]:
        """After which round (1-based) each contention level is measured: spread evenly between
        the rounds (with one round, all after it)."""
        k, n = len(self.contention_levels), self.rounds
        out: dict[int, list[int]] = {}
        for i, lv in enumerate(self.contention_levels):
            out.setdefault(max(1, min(n, int(n * (i + 1) / (k + 1) + 0.5))), []).append(lv)
        return out

    def _measure_one(self, opt: ComputeOption, level: int, warmup: Optional[int] = None,
                     repeats: Optional[int] = None, share: float = 1.0) -> Measurement:
        """One measurement; ``share``: the fraction of ``repeats``, ``max_repeats`` and ``budget_s``
        it takes (one round of several)."""
        adaptive = repeats is None
        warmup = self.warmup if warmup is None else warmup
        if repeats is None:
            repeats = max(1, math.ceil(self.repeats * share))
        stop = {}
        if adaptive:
            most = None if self.max_repeats is None else max(repeats, math.ceil(self.max_repeats * share))
            # a round of 1/k of the runs has an interval about sqrt(k) times wider than the pooled one
            target = None if self.target_ci is None else self.target_ci / math.sqrt(share)
            stop = dict(target_ci=target, max_repeats=most,
                        budget_s=None if self.budget_s is None else self.budget_s * share)
        self.model.switch(level)
        if opt.unit == "gpu":
            self.model.to("cuda")
            torch.set_num_threads(1)
            return measure(self._run_level(level, "cuda"), warmup, repeats, 1, self.power,
                           sync=torch.cuda.synchronize, **stop)
        if self.cuda:
            self.model.to("cpu")
        torch.set_num_threads(opt.cores)
        if hasattr(os, "sched_setaffinity"):  # every thread of the process, as rlrm run pins it
            set_process_affinity(opt.cpus)
        return measure(self._run_level(level, "cpu"), warmup, repeats, opt.cores, self.power, **stop)

    # ---------------------------------------------------------------------------- results
    @property
    def unit_cores(self) -> int:
        """Cores of the profile's ``cpu`` unit: the most threads measured (a scenario runs on
        all of a unit's cores, so the unit has no more than the trace covers)."""
        return max(self.threads)

    def cpu_power_model(self, f_max_khz: int, results: Optional[dict] = None) -> PowerModel:
        """The ``cpu`` unit's power model: an estimate scaled to the highest power measured
        where a sensor was read, else to the CPU's TDP (:func:`rlrm.dnn.hostinfo.estimate_tdp_w`)."""
        peak = peak_measured_power_w(results)
        if peak is not None and peak > 0:
            return estimated_power_model(peak, self.unit_cores, f_max_khz,
                                         "the highest board power measured while profiling; not fitted per point")
        tdp, source = estimate_tdp_w(self.unit_cores, self.root)
        return estimated_power_model(tdp, self.unit_cores, f_max_khz, f"{MISSING_POWER}; TDP: {source}")

    def platform(self, results: Optional[dict] = None) -> Platform:
        """The board profile; ``results`` (from :meth:`run`) scale the power model where a
        sensor was read."""
        freqs, freq_source, settable = self.cpu_freqs()
        host = socket.gethostname()
        lat = self.transition_latency_us()
        cpu_power = self.cpu_power_model(max(freqs), results)
        sysfs: dict[str, Any] = {"cpus": list(self.allowed[:self.unit_cores])}
        if self.policies:
            sysfs["cpufreq_policies"] = ["/" + p.rel for p in self.policies]
        units = {"cpu": ComputeUnit(
            name="cpu", kind="cpu", cores=self.unit_cores, core_type=cpu_model_name(self.root),
            freqs_khz=tuple(freqs), volts_mv=(PLACEHOLDER_MV,) * len(freqs), freq_source=freq_source,
            volt_source=f"missing: voltage not exposed here; {PLACEHOLDER_MV:g} mV placeholder at every frequency",
            dvfs_latency_us=lat, power=cpu_power, sysfs=sysfs, contention=self.contention,
        )}
        if self.cuda:
            units["gpu"] = ComputeUnit(
                name="gpu", kind="gpu", cores=1, core_type=torch.cuda.get_device_name(0),
                freqs_khz=(1_000_000,), volts_mv=(PLACEHOLDER_MV,),
                freq_source="unknown: GPU clock not read; 1 GHz placeholder, one operating point (not settable)",
                volt_source="missing: placeholder", dvfs_latency_us=0.0,
                power=estimated_power_model(GPU_ESTIMATE_W, 1, 1_000_000,
                                            f"GPU power not measured; {GPU_ESTIMATE_W:g} W assumed (rlrm.dnn.profile.GPU_ESTIMATE_W)"),
            )
        sensors = tuple(
            Sensor(r.name, r.kind, "/" + r.rel, int(getattr(r, "channel", 0)),
                   ("cpu",) if r.kind == "rapl" else ("board",))
            for r in self.readers
        )
        return Platform(
            name=self.name,
            description=f"{cpu_model_name(self.root)}, {self.n_cores} CPUs, measured by rlrm profile on {host}",
            sources=(f"rlrm profile on {host}, {datetime.date.today().isoformat()}",
                     f"CPU count: os.cpu_count() = {self.n_cores}, the cpu unit has the {self.unit_cores} measured; "
                     "frequencies: " + freq_source),
            base_power_w=0.0, base_power_source=("estimated: 0 W, the rest of the machine is not modelled (" + MISSING_POWER + ")"
                                                 if self.power is None else "not measured (idle power not sampled); 0 W"),
            units=units,
            power_modes={"max": PowerMode(0, "max", 0.0, {}, {})},
            default_power_mode="max", sensors=sensors,
        )

    def trace(self, results: dict[tuple[int, str, int], list[tuple[int, Measurement]]]) -> Trace:
        lib = self.model.library
        subnets = []
        for spec in lib.levels:
            if spec.top1 is None:
                raise InputError(lib.source, f"libraries.{lib.name}[{spec.level}].top1",
                                 "the trace needs every level's top-1 accuracy; this level has none")
            cost = lib.cost(spec.level)
            subnets.append(SubnetInfo(spec.level, float(spec.top1), round(cost.mflops, 4), round(cost.mparams, 4), spec.resolution))
        entries: dict[tuple[int, str, int], TraceEntry] = {}
        for (lv, unit, cores), pts in sorted(results.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
            pts = sorted(pts, key=lambda p: p[0])
            top = pts[-1][1]
            cf = fit_compute_fraction([(f, m.latency_ms) for f, m in pts]) if len(pts) > 1 else 1.0
            points = tuple((f, round(m.latency_ms, 4), round(m.latency_p90_ms, 4),
                            None if m.power_w is None else round(m.power_w, 3)) for f, m in pts) \
                if len(pts) > 1 or top.power_w is not None else ()
            entries[(lv, unit, cores)] = TraceEntry(
                lv, unit, cores, round(top.latency_ms, 4), round(top.latency_p90_ms, 4),
                round(cf, 4), round(top.activity, 4), points,
            )
        freqs, freq_source, settable = self.cpu_freqs()
        method = (
            f"measured by rlrm profile: one image per inference, one untimed pass over all options and levels, "
            f"then per measurement {self.warmup} warm-up + {self.repeats} timed runs"
            + (f", continued until the median's 95 % confidence interval (order statistics) was within "
               f"{self.target_ci:g} of the median (at most {self.max_repeats or 'unlimited'} runs, "
               f"{self.budget_s or 'no'} s)" if self.target_ci is not None else "")
            + (f", in {self.rounds} rounds over every measurement in alternating order, each taking 1/{self.rounds} of "
               f"those runs and that time, pooled (the interval is the pooled runs')"
               if self.rounds > 1 else "")
            + ", median and nearest-rank p90; " + repeatability_text(repeatability(results))
            + f"; CPU options run torch (inference_mode, as rlrm run) with n threads, every thread of the process pinned (sched_setaffinity) to the first n usable cores {self.allowed}; activity = process CPU time / (wall time x n); "
            + ("every cpufreq frequency pinned in turn, compute_fraction fitted over them; "
               if settable else "one CPU operating point (cpufreq not writable here): compute_fraction 1.0 assumed, not measured; ")
            + (f"power: {', '.join(r.name for r in self.readers)} sampled after every timed run, averaged, in points. "
               if self.power is not None else "power: no sensor (power_w null). ")
            + f"Model: {lib.arch.name}, weights do not affect latency; torch {torch.__version__}."
        )
        return Trace(
            platform=self.name, library=lib.name,
            provenance={"kind": "measured", "method": method,
                        "sources": [f"rlrm profile on {socket.gethostname()}", str(lib.source)],
                        "created": datetime.date.today().isoformat()},
            subnets=tuple(subnets), entries=entries,
        )


def write_profile(
    profiler: HostProfiler, results: dict[tuple[int, str, int], list[tuple[int, Measurement]]],
    envs_dir: Path,
) -> tuple[Path, Path]:
    """Write ``<envs>/platforms/<name>.toml`` and ``<envs>/traces/<name>/<library>.json``,
    then load both back (the trace checked against the profile)."""
    plat_path = save_platform(profiler.platform(results), Path(envs_dir) / "platforms" / f"{profiler.name}.toml")
    trace = profiler.trace(results)
    trace_path = save_trace(trace, Path(envs_dir) / "traces" / profiler.name / f"{trace.library}.json")
    plat = load_platform(plat_path)
    load_trace(trace_path, platform=plat)
    return plat_path, trace_path


def build_model(library: SubnetLibrary, weights: Optional[Path] = None) -> DynamicOFA:
    """The library's supernet with random (or given) weights, wrapped for switching."""
    from rlrm.dnn.checkpoint import load_weights
    from rlrm.dnn.supernet import OFAMobileNetV3

    a = library.arch
    net = OFAMobileNetV3(n_classes=a.n_classes, width_mult=a.width_mult, ks_list=a.ks_list,
                         expand_ratio_list=a.expand_ratio_list, depth_list=a.depth_list, dropout_rate=0.0)
    if weights is not None:
        load_weights(net, weights, what=a.name)
    return DynamicOFA(net, library).eval()
