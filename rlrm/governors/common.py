"""What every governor shares, as ``drivers/cpufreq/cpufreq_governor.c`` is for the kernel's.

* :class:`FrequencyTable`: ``cpufreq_frequency_table_target()`` resolution (``RELATION_L/H/C``);
* the default cadence of a kernel era: :func:`transition_delay_us` and
  :func:`dbs_sampling_rate_us`;
* :class:`Tunable`: a governor's keyword arguments, declared once per class with their
  defaults and checks (the project's shared field checks, :mod:`rlrm.validate`);
* :class:`Governor`: the base class (validation, ``tunables``, ``sampling_period_s``, ``repr``);
* :func:`samples_per_period` and :func:`run_period`: a governor sampled at its own rate inside
  one control period of the simulator (see the module docstring of :mod:`rlrm.governors`).
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from rlrm.errors import InputError
from rlrm.validate import check_bool, check_fraction, check_number

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
U32 = 0xFFFFFFFF
USEC_PER_SEC = 1_000_000
NSEC_PER_SEC = 1_000_000_000

#: upper bound on governor samples per control period (cost bound; a 1 s control period
#: holds 100 samples of a 10 ms ``sampling_rate``)
MAX_SAMPLES_PER_PERIOD = 100
#: a measured utilisation at or above this is a saturated unit (busy all the period)
SATURATED = 1.0 - 1e-9


def u32(value: int) -> int:
    """Truncate to ``unsigned int`` as C does on overflow."""
    return value & U32


def c_div(a: int, b: int) -> int:
    """C's signed integer division (truncates toward zero, unlike ``//``)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def is_int(value: Any) -> bool:
    """An integer that is not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


# --------------------------------------------------------------------------- field checks

Check = Callable[[Any, str, str], Any]  # (value, source, field) -> validated value


def integer(lo: int, hi: Optional[int] = None) -> Check:
    """Check: an integer in ``lo..hi`` (``hi`` None: no upper bound)."""

    def check(value: Any, source: str, field: str) -> int:
        if isinstance(value, float):  # 80.0 is fine in TOML, 80.5 is not
            return int(check_number(value, source, field, minimum=lo, maximum=hi, integer=True))
        if not is_int(value):
            raise InputError(source, field, f"expected an integer, got {value!r}")
        return int(check_number(int(value), source, field, minimum=lo, maximum=hi, integer=True))

    return check


def flag(value: Any, source: str, field: str) -> int:
    """Check: a sysfs 0/1 switch (``True``/``False`` accepted)."""
    return int(value) if isinstance(value, bool) else integer(0, 1)(value, source, field)


def boolean(value: Any, source: str, field: str) -> bool:
    """Check: true or false."""
    return check_bool(value, source, field)


def seconds(value: Any, source: str, field: str) -> float:
    """Check: a positive, finite number of seconds."""
    return float(check_number(value, source, field, exclusive_minimum=0.0))


def kernel_version(value: Any, source: str, field: str = "kernel") -> KernelVersion:
    """Check: ``(6, 12)``, ``[5, 10]`` or ``"4.9"`` / ``"5.10.120"`` -> ``(major, minor)``."""
    parts: Sequence[Any]
    if isinstance(value, str):
        try:
            parts = [int(p) for p in value.strip().split(".")[:2]]
        except ValueError:
            parts = []
    else:
        parts = list(value) if isinstance(value, (tuple, list)) else []
    if len(parts) < 2 or not all(is_int(p) and p >= 0 for p in parts[:2]) or parts[0] < 2:
        raise InputError(source, field, f"must be a version like (6, 12) or '5.10', got {value!r}")
    return int(parts[0]), int(parts[1])


@dataclass(frozen=True)
class Tunable:
    """One keyword argument of a governor, declared once on its class.

    :param name: the keyword (the sysfs file name for kernel tunables)
    :param default: the kernel's default; None when it is derived from other values
    :param check: validates a value and returns it
    :param sysfs: a kernel tunable (listed by :attr:`Governor.tunables`); False for a fact
        about the platform (kernel version, CONFIG_HZ, transition latency)
    """

    name: str
    default: Any
    check: Check
    sysfs: bool = True


#: facts about the platform every cpufreq governor with a default cadence accepts
CPUFREQ_FACTS: Tuple[Tunable, ...] = (
    Tunable("transition_latency_us", 0, integer(0), sysfs=False),
    Tunable("driver_transition_delay_us", 0, integer(0), sysfs=False),
    Tunable("kernel", DEFAULT_KERNEL, kernel_version, sysfs=False),
    Tunable("hz", DEFAULT_HZ, integer(1, 10000), sysfs=False),
)


# --------------------------------------------------------------------------- frequency table


def resolve_frequency(freqs_khz: Sequence[int], target_khz: int, relation: str) -> int:
    """``cpufreq_frequency_table_target()`` on an ascending table (see :class:`FrequencyTable`).

    :param freqs_khz: the table, strictly increasing (not checked here)
    :param target_khz: the requested frequency, clamped to the table's ends first
    :param relation: :data:`RELATION_L`, :data:`RELATION_H` or :data:`RELATION_C`
    """
    t = min(max(int(target_khz), freqs_khz[0]), freqs_khz[-1])
    i = bisect_left(freqs_khz, t)
    if freqs_khz[i] == t:
        return t
    lo, hi = freqs_khz[i - 1], freqs_khz[i]  # lo < t < hi: t is clamped inside
    if relation == RELATION_L:
        return hi
    if relation == RELATION_H:
        return lo
    if relation == RELATION_C:
        return hi if t - lo > hi - t else lo
    raise ValueError(f"unknown relation {relation!r}")


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
            if not is_int(f) or f <= 0:
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
        return resolve_frequency(self.freqs, target_khz, relation)


# --------------------------------------------------------------------------- default cadence


def tick_nsec(hz: int) -> int:
    """``TICK_NSEC`` for CONFIG_HZ ``hz``."""
    return (NSEC_PER_SEC + hz // 2) // hz


def _jiffies_to_usecs(jiffies: int, hz: int) -> int:
    return -(-jiffies * USEC_PER_SEC // hz)  # exact when HZ divides 1e6, else rounded up


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
    k = kernel_version(kernel, "cpufreq")
    lat = integer(0)(transition_latency_us, "cpufreq", "transition_latency_us")
    drv = integer(0)(driver_transition_delay_us, "cpufreq", "driver_transition_delay_us")
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


def dbs_min_sampling_rate_us(
    governor: str, transition_latency_us: int, kernel: KernelVersion, hz: int, micro_accounting: bool
) -> int:
    """The smallest ``sampling_rate`` the kernel accepts for ondemand / conservative."""
    if kernel >= (4, 14):
        return 2 * tick_nsec(hz) // 1000  # CPUFREQ_DBS_MIN_SAMPLING_INTERVAL
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
    src = f"governor:{governor}"
    k = kernel_version(kernel, src)
    hz = integer(1, 10000)(hz, src, "hz")
    lat = integer(0)(transition_latency_us, src, "transition_latency_us")
    floor_us = dbs_min_sampling_rate_us(governor, lat, k, hz, micro_accounting)
    if k >= (4, 14):
        return max(floor_us, transition_delay_us(lat, k, driver_transition_delay_us))
    return max(floor_us, 1000 * max(1, lat))


@dataclass(frozen=True)
class PlatformFacts:
    """What the default cadence of a governor depends on (see :meth:`Governor.sampling_period_s`)."""

    transition_latency_us: int = 0
    kernel: KernelLike = DEFAULT_KERNEL
    hz: int = DEFAULT_HZ
    driver_transition_delay_us: int = 0


# --------------------------------------------------------------------------- base class


class Governor(ABC):
    """A frequency governor for one policy (a CPU cluster or a devfreq device).

    Subclasses declare their keyword arguments once in :attr:`TUNABLES`; the constructor
    validates them (one-line :class:`InputError` naming ``governor:<name>`` and the field),
    stores each as an attribute, calls :meth:`configure` for derived defaults and
    cross-field checks, then :meth:`reset`.

    Calling convention: ``next_frequency(load, current_khz)`` is called once per
    :attr:`period_s`; ``load`` is the busy fraction in [0, 1] over the period that just
    ended, ``current_khz`` the frequency the unit ran at; the return value is the
    frequency the governor leaves the policy at (``current_khz`` when it issues no request).

    :param frequencies_khz: the policy's available frequencies, strictly increasing (kHz)
    :param tunables: values for :attr:`TUNABLES` (the rest keep their defaults)
    """

    #: the name the kernel knows it by (``scaling_governor`` / devfreq ``governor``)
    name: ClassVar[str] = ""
    #: the keyword arguments the constructor accepts, in the order errors list them
    TUNABLES: ClassVar[Tuple[Tunable, ...]] = ()
    #: the load is frequency-invariant utilisation (util / capacity), not busy time at ``cur``
    load_is_invariant: ClassVar[bool] = False

    def __init__(self, frequencies_khz: Sequence[int], **tunables: Any) -> None:
        self.source = f"governor:{self.name}"
        accepted = self.accepted()
        for key in tunables:
            if key not in accepted:
                known = ", ".join(accepted) if accepted else "none"
                raise InputError(self.source, key, f"unknown tunable; {self.name} accepts: {known}")
        self.table = FrequencyTable(frequencies_khz, self.source)
        self._period_s: Optional[float] = None
        for t in self.TUNABLES:
            value = tunables.get(t.name, t.default)
            setattr(self, t.name, None if value is None else t.check(value, self.source, t.name))
        self.configure()
        self.reset()

    @classmethod
    def accepted(cls) -> List[str]:
        """Keyword arguments the constructor accepts (tunables and platform facts)."""
        return [t.name for t in cls.TUNABLES]

    def configure(self) -> None:  # noqa: B027 - optional hook
        """Fill derived defaults and check tunables against each other (after validation)."""

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
        return self._period_s

    @period_s.setter
    def period_s(self, value: Optional[float]) -> None:
        self._period_s = value

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
        us = cls.default_period_us(PlatformFacts(transition_latency_us, kernel, hz, driver_transition_delay_us))
        return None if us is None else us / USEC_PER_SEC

    @classmethod
    def default_period_us(cls, facts: PlatformFacts) -> Optional[int]:
        """The governor's default cadence in us on a platform (None: static)."""
        return None

    @property
    def tunables(self) -> Dict[str, Any]:
        """The effective kernel tunables (defaults filled in), e.g. for logging a run."""
        return {t.name: getattr(self, t.name) for t in self.TUNABLES if t.sysfs}

    def check_load(self, load: Any, field: str = "load") -> float:
        """A load in [0, 1] (one-line error otherwise)."""
        return check_fraction(load, self.source, field)

    def check_current(self, current_khz: Any) -> int:
        """``policy->cur``: a positive integer (kHz)."""
        if not is_int(current_khz) or current_khz <= 0:
            raise InputError(self.source, "current_khz", f"must be a positive integer, got {current_khz!r}")
        return int(current_khz)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.tunables.items())
        return f"{type(self).__name__}({len(self.table)} freqs, {args})"


