"""The board state a greedy choice can get wrong, as small pure functions the simulator steps:
a unit's temperature (first-order RC model), the kernel's step-wise throttling of its maximum
frequency at the trip point, and a bounded frame queue in front of a frame-driven application.

Each is exact for its model over one control period and is tested against hand-worked cases
(``tests/test_sim_dynamics.py``). Which of them a scenario models is its ``[dynamics]`` table
(:class:`rlrm.sim.scenario.Dynamics`) and its applications' ``queue``; the constants are the
profile's (:class:`rlrm.platform.ThermalModel`, ``subnet_switch_ms``, ``gpu_host_ms``,
``dvfs_energy_uj``), each with its source.
"""

from __future__ import annotations

import math

#: activity factor of the CPU time a GPU inference needs (pre-processing, kernel launches,
#: synchronisation: mostly memory-bound, estimated)
HOST_ACTIVITY = 0.5


def rc_temperature(t_c: float, power_w: float, r_k_per_w: float, c_j_per_k: float, ambient_c: float,
                   dt_s: float) -> float:
    """Temperature after ``dt_s`` seconds of constant ``power_w`` from ``t_c``:
    ``C dT/dt = P - (T - T_a) / R`` solved exactly,
    ``T(dt) = T_a + P R + (T - T_a - P R) exp(-dt / (R C))``."""
    steady = ambient_c + power_w * r_k_per_w
    return steady + (t_c - steady) * math.exp(-dt_s / (r_k_per_w * c_j_per_k))


def throttle_index(cap_index: int, t_c: float, trip_c: float, hysteresis_c: float, n_freqs: int) -> int:
    """The kernel's step-wise governor over one polling period (the thermal zone's
    ``passive`` trip bound to the unit's cpufreq / devfreq cooling device): at or above the trip
    point the maximum frequency drops one operating point; below ``trip - hysteresis`` it rises
    one, up to the unit's highest; in between it stays."""
    if t_c >= trip_c:
        return max(0, cap_index - 1)
    if t_c < trip_c - hysteresis_c:
        return min(n_freqs - 1, cap_index + 1)
    return cap_index


def frame_queue(backlog: float, arrivals: float, capacity: float, limit: int) -> tuple[float, float, float, float]:
    """One period of a frame-driven application (fluid model of a bounded FIFO queue).

    :param backlog: frames waiting at the start of the period
    :param arrivals: frames the source delivers in the period (``fps * period``)
    :param capacity: frames the application could run in the period (``period / latency``)
    :param limit: frames that may wait at the end of the period; more are dropped (oldest first)
    :return: ``(served, backlog after, dropped, mean frames ahead of a served frame)``; a
        frame's queueing delay is the last times the inference latency
    """
    work = backlog + arrivals
    served = min(work, capacity)
    left = work - served
    dropped = max(0.0, left - limit)
    left -= dropped
    # frames waiting decline (or grow) linearly over the period: a served frame finds, on
    # average, the mean of the backlog at the start and at the end ahead of it
    ahead = 0.5 * (backlog + left) if served > 0 else 0.0
    return served, left, dropped, ahead
