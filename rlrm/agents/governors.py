"""The Linux frequency governors, as the kernel implements them.

The baselines the PPO agent is compared against: the cpufreq governors ``performance``,
``powersave``, ``userspace``, ``ondemand``, ``conservative`` and ``schedutil``, and the
devfreq governor ``simple_ondemand`` (GPUs), with the kernel's default tunables, its
integer arithmetic and its frequency-table resolution.

Usage::

    gov = make("ondemand", [200000, 300000, ..., 2000000], up_threshold=80)
    period_s = gov.period_s              # call next_frequency this often
    f = gov.next_frequency(0.42, current_khz=f)

Calling convention
    ``next_frequency(load, current_khz)`` is called once per sampling period. ``load`` is
    the busy fraction in [0, 1] of the policy's busiest CPU over the period that just
    ended (for ``schedutil``: frequency-invariant utilisation / capacity; for
    ``simple_ondemand``: busy_time / total_time of the device). ``current_khz`` is the
    frequency the unit ran at (``policy->cur``). The return value is the frequency the
    governor leaves the policy at; when the kernel would not issue a request (held
    sample, rate limit, already at the bound) it is ``current_khz`` unchanged.

Time model
    * ondemand / conservative: one call = one ``sampling_rate`` (the dbs work runs every
      ``sampling_rate * rate_mult`` us). ondemand's ``sampling_down_factor`` makes the
      next evaluation ``rate_mult`` periods later: the calls in between return
      ``current_khz`` and their loads are summed into the one window the kernel's
      ``dbs_update()`` would measure.
    * schedutil: one call = ``period_s`` seconds of simulated time (default: the rate
      limit). A call earlier than ``rate_limit_us`` after the last frequency *change*
      keeps the frequency (``sugov_should_update_freq`` / ``sugov_update_next_freq``).
    * simple_ondemand: one call = ``polling_ms``.

Default cadence (``sampling_period_s``)
    The dbs ``sampling_rate`` and schedutil's ``rate_limit_us`` come from
    ``cpufreq_policy_transition_delay_us()``, which changed over time; ``kernel=`` picks
    the era (see :func:`transition_delay_us`). governors.md's "1000 x transition latency"
    is the pre-4.14 rule (``LATENCY_MULTIPLIER``); since v6.12 (commit 37c6dccd6837) it
    is ``1.5 x latency`` (1 ms when the driver reports 0). We default to mainline v6.12
    (what a current kernel does); pass ``kernel=(4, 9)`` / ``(5, 10)`` for L4T (Jetson)
    kernels. ``kernel=`` also picks schedutil's pre-/post-v6.8 frequency mapping; the
    ondemand / conservative decision logic is the mainline one for every era.

Defaults that differ from governors.md
    ondemand's ``up_threshold`` defaults to 95, not 80: ``od_init()`` picks 95 whenever
    idle micro-accounting works (NO_HZ kernels; assumed for both boards, not checked); pass
    ``micro_accounting=False`` or ``up_threshold=80`` for the other case.

Left out (deliberately)
    * schedutil iowait boost (``sugov_iowait_boost``), uclamp, RT/DL "go to max", and the
      single-CPU-policy "don't lower while busy" hold (``sugov_hold_freq``): the input is
      one utilisation number; both boards have shared (multi-CPU) policies.
    * dbs idle-wakeup heuristics (``prev_load`` reuse and conservative's
      ``idle_periods`` catch-up): they need the sampling to be skipped while the CPU
      sleeps; here the governor runs exactly on its cadence, so they never trigger.
    * Policy limits other than the table's ends (``scaling_min/max_freq``), and
      inefficient-OPP marking (so ``RELATION_LE/HE/CE`` behave as ``L/H/C``).
    * ondemand with ``powersave_bias``: the kernel alternates ``freq_hi`` /
      ``freq_lo`` within one sampling period; ``next_frequency`` returns ``freq_hi`` (what
      is set at the sample) and :attr:`OndemandGovernor.sub_sample` gives
      ``(freq_lo, freq_hi_delay_us, freq_lo_delay_us)`` for callers that integrate power.
"""

from __future__ import annotations

import inspect
import math
import numbers
from abc import ABC, abstractmethod
from bisect import bisect_left
from typing import Any, ClassVar, Dict, Iterator, List, Optional, Sequence, Tuple, Type, Union

from rlrm.errors import InputError

__all__ = [
    "DEFAULT_HZ",
    "DEFAULT_KERNEL",
    "GOVERNORS",
    "RELATION_C",
    "RELATION_H",
    "RELATION_L",
    "ConservativeGovernor",
    "FrequencyTable",
    "Governor",
    "OndemandGovernor",
    "PerformanceGovernor",
    "PowersaveGovernor",
    "SchedutilGovernor",
    "SimpleOndemandGovernor",
    "UserspaceGovernor",
    "available",
    "dbs_sampling_rate_us",
    "make",
    "transition_delay_us",
]

KernelVersion = Tuple[int, int]
KernelLike = Union[KernelVersion, Sequence[int], str]

#: Kernel whose defaults are modelled unless ``kernel=`` says otherwise (mainline v6.12+).
DEFAULT_KERNEL: KernelVersion = (6, 12)
#: CONFIG_HZ of arm64 defconfig; only used for the dbs minimum sampling interval.
DEFAULT_HZ = 250

#: cpufreq relations (include/linux/cpufreq.h): lowest freq >= target, highest <= target,
#: closest (ties go to the lower one).
RELATION_L = "L"
RELATION_H = "H"
RELATION_C = "C"

SCHED_CAPACITY_SCALE = 1024  # SCHED_CAPACITY_SHIFT = 10
_U32 = 0xFFFFFFFF
_USEC_PER_SEC = 1_000_000
_NSEC_PER_SEC = 1_000_000_000


def _u32(value: int) -> int:
    """Truncate to ``unsigned int`` as C does on overflow."""
    return value & _U32


# --------------------------------------------------------------------------- validation


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _int_in(source: str, field: str, value: Any, lo: int, hi: Optional[int], why: str = "") -> int:
    if not _is_int(value) or value < lo or (hi is not None and value > hi):
        rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        extra = f" ({why})" if why else ""
        raise InputError(source, field, f"must be an integer in {rng}{extra}, got {value!r}")
    return int(value)


