"""The Linux frequency governors, as the kernel implements them.

The baselines the PPO agent is compared against: the cpufreq governors ``performance``,
``powersave``, ``userspace``, ``ondemand``, ``conservative`` and ``schedutil``, and the
devfreq governors ``simple_ondemand`` (mainline GPUs, e.g. Mali) and ``nvhost_podgov``
(Jetson GPUs, NVIDIA L4T), with the kernel's default tunables, its integer arithmetic and
its frequency-table resolution.

Layout, as the kernel's ``drivers/cpufreq/``:

* :mod:`.common`: frequency table, default cadence, the :class:`Governor` base with
  tunables declared once per class, and the sub-sampling of one control period
  (what ``cpufreq_governor.c`` is to the kernel's governors);
* :mod:`.static`: performance / powersave / userspace (one class);
* :mod:`.dbs`: ondemand and conservative;
* :mod:`.schedutil`: schedutil (and :func:`map_util_freq`, which the simulator uses);
* :mod:`.devfreq`: simple_ondemand and nvhost_podgov.

Usage::

    gov = make("ondemand", [200000, 300000, ..., 2000000], up_threshold=80)
    period_s = gov.period_s              # call next_frequency this often
    f = gov.next_frequency(0.42, current_khz=f)

Calling convention
    ``next_frequency(load, current_khz)`` is called once per sampling period. ``load`` is
    the busy fraction in [0, 1] of the policy's busiest CPU over the period that just
    ended (for ``schedutil``: frequency-invariant utilisation / capacity; for the devfreq
    governors: busy_time / total_time of the device). ``current_khz`` is the frequency the
    unit ran at (``policy->cur``). The return value is the frequency the governor leaves
    the policy at; when the kernel would not issue a request (held sample, rate limit,
    block window, already at the bound) it is ``current_khz`` unchanged.

Time model
    * ondemand / conservative: one call = one ``sampling_rate``.
    * schedutil: one call = ``period_s`` seconds (default: the rate limit).
    * simple_ondemand / nvhost_podgov: one call = ``polling_ms`` (50 / 25 ms).

Inside one control period of the simulator (:func:`run_period`)
    The governor samples :func:`samples_per_period` times (its own period, at most
    :data:`MAX_SAMPLES_PER_PERIOD`). The backend reports one utilisation per unit and
    period, so every sub-interval sees that period's work (:func:`subinterval_load`): at
    frequency ``f`` the busy fraction is ``min(1, u * f_last / f)``, ``u`` being the
    utilisation measured over the last period at ``f_last``, and 1 when that period was
    saturated (its demand is unknown but at least the unit's capacity: a closed-loop
    inference app keeps a unit busy at any frequency); schedutil's frequency-invariant
    utilisation is the busy fraction times ``f / f_max``. The frequency after the last
    sample is the one the next period runs at.

Default cadence (``sampling_period_s``)
    The dbs ``sampling_rate`` and schedutil's ``rate_limit_us`` come from
    ``cpufreq_policy_transition_delay_us()``, which changed over time; ``kernel=`` picks
    the era (see :func:`transition_delay_us`). governors.md's "1000 x transition latency"
    is the pre-4.14 rule (``LATENCY_MULTIPLIER``); since v6.12 (commit 37c6dccd6837) it
    is ``1.5 x latency`` (1 ms when the driver reports 0). We default to mainline v6.12;
    pass ``kernel=(4, 9)`` / ``(5, 10)`` for L4T (Jetson) kernels. ``kernel=`` also picks
    schedutil's pre-/post-v6.8 frequency mapping.

Defaults that differ from governors.md
    ondemand's ``up_threshold`` defaults to 95, not 80: ``od_init()`` picks 95 whenever
    idle micro-accounting works (NO_HZ kernels; assumed for both boards, not checked); pass
    ``micro_accounting=False`` or ``up_threshold=80`` for the other case.

Left out (deliberately), besides what each module lists
    Policy limits other than the table's ends (``scaling_min/max_freq``), and
    inefficient-OPP marking (so ``RELATION_LE/HE/CE`` behave as ``L/H/C``).
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Type

from rlrm.governors.common import (
    DEFAULT_HZ,
    DEFAULT_KERNEL,
    MAX_SAMPLES_PER_PERIOD,
    RELATION_C,
    RELATION_H,
    RELATION_L,
    SATURATED,
    FrequencyTable,
    Governor,
    PlatformFacts,
    Tunable,
    dbs_sampling_rate_us,
    run_period,
    samples_per_period,
    subinterval_load,
    transition_delay_us,
)
from rlrm.governors.dbs import ConservativeGovernor, DbsGovernor, OndemandGovernor
from rlrm.governors.devfreq import DevfreqGovernor, NvhostPodgovGovernor, SimpleOndemandGovernor
from rlrm.governors.schedutil import SchedutilGovernor, map_util_freq
from rlrm.governors.static import PerformanceGovernor, PowersaveGovernor, StaticGovernor, UserspaceGovernor
from rlrm.errors import InputError

__all__ = [
    "DEFAULT_HZ",
    "DEFAULT_KERNEL",
    "DEVFREQ_GOVERNORS",
    "GOVERNORS",
    "MAX_SAMPLES_PER_PERIOD",
    "RELATION_C",
    "RELATION_H",
    "RELATION_L",
    "SATURATED",
    "ConservativeGovernor",
    "DbsGovernor",
    "DevfreqGovernor",
    "FrequencyTable",
    "Governor",
    "NvhostPodgovGovernor",
    "OndemandGovernor",
    "PerformanceGovernor",
    "PlatformFacts",
    "PowersaveGovernor",
    "SchedutilGovernor",
    "SimpleOndemandGovernor",
    "StaticGovernor",
    "Tunable",
    "UserspaceGovernor",
    "available",
    "dbs_sampling_rate_us",
    "make",
    "map_util_freq",
    "run_period",
    "samples_per_period",
    "subinterval_load",
    "transition_delay_us",
]

#: name -> class, as listed by ``scaling_available_governors`` (plus the devfreq ones)
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
        NvhostPodgovGovernor,
    )
}

#: the governors that drive a devfreq device (a GPU) rather than a cpufreq policy
DEVFREQ_GOVERNORS = tuple(name for name, cls in GOVERNORS.items() if issubclass(cls, DevfreqGovernor))


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
    return cls(frequencies_khz, **tunables)
