"""``schedutil`` (kernel/sched/cpufreq_schedutil.c), shared-policy path.

:func:`map_util_freq` is ``get_next_freq()`` without the cache: the simulator's units that no
application uses follow it (:meth:`rlrm.sim.simulator.BoardSimulator`), and
:class:`SchedutilGovernor` adds the rate limit and the ``cached_raw_freq`` shortcut.

Left out (deliberately): iowait boost (``sugov_iowait_boost``), uclamp, RT/DL "go to max",
and the single-CPU-policy "don't lower while busy" hold (``sugov_hold_freq``): the input is
one utilisation number; both boards have shared (multi-CPU) policies.
"""

from __future__ import annotations

from typing import ClassVar, Optional, Sequence, Tuple

from rlrm.governors.common import (
    CPUFREQ_FACTS,
    DEFAULT_KERNEL,
    NSEC_PER_SEC,
    RELATION_L,
    SCHED_CAPACITY_SCALE,
    U32,
    USEC_PER_SEC,
    Governor,
    KernelVersion,
    PlatformFacts,
    Tunable,
    boolean,
    integer,
    resolve_frequency,
    seconds,
    tick_nsec,
    transition_delay_us,
)
from rlrm.errors import InputError

__all__ = ["SchedutilGovernor", "map_util_freq", "util_of"]


def util_of(load: float) -> int:
    """Utilisation in capacity units: ``round(load * SCHED_CAPACITY_SCALE)``."""
    return int(load * SCHED_CAPACITY_SCALE + 0.5)


def raw_next_freq(f_max_khz: int, util: int, cur: int, kernel: KernelVersion = DEFAULT_KERNEL,
                  freq_invariant: bool = True) -> int:
    """``get_next_freq()`` before resolution: the raw target in kHz.

    v6.8+: ``ref * min(util + util/4, cap) / cap`` (``map_util_perf`` capped in
    ``sugov_effective_cpu_perf``, then ``map_util_freq``); before: ``(ref + ref/4) * util / cap``.
    ``ref`` is ``cpuinfo.max_freq`` with frequency-invariant utilisation, else ``policy->cur``
    (v6.8+: ``cur + cur/4``, ``get_capacity_ref_freq``).
    """
    cap = SCHED_CAPACITY_SCALE
    if kernel >= (6, 8):
        ref = f_max_khz if freq_invariant else cur + (cur >> 2)
        return ref * min(util + (util >> 2), cap) // cap
    ref = f_max_khz if freq_invariant else cur
    return (ref + (ref >> 2)) * util // cap


def map_util_freq(freqs_khz: Sequence[int], load: float, cur: Optional[int] = None,
                  kernel: KernelVersion = DEFAULT_KERNEL, freq_invariant: bool = True) -> int:
    """The table frequency schedutil picks for a utilisation ``load`` (= util / capacity).

    :param freqs_khz: the policy's frequency table, strictly increasing (not checked here)
    :param load: frequency-invariant utilisation / capacity, clipped to [0, 1]
    :param cur: ``policy->cur`` (only used without frequency invariance; default max)
    :param kernel: kernel version (formula before / since v6.8)
    :param freq_invariant: the platform has frequency-invariant utilisation
    """
    util = util_of(min(1.0, max(0.0, load)))
    raw = raw_next_freq(freqs_khz[-1], util, cur or freqs_khz[-1], kernel, freq_invariant)
    return resolve_frequency(freqs_khz, raw, RELATION_L)  # cpufreq_driver_resolve_freq


class SchedutilGovernor(Governor):
    """``schedutil``: ``next_f = 1.25 * f_ref * util / cap`` resolved to the lowest table
    frequency >= it (``CPUFREQ_RELATION_L``), see :func:`raw_next_freq`.

    Rate limit: the frequency is re-evaluated only if at least ``rate_limit_us`` passed
    since the last *change* (``sugov_should_update_freq``; ``last_freq_update_time`` is
    set in ``sugov_update_next_freq`` when ``next_freq`` changes). The first call after
    start always evaluates (``sugov_limits`` sets ``limits_changed``). Old kernels (e.g.
    4.9) restarted the rate limit at every evaluation; that is not modelled.

    Tunables: ``rate_limit_us`` (the only sysfs one; default
    ``cpufreq_policy_transition_delay_us`` for the transition latency). Simulation:
    ``period_s``, seconds per ``next_frequency`` call (default ``rate_limit_us``, or one
    tick when that is 0). Platform facts: ``freq_invariant`` (arm64: yes) and
    :data:`rlrm.governors.common.CPUFREQ_FACTS` (kernel >= 4.7).
    """

    name = "schedutil"
    TUNABLES: ClassVar[Tuple[Tunable, ...]] = (
        Tunable("rate_limit_us", None, integer(0, U32)),
        Tunable("period_s", None, seconds, sysfs=False),
        Tunable("freq_invariant", True, boolean, sysfs=False),
        *CPUFREQ_FACTS,
    )
    rate_limit_us: int
    freq_invariant: bool
    kernel: KernelVersion
    hz: int
    transition_latency_us: int
    driver_transition_delay_us: int

    def configure(self) -> None:
        if self.kernel < (4, 7):
            raise InputError(self.source, "kernel", f"schedutil appeared in Linux 4.7, got {self.kernel}")
        if self.rate_limit_us is None:
            self.rate_limit_us = transition_delay_us(self.transition_latency_us, self.kernel,
                                                     self.driver_transition_delay_us)
        if self._period_s is None:  # the period_s tunable, when given
            self._period_s = (self.rate_limit_us or tick_nsec(self.hz) // 1000) / USEC_PER_SEC
        self._period_ns = max(1, round(self._period_s * NSEC_PER_SEC))

    @property
    def load_is_invariant(self) -> bool:  # type: ignore[override]
        """Frequency-invariant utilisation when the platform has it."""
        return self.freq_invariant

    @classmethod
    def default_period_us(cls, facts: PlatformFacts) -> Optional[int]:
        """Default ``rate_limit_us``: frequency changes are at least this far apart.

        The scheduler calls the governor on its own events (at least every tick while a
        CPU is busy); calling more often than the rate limit cannot change more often.
        """
        return transition_delay_us(facts.transition_latency_us, facts.kernel, facts.driver_transition_delay_us)

    def reset(self) -> None:
        """``sugov_start()`` + ``sugov_limits()``: next_freq 0, cached_raw_freq 0, limits changed."""
        self._now_ns = 0
        self._last_freq_update_ns = 0
        self._next_freq = 0
        self._cached_raw_freq = 0
        self._limits_changed = True
        self._need_freq_update = False

    @property
    def raw_target_khz(self) -> int:
        """``sg_policy->cached_raw_freq``: the last unresolved ``next_f``."""
        return self._cached_raw_freq

    def next_frequency(self, load: float, current_khz: int) -> int:
        """One ``period_s`` of time with utilisation ``load`` (= util / capacity).

        :param load: frequency-invariant utilisation of the busiest CPU / its capacity
        :param current_khz: ``policy->cur``
        """
        util = util_of(self.check_load(load))
        cur = self.check_current(current_khz)
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
        freq = raw_next_freq(self.table.max, util, cur, self.kernel, self.freq_invariant)
        if freq == self._cached_raw_freq and not self._need_freq_update:
            return self._next_freq
        self._cached_raw_freq = freq
        return self.table.resolve(freq, RELATION_L)  # cpufreq_driver_resolve_freq
