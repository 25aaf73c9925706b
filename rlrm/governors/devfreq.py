"""devfreq governors (GPUs): ``simple_ondemand`` (mainline) and ``nvhost_podgov`` (NVIDIA L4T).

Both run every ``polling_ms`` on the device's ``busy_time`` / ``total_time`` (ns over the
window) and hand their target to ``update_devfreq()``, which clamps it to the OPP range and
picks the lowest OPP at or above it. Frequencies are handled in Hz as devfreq does.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import ClassVar, List, Optional, Tuple

from rlrm.governors.common import Governor, PlatformFacts, Tunable, c_div, integer
from rlrm.errors import InputError

__all__ = ["DevfreqGovernor", "NvhostPodgovGovernor", "SimpleOndemandGovernor"]

DEVFREQ_MAX_FREQ = 2**64 - 1  # ULONG_MAX
_ULONG = 2**64


class DevfreqGovernor(Governor):
    """What devfreq does around a governor: the polling window and OPP resolution.

    ``polling_ms`` (sysfs ``polling_interval``) is set by the driver's
    ``devfreq_dev_profile``; there is no kernel-wide default, each subclass names its
    driver's (:attr:`DEFAULT_POLLING_MS`).
    """

    #: the driver's ``devfreq_dev_profile.polling_ms``
    DEFAULT_POLLING_MS: ClassVar[int] = 50
    polling_ms: int

    def configure(self) -> None:
        self._opps_hz: List[int] = [f * 1000 for f in self.table]
        self._period_s = self.polling_ms / 1000

    @classmethod
    def default_period_us(cls, facts: PlatformFacts) -> Optional[int]:
        """The driver's ``polling_ms``; the transition latency plays no part."""
        return cls.DEFAULT_POLLING_MS * 1000

    def window(self, load: float) -> Tuple[int, int]:
        """``(busy_time, total_time)`` in ns of one polling window at busy fraction ``load``."""
        total = self.polling_ms * 1_000_000
        return int(self.check_load(load) * total + 0.5), total

    def recommended_opp_hz(self, target_hz: int) -> int:
        """``update_devfreq()``: clamp to the OPP range, then ``devfreq_recommended_opp()``
        (flags 0: the lowest OPP >= the target; above max -> max)."""
        lo, hi = self._opps_hz[0], self._opps_hz[-1]
        if target_hz >= hi:
            return hi
        return self._opps_hz[bisect_left(self._opps_hz, max(target_hz, lo))]


