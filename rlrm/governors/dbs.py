"""The "dbs" (demand-based switching) cpufreq governors: ``ondemand`` and ``conservative``.

:class:`DbsGovernor` is their shared part, ``dbs_update()`` of
drivers/cpufreq/cpufreq_governor.c: every ``sampling_rate`` us the load of the window since
the last evaluation, ``100 * (elapsed - idle) / elapsed``. One ``next_frequency`` call is one
``sampling_rate``; ondemand's ``sampling_down_factor`` makes the next evaluation
``rate_mult`` periods later, the calls in between return ``current_khz`` and their loads are
summed into the one window the kernel would measure.

Left out: the idle-wakeup heuristics (``prev_load`` reuse, conservative's ``idle_periods``
catch-up): they need the sampling to be skipped while the CPU sleeps; here the governor
runs exactly on its cadence, so they never trigger.
"""

from __future__ import annotations

from typing import ClassVar, Optional, Tuple

from rlrm.governors.common import (
    CPUFREQ_FACTS,
    RELATION_C,
    RELATION_H,
    RELATION_L,
    U32,
    USEC_PER_SEC,
    Governor,
    PlatformFacts,
    Tunable,
    boolean,
    dbs_min_sampling_rate_us,
    dbs_sampling_rate_us,
    flag,
    integer,
    u32,
)
from rlrm.errors import InputError

__all__ = ["ConservativeGovernor", "DbsGovernor", "OndemandGovernor"]

_SAMPLING_RATE = Tunable("sampling_rate", None, integer(0, U32))
_IGNORE_NICE_LOAD = Tunable("ignore_nice_load", 0, flag)


class DbsGovernor(Governor):
    """Shared part of ondemand and conservative: ``dbs_update()`` and the sampling rate.

    ``sampling_rate`` (us) defaults to :func:`dbs_sampling_rate_us` for the platform facts
    and may not go below the kernel's minimum (2 ticks since v4.14).
    """

    sampling_rate: int
    ignore_nice_load: int
    io_is_busy: int
    micro_accounting: bool
    transition_latency_us: int
    driver_transition_delay_us: int
    kernel: Tuple[int, int]
    hz: int

    def configure(self) -> None:
        if not hasattr(self, "io_is_busy"):
            self.io_is_busy = 0  # conservative has no io_is_busy tunable
        if not hasattr(self, "micro_accounting"):
            self.micro_accounting = True
        floor_us = dbs_min_sampling_rate_us(
            self.name, self.transition_latency_us, self.kernel, self.hz, self.micro_accounting
        )
        if self.sampling_rate is None:
            self.sampling_rate = dbs_sampling_rate_us(
                self.name, self.transition_latency_us, self.kernel, self.hz,
                self.driver_transition_delay_us, self.micro_accounting,
            )
        elif self.sampling_rate < floor_us:
            raise InputError(self.source, "sampling_rate",
                             f"must be at least {floor_us} (the kernel's minimum sampling interval, us), "
                             f"got {self.sampling_rate}")
        self._period_s = self.sampling_rate / USEC_PER_SEC

    @classmethod
    def default_period_us(cls, facts: PlatformFacts) -> Optional[int]:
        """Default ``sampling_rate``; see :func:`dbs_sampling_rate_us`."""
        return dbs_sampling_rate_us(cls.name, facts.transition_latency_us, facts.kernel, facts.hz,
                                    facts.driver_transition_delay_us)

    def _reset_window(self) -> None:
        self._elapsed_us = 0
        self._busy_us = 0
        self._iowait_us = 0
        self._nice_us = 0

    def _accumulate(self, load: float, iowait: float, nice: float) -> None:
        """Add one sampling period's CPU time to the current ``dbs_update()`` window."""
        load = self.check_load(load)
        iowait = self.check_load(iowait, "iowait")
        nice = self.check_load(nice, "nice")
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


