"""What a live backend measures each control period, in one object.

:class:`Measurements` owns a :class:`~rlrm.hw.sampler.PowerSampler` (power integrated over
the period), a :class:`~rlrm.hw.observe.UnitObserver` (utilisation and frequencies read
back) and a :class:`~rlrm.hw.thermal.UnitTemperatures` (each unit's thermal zones). The
backend calls :meth:`~Measurements.start` once, :meth:`~Measurements.period` at the end of
every control period and :meth:`~Measurements.stop` on close; the
:class:`MeasuredPeriod` it gets merges each measured value with the value the backend
modelled, tagging every element ``measured`` or ``modelled`` (:meth:`MeasuredPeriod.sources`
is what goes into the step info).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from rlrm.hw.observe import MEASURED, MODELLED, Tagged, UnitObserver, UnitReading, tag
from rlrm.hw.sampler import DEFAULT_RATE_HZ, PeriodPower, PowerSampler
from rlrm.hw.sysfs import PathLike, Reading, Sysfs
from rlrm.hw.thermal import UnitTemperatures


@dataclass(frozen=True)
class MeasuredPeriod:
    """One control period as measured.

    :param power: every rail integrated over the period
    :param units: ``{unit: UnitReading}`` over the period
    :param temperatures: ``{unit: Reading}`` (deg C) at the end of the period, of the units whose
        profile names thermal zones found on the board
    :param temperature_missing: ``{unit: why}`` of the units whose zones were not found
    """

    power: PeriodPower
    units: Dict[str, UnitReading] = field(default_factory=dict)
    temperatures: Dict[str, Reading] = field(default_factory=dict)
    temperature_missing: Dict[str, str] = field(default_factory=dict)

    def readings(self) -> Dict[str, Reading]:
        """Mean power per rail as :class:`Reading` objects (``read_power()``'s shape)."""
        return self.power.readings()

    def utilisation(self, names: Sequence[str], modelled: Sequence[float]) -> List[Tagged]:
        """Per unit (in ``names`` order): the measured busy fraction, else the modelled one."""
        return [self._tag(n, "util", m) for n, m in zip(names, modelled)]

    def freq_khz(self, names: Sequence[str], requested: Sequence[float]) -> List[Tagged]:
        """Per unit: the frequency read back, else the requested one (tagged modelled)."""
        return [self._tag(n, "freq_khz", r) for n, r in zip(names, requested)]

    def temperature_c(self, names: Sequence[str], modelled: Sequence[Optional[float]]) -> List[Tagged]:
        """Per unit: the temperature its thermal zones read at the end of the period, else
        ``modelled`` (tagged modelled, with the reason)."""
        out = []
        for n, m in zip(names, modelled):
            reading = self.temperatures.get(n)
            if reading is None:
                out.append(tag(None, m, self.temperature_missing.get(n, f"{n}: no thermal zone in the profile")))
            else:
                out.append(tag(reading.value, m, reading.problem))
        return out

    def temperature_faults(self) -> Dict[str, str]:
        """``{unit: problem}`` of the measured units whose zones did not read this period."""
        return {n: r.problem for n, r in self.temperatures.items() if r.value is None}

    def _tag(self, name: str, attr: str, modelled: Optional[float]) -> Tagged:
        reading = self.units.get(name)
        if reading is None:
            return tag(None, modelled, f"{name}: not observed")
        value = getattr(reading, attr)
        return tag(value, modelled, "; ".join(reading.problems))

    @staticmethod
    def field_source(tagged: Sequence[Tagged]) -> str:
        """``measured`` when every element of a per-unit field was measured, else ``modelled``
        (the per-field convention of ``StepResult.provenance``; :meth:`sources` has the detail)."""
        return MEASURED if tagged and all(t.source == MEASURED for t in tagged) else MODELLED

    @staticmethod
    def sources(power_measured: bool, **elements: Sequence[Tagged]) -> Dict[str, Any]:
        """``{"power_w": "measured", "utilisation": ["measured", "modelled"], ...}`` for the step info."""
        out: Dict[str, Any] = {"power_w": MEASURED if power_measured else MODELLED}
        for key, tagged in elements.items():
            out[key] = [t.source for t in tagged]
        return out


class Measurements:
    """Power sampler + unit observer behind start / period / stop.

    :param readers: the power readers (``HardwareActuator.sensors``); the sampler must be their
        only user while it runs (RAPL readers difference against their previous read)
    :param platform: the board profile (units' ``sysfs`` entries locate CPUs, policies, devfreq)
    :param root: the sysfs / procfs root
    :param rails: sample only these rails (None: all)
    :param rate_hz: power samples per second
    :param clock: monotonic seconds (tests pass a fake)
    :param threaded: sample in a background thread; False reads every rail once, at the end of
        each period (the old one-read-per-period behaviour: deterministic for tests that rewrite
        a fake sensor between steps; no stall detection unless ``max_gap_s`` is given)
    """

    def __init__(self, readers: Sequence[Any], platform: Any, root: Union[Sysfs, PathLike, None] = None,
                 rails: Optional[Sequence[str]] = None, rate_hz: float = DEFAULT_RATE_HZ,
                 clock: Callable[[], float] = time.monotonic, threaded: bool = True,
                 **sampler_kwargs: Any) -> None:
        if not threaded:  # one read per period: the gap is the period itself, not a stall
            sampler_kwargs.setdefault("max_gap_s", math.inf)
        self.sampler = PowerSampler.from_readers(readers, rails=rails, rate_hz=rate_hz, clock=clock,
                                                 **sampler_kwargs)
        self.observer = UnitObserver.from_platform(platform, root)
        #: each unit's thermal zones (the profile's ``[units.<u>.thermal] zones``)
        self.thermal = UnitTemperatures.from_platform(platform, root)
        self.has_sensors = bool(readers)
        self.threaded = threaded

    def start(self) -> "Measurements":
        """Start sampling power and begin the first period (idempotent)."""
        if self.has_sensors and self.threaded:
            self.sampler.start()
        elif self.has_sensors:
            self.sampler.sample()
            self.sampler.restart_period()
        self.observer.sample()
        return self

    def restart(self) -> None:
        """Begin a new period now (after a reset or a pause), discarding the current one."""
        self.sampler.restart_period()
        self.observer.sample()

    def period(self) -> MeasuredPeriod:
        """Close the current period and return what it measured."""
        if self.has_sensors and not self.threaded:
            self.sampler.sample()
        power = self.sampler.take()
        return MeasuredPeriod(power, self.observer.sample(), self.thermal.read(), dict(self.thermal.missing))

    def temperatures(self) -> Dict[str, Reading]:
        """``{unit: Reading}`` of the measured units' temperatures now (outside a period)."""
        return self.thermal.read()

    def stop(self) -> None:
        """Stop the sampling thread (idempotent)."""
        self.sampler.stop()

    def __enter__(self) -> "Measurements":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