# --------------------------------------------------------------------------- sub-sampling


def samples_per_period(gov: Governor, period_s: float) -> int:
    """How many times ``gov`` samples in one control period of ``period_s`` seconds.

    ``round(period_s / gov.period_s)``, at least 1 and at most :data:`MAX_SAMPLES_PER_PERIOD`
    (a static governor: 1). When capped (schedutil's 1 ms default rate limit, ondemand's
    8 ms), the samples cover the start of the period in the governor's own clock; the load
    is the same in every sub-interval at one frequency, so it has settled by then.
    """
    own = gov.period_s
    if not own:
        return 1
    return int(min(MAX_SAMPLES_PER_PERIOD, max(1, round(period_s / own))))


def subinterval_load(gov: Governor, util: float, f_last_khz: int, f_khz: int) -> float:
    """The load ``gov`` sees in a sub-interval at ``f_khz`` of a period measured at ``f_last_khz``.

    The busy fraction at ``f`` is that of the period's work ``util * f_last`` run at ``f``,
    ``min(1, util * f_last / f)`` (work-conserving); a saturated period (``util`` 1: the unit
    was busy all the time, its demand unknown but at least its capacity) is busy at every
    frequency. schedutil's frequency-invariant utilisation is that busy fraction times
    ``f / f_max`` (a unit busy all the time at ``f`` has utilisation ``f / f_max``).
    """
    busy = 1.0 if util >= SATURATED else min(1.0, max(0.0, util) * f_last_khz / f_khz)
    return busy * f_khz / gov.table.max if gov.load_is_invariant else busy


def run_period(gov: Governor, util: float, f_last_khz: int, samples: int) -> List[int]:
    """Sample ``gov`` ``samples`` times through one control period; the frequency after each.

    :param gov: the governor (its state carries over from the previous period)
    :param util: the unit's busy fraction measured over the last control period
    :param f_last_khz: the frequency that period ran at (the start of this one)
    :param samples: :func:`samples_per_period`
    """
    out, f = [], f_last_khz
    for _ in range(samples):
        f = gov.next_frequency(subinterval_load(gov, util, f_last_khz, f), f)
        out.append(f)
    return out
