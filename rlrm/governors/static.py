"""The governors that hold one frequency: ``performance``, ``powersave`` and ``userspace``.

One class, :class:`StaticGovernor`, parameterised by what it holds: ``policy->max``
(drivers/cpufreq/cpufreq_performance.c, ``cpufreq_gov_performance_limits()`` with
``CPUFREQ_RELATION_H``), ``policy->min`` (cpufreq_powersave.c,
``cpufreq_gov_powersave_limits()`` with ``CPUFREQ_RELATION_L``) or ``scaling_setspeed``
(cpufreq_userspace.c: ``setspeed = policy->cur`` on start, a write calls
``__cpufreq_driver_target(policy, freq, CPUFREQ_RELATION_L)``). The three kernel names are
thin subclasses that only say which.
"""

from __future__ import annotations

from typing import ClassVar, Optional, Tuple

from rlrm.governors.common import RELATION_H, RELATION_L, Governor, Tunable, integer

__all__ = ["PerformanceGovernor", "PowersaveGovernor", "StaticGovernor", "UserspaceGovernor"]

HOLD_MAX = "max"
HOLD_MIN = "min"
HOLD_SETSPEED = "setspeed"


class StaticGovernor(Governor):
    """A governor that holds one frequency whatever the load.

    :param frequencies_khz: the policy's available frequencies, strictly increasing (kHz)
    :param setspeed_khz: (``userspace`` only) the frequency to hold; None holds whatever the
        policy was at on the first call (the kernel's start behaviour)
    """

    #: :data:`HOLD_MAX`, :data:`HOLD_MIN` or :data:`HOLD_SETSPEED`
    hold: ClassVar[str] = HOLD_MAX
    setspeed_khz: Optional[int]

    def configure(self) -> None:
        self._initial_setspeed = getattr(self, "setspeed_khz", None)

    def reset(self) -> None:
        """Back to the configured ``setspeed_khz`` (or "whatever the policy is at")."""
        self.setspeed_khz = self._initial_setspeed

    def set_speed(self, khz: int) -> None:
        """Write ``scaling_setspeed`` (``userspace``).

        :param khz: the requested frequency; resolved with ``CPUFREQ_RELATION_L``
        """
        self.setspeed_khz = integer(1)(khz, self.source, "setspeed_khz")

    def next_frequency(self, load: float, current_khz: int) -> int:
        """The held frequency.

        :param load: ignored (validated)
        :param current_khz: ``userspace``: taken as ``setspeed`` on the first call when none
            was given; else ignored (validated)
        """
        self.check_load(load)
        cur = self.check_current(current_khz)
        if self.hold == HOLD_MAX:
            return self.table.resolve(self.table.max, RELATION_H)
        if self.hold == HOLD_MIN:
            return self.table.resolve(self.table.min, RELATION_L)
        if self.setspeed_khz is None:
            self.setspeed_khz = cur  # cpufreq_userspace_policy_start(): setspeed = policy->cur
        return self.table.resolve(self.setspeed_khz, RELATION_L)


class PerformanceGovernor(StaticGovernor):
    """``performance``: holds ``policy->max``."""

    name = "performance"
    hold = HOLD_MAX


class PowersaveGovernor(StaticGovernor):
    """``powersave``: holds ``policy->min``."""

    name = "powersave"
    hold = HOLD_MIN


class UserspaceGovernor(StaticGovernor):
    """``userspace``: holds ``scaling_setspeed`` (see :class:`StaticGovernor`)."""

    name = "userspace"
    hold = HOLD_SETSPEED
    TUNABLES: ClassVar[Tuple[Tunable, ...]] = (Tunable("setspeed_khz", None, integer(1)),)
