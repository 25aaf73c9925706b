"""Power sampled in the background and integrated per control period.

A :class:`PowerSampler` reads every rail at the sensor's own rate (INA3221: a conversion
every ~8 ms, so 125 Hz by default) in a daemon thread and, when asked with :meth:`take`,
integrates each rail over the period since the last :meth:`take` by the trapezoid rule over
the samples' timestamps. Per rail and period it reports the energy (J), the mean power (W),
the number of good samples, the failed reads and the largest gap between good samples.

Fault semantics are those of one reading (:class:`~rlrm.hw.sysfs.Reading`) so that
:meth:`PeriodPower.readings` is a drop-in for ``HardwareActuator.read_power()``: a rail is
*missing* for a period (``value`` None, ``problem`` naming the file or the fault) when

- it gave no good sample in the period (vanished, garbage, disabled INA231; a period in
  which every read failed is missing however short it is, as one failed read is today), or
- its largest gap between good samples (period ends included) exceeds ``max_gap_s``: the
  sensor stalled (a read blocking on the bus) or vanished for part of the period, or
- optionally (``frozen_after_s``), its value did not change for that long (a driver that
  stopped updating; off by default, because a quiet rail or a fake tree is legitimately flat).

The segment that crosses a period boundary is split at the boundary: the part before it is
held at the period's last sample, the part after it takes the next period's first sample, so
:meth:`take` never waits for a sensor and every instant is counted in exactly one period
(sampled once per period, at its end, a rail reads what one read per period read before).

The thread is a daemon, stops on :meth:`stop` (or leaving a ``with`` block) within one
sample interval plus one read, and never holds the lock while reading a sensor. Tests drive
:meth:`sample` and :meth:`take` by hand with an injected clock and reader.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from rlrm.hw.power import read_all
from rlrm.hw.sysfs import Reading

#: INA3221 conversion time with the L4T driver's averaging: one new value every ~8 ms.
DEFAULT_RATE_HZ = 125.0
#: Below this rate a 20 ms load change is not resolved; refused.
MIN_RATE_HZ = 1.0
MAX_RATE_HZ = 2000.0

Clock = Callable[[], float]
ReadAll = Callable[[], Mapping[str, Reading]]


@dataclass(frozen=True)
class RailPeriod:
    """One rail over one period.

    :param name: rail name (``VDD_IN``)
    :param energy_j: the integral of power over the covered time, J (None: no good sample)
    :param mean_w: ``energy_j`` / covered time, W (None: no good sample)
    :param samples: good samples taken in the period
    :param missing: failed reads in the period (gone, garbage, disabled)
    :param max_gap_s: largest interval without a good sample (period ends included), s
    :param covered_s: time covered by the integral, s (the period unless the rail had no
        value before its first sample)
    :param problem: why the rail is not usable for this period ("" when it is)
    """

    name: str
    energy_j: Optional[float]
    mean_w: Optional[float]
    samples: int
    missing: int
    max_gap_s: float
    covered_s: float
    problem: str = ""

    @property
    def usable(self) -> bool:
        """True when the measurement stands for the whole period."""
        return not self.problem and self.mean_w is not None

    def reading(self) -> Reading:
        """This period as one :class:`Reading` (the mean power, or missing with the problem)."""
        if self.usable:
            return Reading(self.name, self.mean_w, "W")
        return Reading(self.name, None, "W", self.problem or "no reading")


@dataclass(frozen=True)
class PeriodPower:
    """Every rail over one period ``[start_s, end_s]`` (clock seconds)."""

    start_s: float
    end_s: float
    rails: Dict[str, RailPeriod] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def readings(self) -> Dict[str, Reading]:
        """``{rail: Reading}``, the mean power per rail: what ``read_power()`` returns, per period."""
        return {name: rail.reading() for name, rail in self.rails.items()}

    def energy_j(self, rails: Optional[Sequence[str]] = None) -> Optional[float]:
        """Summed energy of ``rails`` (all when None); None if one of them is not usable."""
        names = list(self.rails) if rails is None else list(rails)
        if not names or any(n not in self.rails or not self.rails[n].usable for n in names):
            return None
        return float(sum(self.rails[n].energy_j or 0.0 for n in names))

    @property
    def samples(self) -> int:
        """Fewest good samples of any rail (0 without rails)."""
        return min((r.samples for r in self.rails.values()), default=0)

    @property
    def max_gap_s(self) -> float:
        """Largest gap of any rail."""
        return max((r.max_gap_s for r in self.rails.values()), default=0.0)


class _Rail:
    """Running state of one rail: the samples of the current period and what carries over."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.points: List[Tuple[float, Optional[float], str]] = []  # (t, watts or None, problem)
        self.held: Optional[Tuple[float, float]] = None  # last good sample before this period
        self.same_since: Optional[float] = None  # when the value last changed (frozen detection)

    def add(self, t: float, reading: Reading) -> None:
        value = reading.value
        if value is not None and not math.isfinite(value):
            value = None
        if value is not None:
            last = self._last_good()
            if last is None or last[1] != value or self.same_since is None:
                self.same_since = t
        self.points.append((t, value, "" if value is not None else (reading.problem or "no reading")))

    def _last_good(self) -> Optional[Tuple[float, float]]:
        for t, v, _ in reversed(self.points):
            if v is not None:
                return t, v
        return self.held

    def close(self, start: float, end: float, max_gap_s: float, frozen_after_s: Optional[float]) -> RailPeriod:
        energy, covered, gap, good, missing = 0.0, 0.0, 0.0, 0, 0
        problem = ""
        cursor = self.held  # the last good sample before this period (None: the rail never read)
        prev_t = start  # where the integral has got to
        last_t = cursor[0] if cursor is not None else start  # the last good sample (gaps span periods)
        first_seg = True
        for t, v, why in self.points:
            if v is None:
                missing += 1
                problem = problem or why
                continue
            good += 1
            if cursor is not None:
                dt = t - prev_t
                # from the period's start to its first sample: that sample's value (so one read
                # per period means what it meant before sampling); the rest is a trapezoid
                energy += v * dt if first_seg else (cursor[1] + v) / 2.0 * dt
                covered += dt
            gap = max(gap, t - last_t)
            cursor, prev_t, last_t, first_seg = (t, v), t, t, False
        if cursor is not None:
            energy += cursor[1] * (end - prev_t)
            covered += end - prev_t
        gap = max(gap, end - last_t)
        self.held = cursor
        self.points = []
        mean = energy / covered if cursor is not None and covered > 0 else (cursor[1] if cursor else None)
        if cursor is None:
            return RailPeriod(self.name, None, None, good, missing, gap, 0.0, problem or "no sample in the period")
        if good == 0 and missing:  # every read in the period failed: missing, however short the period
            problem = problem or "no reading"
        elif gap > max_gap_s:
            problem = f"no good sample for {gap * 1e3:.0f} ms (sensor stalled or gone{': ' + problem if problem else ''})"
        elif frozen_after_s is not None and self.same_since is not None and end - self.same_since > frozen_after_s:
            problem = f"value unchanged at {cursor[1]:g} W for {end - self.same_since:.1f} s (sensor frozen)"
        else:
            problem = ""
        return RailPeriod(self.name, energy, mean, good, missing, gap, covered, problem)