class OndemandGovernor(DbsGovernor):
    """``ondemand`` (drivers/cpufreq/cpufreq_ondemand.c, ``od_update`` / ``od_dbs_update``).

    Every ``sampling_rate * rate_mult``: if load > ``up_threshold`` go to ``policy->max``
    (``CPUFREQ_RELATION_H``) and, if that is a switch, set ``rate_mult =
    sampling_down_factor``; else ``freq_next = min_f + load * (max_f - min_f) / 100`` with
    cpuinfo min/max and integer load percent, resolved with ``CPUFREQ_RELATION_C``, and
    ``rate_mult = 1``. With ``powersave_bias`` the target goes through
    ``generic_powersave_bias_target()`` first (``RELATION_L`` for the proportional target,
    ``RELATION_H`` for the jump to max, whose result is then set with ``RELATION_L``); the
    kernel then alternates ``freq_hi`` / ``freq_lo`` within one period: ``next_frequency``
    returns ``freq_hi`` and :attr:`sub_sample` gives ``(freq_lo, freq_hi_delay_us,
    freq_lo_delay_us)``.

    Tunables: ``up_threshold`` percent 11..100, default 95 when the kernel has NO_HZ idle
    micro-accounting (``MICRO_FREQUENCY_UP_THRESHOLD``; ``od_init()`` checks
    ``get_cpu_idle_time_us() != -1``, true on arm64 configs), else 80; ``sampling_down_factor``
    1..100000 (1); ``powersave_bias`` 0..1000 per mille (0); ``sampling_rate`` us (from the
    platform facts); ``ignore_nice_load`` 0/1 (0); ``io_is_busy`` 0/1 (0:
    ``should_io_be_busy()`` is 1 only on Intel Core 2 and later). Platform facts:
    ``micro_accounting``, ``transition_latency_us``, ``driver_transition_delay_us``,
    ``kernel``, ``hz`` (see :data:`rlrm.governors.common.CPUFREQ_FACTS`).
    """

    name = "ondemand"
    TUNABLES: ClassVar[Tuple[Tunable, ...]] = (
        # store_up_threshold(): MIN_FREQUENCY_UP_THRESHOLD 11, MAX_FREQUENCY_UP_THRESHOLD 100
        Tunable("up_threshold", None, integer(11, 100)),
        # store_sampling_down_factor(): 1..MAX_SAMPLING_DOWN_FACTOR (100000)
        Tunable("sampling_down_factor", 1, integer(1, 100000)),
        # store_powersave_bias() clamps to 1000; we reject instead of silently clamping
        Tunable("powersave_bias", 0, integer(0, 1000)),
        _SAMPLING_RATE,
        _IGNORE_NICE_LOAD,
        Tunable("io_is_busy", 0, flag),
        Tunable("micro_accounting", True, boolean, sysfs=False),
        *CPUFREQ_FACTS,
    )
    up_threshold: int
    sampling_down_factor: int
    powersave_bias: int

    def configure(self) -> None:
        super().configure()
        if self.up_threshold is None:
            self.up_threshold = 95 if self.micro_accounting else 80

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

    def next_frequency(self, load: float, current_khz: int, *, iowait: float = 0.0, nice: float = 0.0) -> int:
        """One ``sampling_rate`` period.

        :param load: busy fraction of the busiest CPU over the period
        :param current_khz: ``policy->cur``
        :param iowait: fraction of the period idle with I/O pending (busy if ``io_is_busy``)
        :param nice: fraction of the period running niced tasks (idle if ``ignore_nice_load``)
        """
        cur = self.check_current(current_khz)
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
        freq_next = u32(min_f + u32(load * (max_f - min_f)) // 100)
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
        freq_reduc = u32(freq_req * self.powersave_bias) // 1000
        freq_avg = freq_req - freq_reduc
        freq_lo = table.resolve(freq_avg, RELATION_H)
        freq_hi = table.resolve(freq_avg, RELATION_L)
        if freq_hi == freq_lo:
            return freq_lo
        # unsigned int arithmetic, wrap-around included
        delay_hi_us = u32(u32((freq_avg - freq_lo) * self.sampling_rate) + (freq_hi - freq_lo) // 2)
        delay_hi_us //= freq_hi - freq_lo
        delay_lo_us = u32(self.sampling_rate - delay_hi_us)
        if delay_hi_us > 0:
            # od_dbs_update() ignores OD_SUB_SAMPLE when the delay is 0; then the next
            # sample re-evaluates at once and the policy effectively stays at freq_hi.
            self.sub_sample = (freq_lo, delay_hi_us, delay_lo_us)
        return freq_hi


class ConservativeGovernor(DbsGovernor):
    """``conservative`` (drivers/cpufreq/cpufreq_conservative.c, ``cs_dbs_update``).

    Keeps ``requested_freq`` (starts at ``policy->cur``; reset to ``policy->cur`` if it
    lies outside the policy limits) and moves it one ``freq_step`` (``freq_step`` percent
    of ``policy->max``, ``get_freq_step()``) per sample: up when load > ``up_threshold``
    (set with ``CPUFREQ_RELATION_H``), down when load < ``down_threshold`` at most every
    ``sampling_down_factor`` samples (``requested - step`` if ``requested > step``, else
    ``policy->min``; set with ``CPUFREQ_RELATION_L``).

    Tunables: ``up_threshold`` percent down_threshold+1..100 (80); ``down_threshold``
    1..up_threshold-1 (20); ``freq_step`` percent of max 0..100 (5; 0 freezes the
    frequency); ``sampling_down_factor`` 1..10 (1); ``sampling_rate`` us (from the platform
    facts); ``ignore_nice_load`` 0/1 (0). Platform facts as for ondemand, without
    ``micro_accounting``.
    """

    name = "conservative"
    TUNABLES: ClassVar[Tuple[Tunable, ...]] = (
        Tunable("up_threshold", 80, integer(1, 100)),
        Tunable("down_threshold", 20, integer(1, 99)),
        # store_freq_step() clamps to 100; we reject instead of silently clamping
        Tunable("freq_step", 5, integer(0, 100)),
        Tunable("sampling_down_factor", 1, integer(1, 10)),
        _SAMPLING_RATE,
        _IGNORE_NICE_LOAD,
        *CPUFREQ_FACTS,
    )
    up_threshold: int
    down_threshold: int
    freq_step: int
    sampling_down_factor: int

    def configure(self) -> None:
        super().configure()
        if self.down_threshold >= self.up_threshold:
            raise InputError(self.source, "down_threshold",
                             f"must be below up_threshold ({self.up_threshold}), got {self.down_threshold}")

    def reset(self) -> None:
        """``cs_start()``: ``down_skip = 0``, ``requested_freq = policy->cur`` (next call)."""
        self._down_skip = 0
        self._requested: Optional[int] = None
        self._reset_window()

    @property
    def requested_freq(self) -> Optional[int]:
        """``dbs_info->requested_freq`` (may lie between or outside table entries)."""
        return self._requested

    def next_frequency(self, load: float, current_khz: int, *, iowait: float = 0.0, nice: float = 0.0) -> int:
        """One ``sampling_rate`` period (``cs_dbs_update``).

        :param load: busy fraction of the busiest CPU over the period
        :param current_khz: ``policy->cur``
        :param iowait: fraction of the period idle with I/O pending (always idle here)
        :param nice: fraction of the period running niced tasks (idle if ``ignore_nice_load``)
        """
        cur = self.check_current(current_khz)
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
        if load_pct > self.up_threshold:  # check for frequency increase
            self._down_skip = 0
            if requested == table.max:
                return cur
            requested = min(requested + freq_step, table.max)
            self._requested = requested
            return table.resolve(requested, RELATION_H)
        self._down_skip += 1  # if sampling_down_factor is active break out early
        if self._down_skip < self.sampling_down_factor:
            return cur
        self._down_skip = 0
        if load_pct < self.down_threshold:  # check for frequency decrease
            if requested == table.min:
                return cur
            requested = requested - freq_step if requested > freq_step else table.min
            self._requested = requested
            return table.resolve(requested, RELATION_L)
        return cur