class SimpleOndemandGovernor(DevfreqGovernor):
    """devfreq ``simple_ondemand`` (drivers/devfreq/governor_simpleondemand.c).

    ``devfreq_simple_ondemand_func()`` (u64 math, busy and total both shifted right by 7
    when either reaches 2^24): busy > upthreshold % -> max; busy > (upthreshold -
    downdifferential) % -> keep the current frequency; else ``cur * busy / total * 100 /
    (upthreshold - downdifferential / 2)`` (integer division, so 90 - 5/2 = 88).

    Tunables: ``upthreshold`` percent 1..100 (``DFSO_UPTHRESHOLD`` 90; panfrost and panthor
    pass 45), ``downdifferential`` 1..upthreshold (``DFSO_DOWNDIFFERENCTIAL`` 5),
    ``polling_ms`` (50 as in panfrost, lima and panthor).
    """

    name = "simple_ondemand"
    DEFAULT_POLLING_MS = 50
    TUNABLES: ClassVar[Tuple[Tunable, ...]] = (
        Tunable("upthreshold", 90, integer(1, 100)),
        Tunable("downdifferential", 5, integer(1, 100)),
        Tunable("polling_ms", DEFAULT_POLLING_MS, integer(1)),
    )
    upthreshold: int
    downdifferential: int

    def configure(self) -> None:
        super().configure()
        if self.upthreshold < self.downdifferential:
            raise InputError(self.source, "downdifferential",
                             f"must not exceed upthreshold ({self.upthreshold}), got {self.downdifferential}")

    def reset(self) -> None:
        """Stateless."""

    def next_frequency(self, load: float, current_khz: int) -> int:
        """One ``polling_ms`` window (``update_devfreq``).

        :param load: busy_time / total_time of the device over the window
        :param current_khz: the device's current frequency
        """
        busy, total = self.window(load)
        cur_hz = self.check_current(current_khz) * 1000
        return self.recommended_opp_hz(self._simple_ondemand_func(busy, total, cur_hz)) // 1000

    def _simple_ondemand_func(self, busy: int, total: int, cur_hz: int) -> int:
        up, down = self.upthreshold, self.downdifferential
        if total == 0:
            return DEVFREQ_MAX_FREQ
        if busy >= (1 << 24) or total >= (1 << 24):  # prevent overflow
            busy >>= 7
            total >>= 7
        if busy * 100 > total * up:  # busy enough: max
            return DEVFREQ_MAX_FREQ
        if cur_hz == 0:
            return DEVFREQ_MAX_FREQ
        if busy * 100 > total * (up - down):  # keep the current frequency
            return cur_hz
        return (busy * cur_hz // total) * 100 // (up - down // 2)


class NvhostPodgovGovernor(DevfreqGovernor):
    """``nvhost_podgov``, the Jetson GPU's devfreq governor in NVIDIA's L4T kernel.

    Source: L4T kernel (R32.4+, Xavier NX), ``drivers/devfreq/governor_pod_scaling.c``
    (Copyright 2012-2020 NVIDIA): ``nvhost_pod_estimate_freq()``, ``scaling_state_check()``,
    ``freqlist_up()`` and the defaults in ``nvhost_pod_init()``; the GPU's polling interval
    is ``devfreq_profile.polling_ms = 25`` in nvgpu's ``gk20a_scale_init()`` (scale.c).

    Every poll (``nvhost_pod_estimate_freq``), with ``cur`` the current frequency in Hz::

        norm_load  = cur * busy / total                          # busy cycles per second
        cycles_avg = (cycles_avg * smooth + norm_load) / (smooth + 1)
        rt_load    = 1000 * busy / total                         # per mille, this window

    then ``scaling_state_check()``, in MHz and C's signed ``long`` arithmetic; nothing
    changes until ``block_window`` us have passed since the last frequency change (or
    since start)::

        freq = cur / 1e6 ;  max_boost = (f_max / 3) / 1e6
        busyness = 1000 * cycles_avg / cur
        if rt_load > load_max:  boost = max_boost, damp = 10     # too busy: + f_max/3
        else:                   boost = min((busyness - load_target) * bias * freq
                                            / (100 * load_target), max_boost)
        res = freq + boost
        freq_avg = (freq_avg * smooth + res) / (smooth + 1)
        res = (damp * res + (10 - damp) * freq_avg) / 10         # MHz -> Hz, clamped

    and the result is rounded up to a table frequency (``freqlist_up(.., 0)``); when that
    differs from ``cur`` it is set and ``last_scale`` restarts the block window.

    Tunables (debugfs ``<dev>_scaling/``; defaults of ``nvhost_pod_init()``): ``load_max``
    900, ``load_target`` 700 (per mille), ``bias`` 80 (percent), ``smooth`` 10,
    ``damp`` 7 (0..10), ``block_window`` 50000 us; ``polling_ms`` 25 (the driver's).
    Not modelled: the optional history buffer (``recent_high``; its size
    ``CONFIG_DEVFREQ_GOV_POD_SCALING_HISTORY_BUFFER_SIZE_MAX`` is unset, i.e. 0, unless a
    kernel config sets it), user mode (``user`` / ``freq_request``) and suspend.
    """

    name = "nvhost_podgov"
    DEFAULT_POLLING_MS = 25
    TUNABLES: ClassVar[Tuple[Tunable, ...]] = (
        Tunable("load_max", 900, integer(0, 1000)),
        Tunable("load_target", 700, integer(1, 1000)),
        Tunable("bias", 80, integer(0, 1000)),
        Tunable("smooth", 10, integer(0, 1000)),
        Tunable("damp", 7, integer(0, 10)),
        Tunable("block_window", 50000, integer(0)),
        Tunable("polling_ms", DEFAULT_POLLING_MS, integer(1)),
    )
    load_max: int
    load_target: int
    bias: int
    smooth: int
    damp: int
    block_window: int

    def reset(self) -> None:
        """``nvhost_pod_init()``: averages 0, ``last_scale`` = now (time 0)."""
        self._now_us = 0
        self._last_scale_us = 0
        self.cycles_avg = 0
        self.freq_avg = 0
        self.rt_load = 0

    def next_frequency(self, load: float, current_khz: int) -> int:
        """One ``polling_ms`` window (``nvhost_pod_estimate_freq``).

        :param load: busy_time / total_time of the GPU over the window
        :param current_khz: the GPU's current frequency
        """
        busy, total = self.window(load)
        cur_hz = self.check_current(current_khz) * 1000
        self._now_us += self.polling_ms * 1000
        norm_load = cur_hz * busy // total
        self.cycles_avg = (self.cycles_avg * self.smooth + norm_load) // (self.smooth + 1)
        self.rt_load = 1000 * busy // total
        target_hz = self._scaling_state_check(cur_hz)
        if not target_hz:
            return cur_hz // 1000
        new_hz = self.recommended_opp_hz(target_hz)  # freqlist_up(podgov, freq, 0)
        if new_hz == cur_hz:
            return cur_hz // 1000
        self._last_scale_us = self._now_us
        return new_hz // 1000

    def _scaling_state_check(self, cur_hz: int) -> int:
        """``scaling_state_check()``: the requested frequency in Hz, 0 to leave it alone."""
        if self._now_us - self._last_scale_us < self.block_window:
            return 0
        freq = cur_hz // 1_000_000
        max_boost = (self._opps_hz[-1] // 3) // 1_000_000
        busyness = 1000 * self.cycles_avg // cur_hz
        damp = self.damp
        if self.rt_load > self.load_max:
            boost, damp = max_boost, 10  # too busy: scale up max/3, do not damp
        else:
            boost = c_div((busyness - self.load_target) * (self.bias * freq), 100 * self.load_target)
            boost = min(boost, max_boost)
        res = freq + boost
        self.freq_avg = c_div(self.freq_avg * self.smooth + res, self.smooth + 1)
        res = c_div(damp * res + (10 - damp) * self.freq_avg, 10) * 1_000_000
        res %= _ULONG  # scaling_limit() reads the long through an unsigned long pointer
        return min(max(res, self._opps_hz[0]), self._opps_hz[-1])