class PowerSampler:
    """Samples every rail in a background thread and integrates per period.

    :param read_all: returns ``{rail: Reading}`` (``lambda: power.read_all(readers)``, or
        ``HardwareActuator.read_power``); the sampler must be its only caller while it runs
        (RAPL readers difference against their previous read)
    :param rate_hz: samples per second (default 125: one per INA3221 conversion)
    :param clock: monotonic seconds used for the timestamps (tests pass a fake)
    :param max_gap_s: a longer interval without a good sample makes the rail missing for the
        period (default: 25 sample intervals, at least 0.2 s)
    :param frozen_after_s: a value unchanged for longer makes the rail missing (None: off)
    """

    def __init__(self, read_all: ReadAll, rate_hz: float = DEFAULT_RATE_HZ, clock: Clock = time.monotonic,
                 max_gap_s: Optional[float] = None, frozen_after_s: Optional[float] = None) -> None:
        if not (isinstance(rate_hz, (int, float)) and MIN_RATE_HZ <= rate_hz <= MAX_RATE_HZ):
            raise ValueError(f"sampling rate must be {MIN_RATE_HZ:g}..{MAX_RATE_HZ:g} Hz, got {rate_hz!r}")
        self.read_all = read_all
        self.rate_hz = float(rate_hz)
        self.interval_s = 1.0 / self.rate_hz
        self.clock = clock
        self.max_gap_s = float(max_gap_s) if max_gap_s is not None else max(0.2, 25 * self.interval_s)
        self.frozen_after_s = frozen_after_s
        self._rails: Dict[str, _Rail] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._start_s = clock()
        self.reads = 0  # sampling passes made (all rails each)
        self.errors = 0  # passes where read_all itself raised

    @classmethod
    def from_readers(cls, readers: Sequence, rails: Optional[Sequence[str]] = None, **kwargs) -> "PowerSampler":
        """A sampler over :class:`~rlrm.hw.power.PowerReader` objects (only those named in
        ``rails`` when given: each rail read costs a file read per sample)."""
        chosen = [r for r in readers if rails is None or r.name in rails]
        return cls(lambda: read_all(chosen), **kwargs)

    # -- sampling --------------------------------------------------------------------------
    def sample(self) -> None:
        """Read every rail once and record it at the clock's time (the thread calls this)."""
        try:
            readings = dict(self.read_all())
        except Exception as err:  # a reader must not kill the thread; the gap shows it
            self.errors += 1
            readings = {name: Reading(name, None, "W", f"read failed: {err}") for name in self._rails}
        t = self.clock()
        with self._lock:
            self.reads += 1
            for name, reading in readings.items():
                rail = self._rails.get(name)
                if rail is None:
                    rail = self._rails[name] = _Rail(name)
                rail.add(t, reading)

    def take(self) -> PeriodPower:
        """Close the current period at the clock's time, return it and start the next."""
        with self._lock:
            end = self.clock()
            start, self._start_s = self._start_s, end
            rails = {name: rail.close(start, end, self.max_gap_s, self.frozen_after_s)
                     for name, rail in self._rails.items()}
        return PeriodPower(start, end, rails)

    def restart_period(self) -> None:
        """Drop what was sampled so far and start a period now (e.g. after a reset)."""
        with self._lock:
            self._start_s = self.clock()
            for rail in self._rails.values():
                last = rail._last_good()
                rail.points = []
                rail.held = (self._start_s, last[1]) if last is not None else None

    # -- thread ----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> "PowerSampler":
        """Take a first sample, start the period and the thread (idempotent)."""
        if self.running:
            return self
        self._stop.clear()
        self.sample()
        self.restart_period()
        self._thread = threading.Thread(target=self._loop, name="rlrm-power-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop the thread and wait for it (at most ``timeout_s``; a daemon either way)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    close = stop

    def __enter__(self) -> "PowerSampler":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            self.sample()
            due += self.interval_s
            now = time.monotonic()
            if due < now:  # fell behind (a slow read): do not burst to catch up
                due = now
            if self._stop.wait(due - now):
                break