def _flag01(source: str, field: str, value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    return _int_in(source, field, value, 0, 1)


def _bool(source: str, field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InputError(source, field, f"must be true or false, got {value!r}")
    return value


def _positive_seconds(source: str, field: str, value: Any) -> float:
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not math.isfinite(float(value))
        or float(value) <= 0
    ):
        raise InputError(source, field, f"must be a positive number of seconds, got {value!r}")
    return float(value)


def _fraction(source: str, field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(source, field, f"must be a number in [0, 1], got {value!r}")
    v = float(value)
    if not (0.0 <= v <= 1.0):  # also rejects NaN
        raise InputError(source, field, f"must be in [0, 1], got {value!r}")
    return v


def _parse_kernel(source: str, value: KernelLike) -> KernelVersion:
    """``(6, 12)``, ``[5, 10]`` or ``"4.9"`` / ``"5.10.120"`` -> ``(major, minor)``."""
    parts: Sequence[Any]
    if isinstance(value, str):
        parts = value.strip().split(".")
        try:
            parts = [int(p) for p in parts[:2]]
        except ValueError:
            parts = []
    else:
        parts = list(value) if isinstance(value, (tuple, list)) else []
    if len(parts) < 2 or not all(_is_int(p) and p >= 0 for p in parts[:2]) or parts[0] < 2:
        raise InputError(source, "kernel", f"must be a version like (6, 12) or '5.10', got {value!r}")
    return int(parts[0]), int(parts[1])


# --------------------------------------------------------------------------- frequency table


class FrequencyTable:
    """A policy's frequency table, resolved the way ``cpufreq_frequency_table_target()`` does.

    The table is sorted ascending (``CPUFREQ_TABLE_SORTED_ASCENDING``) and the policy
    limits are the table's ends, so a target is first clamped to ``[min, max]``
    (``clamp_val`` in ``cpufreq_table_find_index_{l,h,c}``) and then mapped by
    ``cpufreq_table_find_index_al`` / ``_ah`` / ``_ac``.

    :param frequencies_khz: the available frequencies, strictly increasing positive ints
    :param source: origin named in errors, e.g. ``governor:ondemand``
    """

    def __init__(self, frequencies_khz: Sequence[int], source: str = "governor") -> None:
        field = "frequencies_khz"
        if isinstance(frequencies_khz, (str, bytes)) or not hasattr(frequencies_khz, "__len__"):
            raise InputError(source, field, "must be a list of frequencies in kHz")
        freqs = list(frequencies_khz)
        if not freqs:
            raise InputError(source, field, "is empty; need at least one frequency")
        for i, f in enumerate(freqs):
            if not _is_int(f) or f <= 0:
                raise InputError(source, f"{field}[{i}]", f"must be a positive integer (kHz), got {f!r}")
            if i and f <= freqs[i - 1]:
                raise InputError(
                    source, f"{field}[{i}]", f"{f} is not above {freqs[i - 1]}; the table must be strictly increasing"
                )
        self.freqs: Tuple[int, ...] = tuple(int(f) for f in freqs)

    @property
    def min(self) -> int:
        """``policy->cpuinfo.min_freq`` (= ``policy->min`` here)."""
        return self.freqs[0]

    @property
    def max(self) -> int:
        """``policy->cpuinfo.max_freq`` (= ``policy->max`` here)."""
        return self.freqs[-1]

    def __len__(self) -> int:
        return len(self.freqs)

    def __iter__(self) -> Iterator[int]:
        return iter(self.freqs)

    def resolve(self, target_khz: int, relation: str) -> int:
        """The table frequency ``__cpufreq_driver_target(policy, target, relation)`` sets.

        :param target_khz: the requested frequency
        :param relation: :data:`RELATION_L`, :data:`RELATION_H` or :data:`RELATION_C`
        """
        t = min(max(int(target_khz), self.min), self.max)
        i = bisect_left(self.freqs, t)
        if self.freqs[i] == t:
            return t
        lo, hi = self.freqs[i - 1], self.freqs[i]  # lo < t < hi: t is clamped inside
        if relation == RELATION_L:
            return hi
        if relation == RELATION_H:
            return lo
        if relation == RELATION_C:
            return hi if t - lo > hi - t else lo
        raise ValueError(f"unknown relation {relation!r}")


# --------------------------------------------------------------------------- default cadence


def _tick_nsec(hz: int) -> int:
    return (_NSEC_PER_SEC + hz // 2) // hz  # TICK_NSEC


def _jiffies_to_usecs(jiffies: int, hz: int) -> int:
    return -(-jiffies * _USEC_PER_SEC // hz)  # exact when HZ divides 1e6, else rounded up


def transition_delay_us(
    transition_latency_us: int,
    kernel: KernelLike = DEFAULT_KERNEL,
    driver_transition_delay_us: int = 0,
) -> int:
    """``cpufreq_policy_transition_delay_us()`` (drivers/cpufreq/cpufreq.c) for a kernel era.

    * v4.14 .. v6.8: ``min(latency * 1000, 10000)``
    * v6.9 .. v6.11: ``latency`` if above 2 ms, else ``min(latency * 1000, 2000)``
      (commits e13aa799c2a6, a755d0e2d41b)
    * v6.12+: ``latency + latency / 2`` (commit 37c6dccd6837 "Remove LATENCY_MULTIPLIER")
    * latency 0: 1000 us in every era; a driver-set ``policy->transition_delay_us`` wins.

    Before v4.14 there was no such helper: schedutil used ``1000 * latency`` (1000 if 0)
    and the dbs governors their own rule (:func:`dbs_sampling_rate_us`).

    :param transition_latency_us: ``cpuinfo_transition_latency`` (ns, from sysfs) // 1000
    :param kernel: kernel version, e.g. ``(6, 12)`` or ``"5.10"``
    :param driver_transition_delay_us: ``policy->transition_delay_us`` set by the driver
    """
    k = _parse_kernel("cpufreq", kernel)
    lat = _int_in("cpufreq", "transition_latency_us", transition_latency_us, 0, None)
    drv = _int_in("cpufreq", "driver_transition_delay_us", driver_transition_delay_us, 0, None)
    if k < (4, 14):
        return 1000 * lat if lat else 1000  # sugov_init(): LATENCY_MULTIPLIER * lat
    if drv:
        return drv
    if not lat:
        return 1000  # LATENCY_MULTIPLIER, later USEC_PER_MSEC
    if k >= (6, 12):
        return lat + (lat >> 1)
    if k >= (6, 9):
        return lat if lat > 2000 else min(lat * 1000, 2000)
    return min(lat * 1000, 10000)


def _dbs_min_sampling_rate_us(
    governor: str, transition_latency_us: int, kernel: KernelVersion, hz: int, micro_accounting: bool
) -> int:
    if kernel >= (4, 14):
        return 2 * _tick_nsec(hz) // 1000  # CPUFREQ_DBS_MIN_SAMPLING_INTERVAL
    lat = max(1, transition_latency_us)
    if governor == "ondemand" and micro_accounting:
        gov_min = 10000  # MICRO_FREQUENCY_MIN_SAMPLE_RATE
    else:
        gov_min = 2 * _jiffies_to_usecs(10, hz)  # MIN_SAMPLING_RATE_RATIO * jiffies_to_usecs(10)
    return max(gov_min, 100 * lat)  # MIN_LATENCY_MULTIPLIER * latency


def dbs_sampling_rate_us(
    governor: str,
    transition_latency_us: int = 0,
    kernel: KernelLike = DEFAULT_KERNEL,
    hz: int = DEFAULT_HZ,
    driver_transition_delay_us: int = 0,
    micro_accounting: bool = True,
) -> int:
    """Default ``sampling_rate`` (us) of ondemand / conservative (``cpufreq_dbs_governor_init``).

    * v4.14+: ``max(2 ticks, cpufreq_policy_transition_delay_us())``
    * before: ``max(min_sampling_rate, 1000 * latency)`` with ``min_sampling_rate =
      max(gov_min, 100 * latency)``, ``gov_min`` = 10 ms (ondemand with idle
      micro-accounting) or 20 ticks, latency at least 1 us.

    :param governor: ``"ondemand"`` or ``"conservative"``
    :param transition_latency_us: ``cpuinfo_transition_latency`` // 1000
    :param kernel: kernel version
    :param hz: CONFIG_HZ
    :param driver_transition_delay_us: ``policy->transition_delay_us`` set by the driver
    :param micro_accounting: NO_HZ idle micro-accounting available (ondemand only)
    """
    k = _parse_kernel(f"governor:{governor}", kernel)
    hz = _int_in(f"governor:{governor}", "hz", hz, 1, 10000)
    lat = _int_in(f"governor:{governor}", "transition_latency_us", transition_latency_us, 0, None)
    floor_us = _dbs_min_sampling_rate_us(governor, lat, k, hz, micro_accounting)
    if k >= (4, 14):
        return max(floor_us, transition_delay_us(lat, k, driver_transition_delay_us))
    return max(floor_us, 1000 * max(1, lat))


# --------------------------------------------------------------------------- base class


class Governor(ABC):
    """A frequency governor for one policy (a CPU cluster or a devfreq device).

    :param frequencies_khz: the policy's available frequencies, strictly increasing (kHz)
    """

    #: the name the kernel knows it by (``scaling_governor``)
    name: ClassVar[str] = ""

    def __init__(self, frequencies_khz: Sequence[int]) -> None:
        self.source = f"governor:{self.name}"
        self.table = FrequencyTable(frequencies_khz, self.source)

    @abstractmethod
    def reset(self) -> None:
        """Return to the state right after the governor is started on the policy."""

    @abstractmethod
    def next_frequency(self, load: float, current_khz: int) -> int:
        """Run one sampling period and return the frequency (kHz) the policy is left at.

        :param load: busy fraction in [0, 1] over the period that just ended
        :param current_khz: the frequency the unit is at (``policy->cur``)
        """

    @property
    def period_s(self) -> Optional[float]:
        """Seconds of simulated time one ``next_frequency`` call stands for (None: static)."""
        return None

    @classmethod
    def sampling_period_s(
        cls,
        transition_latency_us: int = 0,
        *,
        kernel: KernelLike = DEFAULT_KERNEL,
        hz: int = DEFAULT_HZ,
        driver_transition_delay_us: int = 0,
    ) -> Optional[float]:
        """Kernel-default cadence for this governor (None: it never re-evaluates by itself).

        :param transition_latency_us: ``cpuinfo_transition_latency`` // 1000
        :param kernel: kernel version
        :param hz: CONFIG_HZ
        :param driver_transition_delay_us: ``policy->transition_delay_us`` set by the driver
        """
        return None

    @property
    def tunables(self) -> Dict[str, Any]:
        """The effective tunables (defaults filled in), e.g. for logging a run."""
        return {}

    @classmethod
    def accepted(cls) -> List[str]:
        """Keyword arguments the constructor accepts (tunables and platform facts)."""
        params = inspect.signature(cls.__init__).parameters
        return [p for p in params if p not in ("self", "frequencies_khz")]

    def _current(self, current_khz: Any) -> int:
        if not _is_int(current_khz) or current_khz <= 0:
            raise InputError(self.source, "current_khz", f"must be a positive integer, got {current_khz!r}")
        return int(current_khz)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.tunables.items())
        return f"{type(self).__name__}({len(self.table)} freqs, {args})"


# --------------------------------------------------------------------------- static governors


class PerformanceGovernor(Governor):
    """``performance`` (drivers/cpufreq/cpufreq_performance.c): holds ``policy->max``.

    ``cpufreq_gov_performance_limits()`` sets ``policy->max`` with ``CPUFREQ_RELATION_H``.

    :param frequencies_khz: the policy's available frequencies, strictly increasing (kHz)
    """

    name = "performance"

    def __init__(self, frequencies_khz: Sequence[int]) -> None:
        super().__init__(frequencies_khz)
        self.reset()

    def reset(self) -> None:
        """Stateless."""

    def next_frequency(self, load: float, current_khz: int) -> int:
        """Always the highest frequency.

        :param load: ignored (validated)
        :param current_khz: ignored (validated)
        """
        _fraction(self.source, "load", load)
        self._current(current_khz)
        return self.table.resolve(self.table.max, RELATION_H)


class PowersaveGovernor(Governor):
    """``powersave`` (drivers/cpufreq/cpufreq_powersave.c): holds ``policy->min``.

    ``cpufreq_gov_powersave_limits()`` sets ``policy->min`` with ``CPUFREQ_RELATION_L``.

    :param frequencies_khz: the policy's available frequencies, strictly increasing (kHz)
    """

    name = "powersave"

    def __init__(self, frequencies_khz: Sequence[int]) -> None:
        super().__init__(frequencies_khz)
        self.reset()

    def reset(self) -> None:
        """Stateless."""

    def next_frequency(self, load: float, current_khz: int) -> int:
        """Always the lowest frequency.

        :param load: ignored (validated)
        :param current_khz: ignored (validated)
        """
        _fraction(self.source, "load", load)
        self._current(current_khz)
        return self.table.resolve(self.table.min, RELATION_L)


class UserspaceGovernor(Governor):
    """``userspace`` (drivers/cpufreq/cpufreq_userspace.c): holds ``scaling_setspeed``.

    On start ``setspeed = policy->cur``; a write to ``scaling_setspeed`` calls
    ``__cpufreq_driver_target(policy, freq, CPUFREQ_RELATION_L)``: the lowest table
    frequency at or above the value.

    :param frequencies_khz: the policy's available frequencies, strictly increasing (kHz)
    :param setspeed_khz: the frequency to hold; None holds whatever the policy was at on the
        first call (the kernel's start behaviour)
    """

    name = "userspace"

    def __init__(self, frequencies_khz: Sequence[int], setspeed_khz: Optional[int] = None) -> None:
        super().__init__(frequencies_khz)
        if setspeed_khz is not None:
            setspeed_khz = _int_in(self.source, "setspeed_khz", setspeed_khz, 1, None)
        self._initial_setspeed = setspeed_khz
        self.reset()

    def reset(self) -> None:
        """Back to the configured ``setspeed_khz`` (or "whatever the policy is at")."""
        self._setspeed: Optional[int] = self._initial_setspeed

    def set_speed(self, khz: int) -> None:
        """Write ``scaling_setspeed``.

        :param khz: the requested frequency; resolved with ``CPUFREQ_RELATION_L``
        """
        self._setspeed = _int_in(self.source, "setspeed_khz", khz, 1, None)

    def next_frequency(self, load: float, current_khz: int) -> int:
        """The held frequency.

        :param load: ignored (validated)
        :param current_khz: taken as ``setspeed`` on the first call when none was given
        """
        _fraction(self.source, "load", load)
        cur = self._current(current_khz)
        if self._setspeed is None:
            self._setspeed = cur  # cpufreq_userspace_policy_start(): setspeed = policy->cur
        return self.table.resolve(self._setspeed, RELATION_L)

    @property
    def tunables(self) -> Dict[str, Any]:
        return {"setspeed_khz": self._setspeed}


# --------------------------------------------------------------------------- dbs governors


class _DbsGovernor(Governor):
    """Shared part of ondemand and conservative: ``dbs_update()`` (cpufreq_governor.c)."""

    def __init__(
        self,
        frequencies_khz: Sequence[int],
        *,
        sampling_rate: Optional[int],
        ignore_nice_load: int,
        io_is_busy: int,
        transition_latency_us: int,
        driver_transition_delay_us: int,
        kernel: KernelLike,
        hz: int,
        micro_accounting: bool,
    ) -> None:
        super().__init__(frequencies_khz)
        src = self.source
        self.kernel = _parse_kernel(src, kernel)
        self.hz = _int_in(src, "hz", hz, 1, 10000)
        self.transition_latency_us = _int_in(src, "transition_latency_us", transition_latency_us, 0, None)
        self.driver_transition_delay_us = _int_in(
            src, "driver_transition_delay_us", driver_transition_delay_us, 0, None
        )
        self.micro_accounting = _bool(src, "micro_accounting", micro_accounting)
        floor_us = _dbs_min_sampling_rate_us(
            self.name, self.transition_latency_us, self.kernel, self.hz, self.micro_accounting
        )
        if sampling_rate is None:
            self.sampling_rate = dbs_sampling_rate_us(
                self.name,
                self.transition_latency_us,
                self.kernel,
                self.hz,
                self.driver_transition_delay_us,
                self.micro_accounting,
            )
        else:
            self.sampling_rate = _int_in(
                src, "sampling_rate", sampling_rate, floor_us, _U32, "the kernel's minimum sampling interval, us"
            )
        self.ignore_nice_load = _flag01(src, "ignore_nice_load", ignore_nice_load)
        self.io_is_busy = _flag01(src, "io_is_busy", io_is_busy)

    @property
    def period_s(self) -> Optional[float]:
        return self.sampling_rate / _USEC_PER_SEC

    @classmethod
    def sampling_period_s(
        cls,
        transition_latency_us: int = 0,
        *,
        kernel: KernelLike = DEFAULT_KERNEL,
        hz: int = DEFAULT_HZ,
        driver_transition_delay_us: int = 0,
    ) -> Optional[float]:
        """Default ``sampling_rate`` in seconds; see :func:`dbs_sampling_rate_us`."""
        return dbs_sampling_rate_us(cls.name, transition_latency_us, kernel, hz, driver_transition_delay_us) / 1e6

    def _reset_window(self) -> None:
        self._elapsed_us = 0
        self._busy_us = 0
        self._iowait_us = 0
        self._nice_us = 0

    def _accumulate(self, load: float, iowait: float, nice: float) -> None:
        """Add one sampling period's CPU time to the current ``dbs_update()`` window."""
        load = _fraction(self.source, "load", load)
        iowait = _fraction(self.source, "iowait", iowait)
        nice = _fraction(self.source, "nice", nice)
        if load + iowait > 1.0 + 1e-9:
            raise InputError(self.source, "iowait", f"load + iowait must not exceed 1, got {load} + {iowait}")
        if nice > load + 1e-9:
            raise InputError(self.source, "nice", f"nice time is part of the busy time: {nice} > load {load}")
        period = self.sampling_rate
        self._elapsed_us += period
        self._busy_us += int(load * period + 0.5)
        self._iowait_us += int(iowait * period + 0.5)
        self._nice_us += int(nice * period + 0.5)

    def _take_load(self) -> int:
        """``dbs_update()``: load = 100 * (time_elapsed - idle_time) / time_elapsed (u32 math).

        idle_time is the idle time plus, unless ``io_is_busy``, the iowait time
        (``get_cpu_idle_time()``), plus the nice time when ``ignore_nice_load``.
        """
        elapsed = self._elapsed_us
        idle = elapsed - self._busy_us  # idle incl. iowait
        if self.io_is_busy:
            idle -= min(self._iowait_us, idle)
        if self.ignore_nice_load:
            idle += self._nice_us
        self._reset_window()
        if elapsed >= idle:
            return 100 * (elapsed - idle) // elapsed
        return 0


class OndemandGovernor(_DbsGovernor):
    """``ondemand`` (drivers/cpufreq/cpufreq_ondemand.c, ``od_update`` / ``od_dbs_update``).

    Every ``sampling_rate * rate_mult``: if load > ``up_threshold`` go to ``policy->max``
    (``CPUFREQ_RELATION_H``) and, if that is a switch, set ``rate_mult =
    sampling_down_factor``; else ``freq_next = min_f + load * (max_f - min_f) / 100`` with
    cpuinfo min/max and integer load percent, resolved with ``CPUFREQ_RELATION_C``, and
    ``rate_mult = 1``. With ``powersave_bias`` the target goes through
    ``generic_powersave_bias_target()`` first (``RELATION_L`` for the proportional target,
    ``RELATION_H`` for the jump to max, whose result is then set with ``RELATION_L``).

    :param frequencies_khz: the policy's available frequencies, strictly increasing (kHz)
    :param up_threshold: percent, 11..100; default 95 when the kernel has NO_HZ idle
        micro-accounting (``MICRO_FREQUENCY_UP_THRESHOLD``; ``od_init()`` checks
        ``get_cpu_idle_time_us() != -1``, true with CONFIG_NO_HZ_COMMON as in arm64
        configs), else 80 (``DEF_FREQUENCY_UP_THRESHOLD``)
    :param sampling_down_factor: 1..100000 (default 1)
    :param powersave_bias: 0..1000, per mille of frequency to shave off (default 0)
    :param sampling_rate: us; default from the transition latency (:func:`dbs_sampling_rate_us`)
    :param ignore_nice_load: 0/1, count niced tasks' time as idle (default 0)
    :param io_is_busy: 0/1, count iowait as busy (default 0: ``should_io_be_busy()`` is 1 only
        on Intel Core 2 and later)
    :param micro_accounting: the kernel has NO_HZ idle micro-accounting
        (``get_cpu_idle_time_us() != -1``); picks the up_threshold default
    :param transition_latency_us: ``cpuinfo_transition_latency`` // 1000, for the default
        ``sampling_rate``
    :param driver_transition_delay_us: ``policy->transition_delay_us``, if the driver sets it
    :param kernel: kernel version whose defaults apply, e.g. ``(6, 12)`` or ``"4.9"``
    :param hz: CONFIG_HZ (the minimum sampling interval is 2 ticks)
    """

    name = "ondemand"

    def __init__(
        self,
        frequencies_khz: Sequence[int],
        up_threshold: Optional[int] = None,
        sampling_down_factor: int = 1,
        powersave_bias: int = 0,
        sampling_rate: Optional[int] = None,
        ignore_nice_load: int = 0,
        io_is_busy: int = 0,
        micro_accounting: bool = True,
        transition_latency_us: int = 0,
        driver_transition_delay_us: int = 0,
        kernel: KernelLike = DEFAULT_KERNEL,
        hz: int = DEFAULT_HZ,
    ) -> None:
        super().__init__(
            frequencies_khz,
            sampling_rate=sampling_rate,
            ignore_nice_load=ignore_nice_load,
            io_is_busy=io_is_busy,
            transition_latency_us=transition_latency_us,
            driver_transition_delay_us=driver_transition_delay_us,
            kernel=kernel,
            hz=hz,
            micro_accounting=micro_accounting,
        )
        src = self.source
        if up_threshold is None:
            up_threshold = 95 if self.micro_accounting else 80
        # store_up_threshold(): MIN_FREQUENCY_UP_THRESHOLD 11, MAX_FREQUENCY_UP_THRESHOLD 100
        self.up_threshold = _int_in(src, "up_threshold", up_threshold, 11, 100)
        # store_sampling_down_factor(): 1..MAX_SAMPLING_DOWN_FACTOR (100000)
        self.sampling_down_factor = _int_in(src, "sampling_down_factor", sampling_down_factor, 1, 100000)
        # store_powersave_bias() clamps to 1000; we reject instead of silently clamping
        self.powersave_bias = _int_in(src, "powersave_bias", powersave_bias, 0, 1000)
        self.reset()

    def reset(self) -> None:
        """``cpufreq_dbs_governor_start()`` + ``od_start()``: rate_mult 1, no sub-sample."""
        self._rate_mult = 1
        self._held = 0  # sampling periods still to wait before the next evaluation
        #: ``(freq_lo, freq_hi_delay_us, freq_lo_delay_us)`` when powersave_bias split the
        #: last period between the returned ``freq_hi`` and ``freq_lo``; else None
        self.sub_sample: Optional[Tuple[int, int, int]] = None
        self._reset_window()

    @property
    def rate_mult(self) -> int:
        """``policy_dbs->rate_mult``: the next evaluation is this many periods after the last."""
        return self._rate_mult

    @property
    def tunables(self) -> Dict[str, Any]:
        return {
            "sampling_rate": self.sampling_rate,
            "up_threshold": self.up_threshold,
            "sampling_down_factor": self.sampling_down_factor,
            "powersave_bias": self.powersave_bias,
            "ignore_nice_load": self.ignore_nice_load,
            "io_is_busy": self.io_is_busy,
        }

    def next_frequency(self, load: float, current_khz: int, *, iowait: float = 0.0, nice: float = 0.0) -> int:
        """One ``sampling_rate`` period.

        :param load: busy fraction of the busiest CPU over the period
        :param current_khz: ``policy->cur``
        :param iowait: fraction of the period idle with I/O pending (busy if ``io_is_busy``)
        :param nice: fraction of the period running niced tasks (idle if ``ignore_nice_load``)
        """
        cur = self._current(current_khz)
        self._accumulate(load, iowait, nice)
        self.sub_sample = None
        if self._held:
            # the dbs work is not due: delay was sampling_rate * rate_mult
            self._held -= 1
            return cur
        freq = self._od_update(self._take_load(), cur)
        self._held = 0 if self.sub_sample else self._rate_mult - 1
        return cur if freq is None else freq

    def _od_update(self, load: int, cur: int) -> Optional[int]:
        table = self.table
        if load > self.up_threshold:
            # If switching to max speed, apply sampling_down_factor
            if cur < table.max:
                self._rate_mult = self.sampling_down_factor
            return self._dbs_freq_increase(table.max, cur)
        # Calculate the next frequency proportional to load
        min_f, max_f = table.min, table.max
        freq_next = _u32(min_f + _u32(load * (max_f - min_f)) // 100)
        self._rate_mult = 1  # no longer fully busy
        if self.powersave_bias:
            freq_next = self._powersave_bias_target(freq_next, RELATION_L)
        return table.resolve(freq_next, RELATION_C)

    def _dbs_freq_increase(self, freq: int, cur: int) -> Optional[int]:
        if self.powersave_bias:
            freq = self._powersave_bias_target(freq, RELATION_H)
            return self.table.resolve(freq, RELATION_L)
        if cur == self.table.max:
            return None
        return self.table.resolve(freq, RELATION_H)

    def _powersave_bias_target(self, freq_next: int, relation: str) -> int:
        """``generic_powersave_bias_target()``: split the period between two table freqs."""
        table = self.table
        freq_req = table.resolve(freq_next, relation)
        freq_reduc = _u32(freq_req * self.powersave_bias) // 1000
        freq_avg = freq_req - freq_reduc
        freq_lo = table.resolve(freq_avg, RELATION_H)
        freq_hi = table.resolve(freq_avg, RELATION_L)
        if freq_hi == freq_lo:
            return freq_lo
        # unsigned int arithmetic, wrap-around included
        delay_hi_us = _u32(_u32((freq_avg - freq_lo) * self.sampling_rate) + (freq_hi - freq_lo) // 2)
        delay_hi_us //= freq_hi - freq_lo
        delay_lo_us = _u32(self.sampling_rate - delay_hi_us)
        if delay_hi_us > 0:
            # od_dbs_update() ignores OD_SUB_SAMPLE when the delay is 0; then the next
            # sample re-evaluates at once and the policy effectively stays at freq_hi.
            self.sub_sample = (freq_lo, delay_hi_us, delay_lo_us)
        return freq_hi


class ConservativeGovernor(_DbsGovernor):
    """``conservative`` (drivers/cpufreq/cpufreq_conservative.c, ``cs_dbs_update``).

    Keeps ``requested_freq`` (starts at ``policy->cur``; reset to ``policy->cur`` if it
    lies outside the policy limits) and moves it one ``freq_step`` (``freq_step`` percent
    of ``policy->max``, ``get_freq_step()``) per sample: up when load > ``up_threshold``
    (set with ``CPUFREQ_RELATION_H``), down when load < ``down_threshold`` at most every
    ``sampling_down_factor`` samples (``requested - step`` if ``requested > step``, else
    ``policy->min``; set with ``CPUFREQ_RELATION_L``).

    :param frequencies_khz: the policy's available frequencies, strictly increasing (kHz)
    :param up_threshold: percent, down_threshold+1..100 (default 80)
    :param down_threshold: percent, 1..up_threshold-1 (default 20)
    :param freq_step: percent of max per step, 0..100 (default 5; 0 freezes the frequency)
    :param sampling_down_factor: 1..10 (default 1)
    :param sampling_rate: us; default from the transition latency (:func:`dbs_sampling_rate_us`)
    :param ignore_nice_load: 0/1, count niced tasks' time as idle (default 0)
    :param transition_latency_us: ``cpuinfo_transition_latency`` // 1000, for the default
        ``sampling_rate``
    :param driver_transition_delay_us: ``policy->transition_delay_us``, if the driver sets it
    :param kernel: kernel version whose defaults apply
    :param hz: CONFIG_HZ
    """

    name = "conservative"

    def __init__(
        self,
        frequencies_khz: Sequence[int],
        up_threshold: int = 80,
        down_threshold: int = 20,
        freq_step: int = 5,
        sampling_down_factor: int = 1,
        sampling_rate: Optional[int] = None,
        ignore_nice_load: int = 0,
        transition_latency_us: int = 0,
        driver_transition_delay_us: int = 0,
        kernel: KernelLike = DEFAULT_KERNEL,
        hz: int = DEFAULT_HZ,
    ) -> None:
        super().__init__(
            frequencies_khz,
            sampling_rate=sampling_rate,
            ignore_nice_load=ignore_nice_load,
            io_is_busy=0,  # conservative has no io_is_busy tunable (always 0)
            transition_latency_us=transition_latency_us,
            driver_transition_delay_us=driver_transition_delay_us,
            kernel=kernel,
            hz=hz,
            micro_accounting=True,
        )
        src = self.source
        self.up_threshold = _int_in(src, "up_threshold", up_threshold, 1, 100)
        self.down_threshold = _int_in(src, "down_threshold", down_threshold, 1, 99)
        if self.down_threshold >= self.up_threshold:
            raise InputError(
                src, "down_threshold", f"must be below up_threshold ({self.up_threshold}), got {self.down_threshold}"
            )
        # store_freq_step() clamps to 100; we reject instead of silently clamping
        self.freq_step = _int_in(src, "freq_step", freq_step, 0, 100)
        self.sampling_down_factor = _int_in(src, "sampling_down_factor", sampling_down_factor, 1, 10)
        self.reset()

    def reset(self) -> None:
        """``cs_start()``: ``down_skip = 0``, ``requested_freq = policy->cur`` (next call)."""
        self._down_skip = 0
        self._requested: Optional[int] = None
        self._reset_window()

    @property
    def requested_freq(self) -> Optional[int]:
        """``dbs_info->requested_freq`` (may lie between or outside table entries)."""
        return self._requested

    @property
    def tunables(self) -> Dict[str, Any]:
        return {
            "sampling_rate": self.sampling_rate,
            "up_threshold": self.up_threshold,
            "down_threshold": self.down_threshold,
            "freq_step": self.freq_step,
            "sampling_down_factor": self.sampling_down_factor,
            "ignore_nice_load": self.ignore_nice_load,
        }

    def next_frequency(self, load: float, current_khz: int, *, iowait: float = 0.0, nice: float = 0.0) -> int:
        """One ``sampling_rate`` period (``cs_dbs_update``).

        :param load: busy fraction of the busiest CPU over the period
        :param current_khz: ``policy->cur``
        :param iowait: fraction of the period idle with I/O pending (always idle here)
        :param nice: fraction of the period running niced tasks (idle if ``ignore_nice_load``)
        """
        cur = self._current(current_khz)
        self._accumulate(load, iowait, nice)
        load_pct = self._take_load()
        table = self.table
        if self._requested is None:
            self._requested = cur
        if self.freq_step == 0:
            return cur
        requested = self._requested
        if requested > table.max or requested < table.min:
            requested = cur  # limits changed in the meantime: fall back to policy->cur
            self._requested = requested
        freq_step = (self.freq_step * table.max) // 100  # get_freq_step()
        if freq_step == 0:
            freq_step = 5  # DEF_FREQUENCY_STEP
        # Check for frequency increase
        if load_pct > self.up_threshold:
            self._down_skip = 0
            if requested == table.max:
                return cur
            requested = min(requested + freq_step, table.max)
            self._requested = requested
            return table.resolve(requested, RELATION_H)
        # if sampling_down_factor is active break out early
        self._down_skip += 1
        if self._down_skip < self.sampling_down_factor:
            return cur
        self._down_skip = 0
        # Check for frequency decrease
        if load_pct < self.down_threshold:
            if requested == table.min:
                return cur
            requested = requested - freq_step if requested > freq_step else table.min
            self._requested = requested
            return table.resolve(requested, RELATION_L)
        return cur


# --------------------------------------------------------------------------- schedutil


class SchedutilGovernor(Governor):
    """``schedutil`` (kernel/sched/cpufreq_schedutil.c), shared-policy path.

    ``get_next_freq()``: with frequency-invariant utilisation the reference is
    ``cpuinfo.max_freq``, and ``next_f = 1.25 * f_ref * util / cap``, resolved by
    ``cpufreq_driver_resolve_freq()`` to the lowest table frequency >= ``next_f``
    (``CPUFREQ_RELATION_L``). Kernels before v6.8 compute ``(f + (f >> 2)) * util / cap``;
    v6.8+ add the headroom to util instead (``map_util_perf``: ``util + (util >> 2)``,
    capped at ``cap`` in ``sugov_effective_cpu_perf``) and compute ``f * util' / cap``.
    Without frequency invariance the reference is ``policy->cur`` (v6.8+:
    ``cur + (cur >> 2)``). ``util = round(load * 1024)``, ``cap = 1024``.

    Rate limit: the frequency is re-evaluated only if at least ``rate_limit_us`` passed
    since the last *change* (``sugov_should_update_freq``; ``last_freq_update_time`` is
    set in ``sugov_update_next_freq`` when ``next_freq`` changes). The first call after
    start always evaluates (``sugov_limits`` sets ``limits_changed``). Old kernels (e.g.
    4.9) restarted the rate limit at every evaluation; that is not modelled.

    :param frequencies_khz: the policy's available frequencies, strictly increasing (kHz)
    :param rate_limit_us: the only sysfs tunable; default ``cpufreq_policy_transition_delay_us``
        for the transition latency (:func:`transition_delay_us`)
    :param period_s: simulated seconds per ``next_frequency`` call; default ``rate_limit_us``
        (or one tick when that is 0)
    :param freq_invariant: the platform has frequency-invariant utilisation (arm64 and
        arm with ``arch_set_freq_scale``: yes)
    :param transition_latency_us: ``cpuinfo_transition_latency`` // 1000
    :param driver_transition_delay_us: ``policy->transition_delay_us``, if the driver sets it
    :param kernel: kernel version (>= 4.7); selects the default rate limit and the formula
    :param hz: CONFIG_HZ (only for the ``period_s`` default when ``rate_limit_us`` is 0)
    """

    name = "schedutil"

    def __init__(
        self,
        frequencies_khz: Sequence[int],
        rate_limit_us: Optional[int] = None,
        period_s: Optional[float] = None,
        freq_invariant: bool = True,
        transition_latency_us: int = 0,
        driver_transition_delay_us: int = 0,
        kernel: KernelLike = DEFAULT_KERNEL,
        hz: int = DEFAULT_HZ,
    ) -> None:
        super().__init__(frequencies_khz)
        src = self.source
        self.kernel = _parse_kernel(src, kernel)
        if self.kernel < (4, 7):
            raise InputError(src, "kernel", f"schedutil appeared in Linux 4.7, got {self.kernel}")
        self.hz = _int_in(src, "hz", hz, 1, 10000)
        self.freq_invariant = _bool(src, "freq_invariant", freq_invariant)
        lat = _int_in(src, "transition_latency_us", transition_latency_us, 0, None)
        drv = _int_in(src, "driver_transition_delay_us", driver_transition_delay_us, 0, None)
        if rate_limit_us is None:
            rate_limit_us = transition_delay_us(lat, self.kernel, drv)
        self.rate_limit_us = _int_in(src, "rate_limit_us", rate_limit_us, 0, _U32)
        if period_s is None:
            period_s = (self.rate_limit_us or _tick_nsec(self.hz) // 1000) / _USEC_PER_SEC
        self._period_s = _positive_seconds(src, "period_s", period_s)
        self._period_ns = max(1, round(self._period_s * _NSEC_PER_SEC))
        self.reset()

    def reset(self) -> None:
        """``sugov_start()`` + ``sugov_limits()``: next_freq 0, cached_raw_freq 0, limits changed."""
        self._now_ns = 0
        self._last_freq_update_ns = 0
        self._next_freq = 0
        self._cached_raw_freq = 0
        self._limits_changed = True
        self._need_freq_update = False

    @property
    def period_s(self) -> Optional[float]:
        return self._period_s

    @classmethod
    def sampling_period_s(
        cls,
        transition_latency_us: int = 0,
        *,
        kernel: KernelLike = DEFAULT_KERNEL,
        hz: int = DEFAULT_HZ,
        driver_transition_delay_us: int = 0,
    ) -> Optional[float]:
        """Default ``rate_limit_us`` in seconds: frequency changes are at least this far apart.

        The scheduler calls the governor on its own events (at least every tick while a
        CPU is busy); calling more often than the rate limit cannot change more often.
        """
        return transition_delay_us(transition_latency_us, kernel, driver_transition_delay_us) / 1e6

    @property
    def tunables(self) -> Dict[str, Any]:
        return {"rate_limit_us": self.rate_limit_us}

    @property
    def raw_target_khz(self) -> int:
        """``sg_policy->cached_raw_freq``: the last unresolved ``next_f``."""
        return self._cached_raw_freq

    def next_frequency(self, load: float, current_khz: int) -> int:
        """One ``period_s`` of time with utilisation ``load`` (= util / capacity).

        :param load: frequency-invariant utilisation of the busiest CPU / its capacity
        :param current_khz: ``policy->cur``
        """
        util = int(_fraction(self.source, "load", load) * SCHED_CAPACITY_SCALE + 0.5)
        cur = self._current(current_khz)
        now = self._now_ns
        self._now_ns += self._period_ns
        if not self._should_update_freq(now):
            return cur
        next_f = self._get_next_freq(util, cur)
        if not self._update_next_freq(now, next_f):
            return cur
        return next_f

    def _should_update_freq(self, now: int) -> bool:
        if self._limits_changed:
            self._limits_changed = False
            self._need_freq_update = True
            return True
        return now - self._last_freq_update_ns >= self.rate_limit_us * 1000

    def _update_next_freq(self, now: int, next_freq: int) -> bool:
        if self._need_freq_update:
            self._need_freq_update = False
            if self._next_freq == next_freq:
                return False
        elif self._next_freq == next_freq:
            return False
        self._next_freq = next_freq
        self._last_freq_update_ns = now
        return True

    def _get_next_freq(self, util: int, cur: int) -> int:
        cap = SCHED_CAPACITY_SCALE
        if self.kernel >= (6, 8):
            ref = self.table.max if self.freq_invariant else cur + (cur >> 2)  # get_capacity_ref_freq
            util = min(util + (util >> 2), cap)  # sugov_effective_cpu_perf(): map_util_perf, capped
            freq = ref * util // cap  # map_util_freq
        else:
            ref = self.table.max if self.freq_invariant else cur
            freq = (ref + (ref >> 2)) * util // cap  # map_util_freq with C = 1.25
        if freq == self._cached_raw_freq and not self._need_freq_update:
            return self._next_freq
        self._cached_raw_freq = freq
        return self.table.resolve(freq, RELATION_L)  # cpufreq_driver_resolve_freq


# --------------------------------------------------------------------------- devfreq


class SimpleOndemandGovernor(Governor):
    """devfreq ``simple_ondemand`` (drivers/devfreq/governor_simpleondemand.c).

    ``devfreq_simple_ondemand_func()`` on the device's ``busy_time`` / ``total_time``
    (u64 math, both shifted right by 7 when either reaches 2^24): busy > upthreshold % ->
    max; busy > (upthreshold - downdifferential) % -> keep the current frequency; else
    ``cur * busy / total * 100 / (upthreshold - downdifferential / 2)`` (integer division,
    so 90 - 5/2 = 88). ``update_devfreq()`` clamps to the OPP range and
    ``devfreq_recommended_opp()`` (flags 0) picks the lowest OPP >= the result. Frequencies
    are handled in Hz as devfreq does. ``busy_time``/``total_time`` are in ns over
    ``polling_ms`` (ktime based, as panfrost/lima/panthor report them).

    :param frequencies_khz: the device's OPPs, strictly increasing (kHz)
    :param upthreshold: percent, 1..100 (default ``DFSO_UPTHRESHOLD`` 90; panfrost and
        panthor pass 45)
    :param downdifferential: percent, 1..upthreshold (default ``DFSO_DOWNDIFFERENCTIAL`` 5)
    :param polling_ms: devfreq polling interval (sysfs ``polling_interval``); set by the
        driver's ``devfreq_dev_profile``, no kernel-wide default; 50 as in panfrost
    """

    name = "simple_ondemand"

    def __init__(
        self,
        frequencies_khz: Sequence[int],
        upthreshold: int = 90,
        downdifferential: int = 5,
        polling_ms: int = 50,
    ) -> None:
        super().__init__(frequencies_khz)
        src = self.source
        self.upthreshold = _int_in(src, "upthreshold", upthreshold, 1, 100)
        self.downdifferential = _int_in(src, "downdifferential", downdifferential, 1, 100)
        if self.upthreshold < self.downdifferential:
            raise InputError(
                src,
                "downdifferential",
                f"must not exceed upthreshold ({self.upthreshold}), got {self.downdifferential}",
            )
        self.polling_ms = _int_in(src, "polling_ms", polling_ms, 1, None)
        self._opps_hz = [f * 1000 for f in self.table]
        self.reset()

    def reset(self) -> None:
        """Stateless."""

    @property
    def period_s(self) -> Optional[float]:
        return self.polling_ms / 1000

    @classmethod
    def sampling_period_s(
        cls,
        transition_latency_us: int = 0,
        *,
        kernel: KernelLike = DEFAULT_KERNEL,
        hz: int = DEFAULT_HZ,
        driver_transition_delay_us: int = 0,
    ) -> Optional[float]:
        """The driver's ``polling_ms`` (50 ms in panfrost, lima and panthor); latency unused."""
        return 0.05

    @property
    def tunables(self) -> Dict[str, Any]:
        return {
            "upthreshold": self.upthreshold,
            "downdifferential": self.downdifferential,
            "polling_ms": self.polling_ms,
        }

    def next_frequency(self, load: float, current_khz: int) -> int:
        """One ``polling_ms`` window (``update_devfreq``).

        :param load: busy_time / total_time of the device over the window
        :param current_khz: the device's current frequency
        """
        total = self.polling_ms * 1_000_000
        busy = int(_fraction(self.source, "load", load) * total + 0.5)
        cur_hz = self._current(current_khz) * 1000
        target_hz = self._simple_ondemand_func(busy, total, cur_hz)
        # update_devfreq(): clamp to the OPP range; below min -> GLB, above max -> LUB
        lo, hi = self._opps_hz[0], self._opps_hz[-1]
        if target_hz > hi:
            return hi // 1000  # devfreq_recommended_opp(LUB): floor(max) = max
        target_hz = max(target_hz, lo)
        return self._opps_hz[bisect_left(self._opps_hz, target_hz)] // 1000  # ceil

    def _simple_ondemand_func(self, busy: int, total: int, cur_hz: int) -> int:
        up, down = self.upthreshold, self.downdifferential
        devfreq_max_freq = 2**64 - 1  # DEVFREQ_MAX_FREQ = ULONG_MAX
        if total == 0:
            return devfreq_max_freq
        if busy >= (1 << 24) or total >= (1 << 24):  # prevent overflow
            busy >>= 7
            total >>= 7
        if busy * 100 > total * up:  # busy enough: max
            return devfreq_max_freq
        if cur_hz == 0:
            return devfreq_max_freq
        if busy * 100 > total * (up - down):  # keep the current frequency
            return cur_hz
        a = busy * cur_hz
        b = a // total
        b *= 100
        return b // (up - down // 2)


# --------------------------------------------------------------------------- registry

#: name -> class, as listed by ``scaling_available_governors`` (plus the devfreq one)
GOVERNORS: Dict[str, Type[Governor]] = {
    cls.name: cls
    for cls in (
        PerformanceGovernor,
        PowersaveGovernor,
        UserspaceGovernor,
        OndemandGovernor,
        ConservativeGovernor,
        SchedutilGovernor,
        SimpleOndemandGovernor,
    )
}


def available() -> List[str]:
    """Names :func:`make` accepts."""
    return list(GOVERNORS)


def make(name: str, frequencies_khz: Sequence[int], **tunables: Any) -> Governor:
    """Build a governor by its kernel name.

    :param name: one of :func:`available`
    :param frequencies_khz: the policy's available frequencies, strictly increasing (kHz)
    :param tunables: the governor's tunables and platform facts (see its class)
    :raises InputError: unknown governor, unknown tunable, bad value or bad table
    """
    cls = GOVERNORS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise InputError(f"governor:{name}", "name", f"unknown governor; known: {', '.join(GOVERNORS)}")
    accepted = cls.accepted()
    for key in tunables:
        if key not in accepted:
            known = ", ".join(accepted) if accepted else "none"
            raise InputError(f"governor:{name}", key, f"unknown tunable; {name} accepts: {known}")
    return cls(frequencies_khz, **tunables)
