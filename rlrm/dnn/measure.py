"""Timing one measurement for ``rlrm profile``: repeated runs until the median's confidence
interval is narrow enough, rounds pooled into one measurement, and how repeatable a profile's
medians are (:mod:`rlrm.dnn.profile` sweeps them over options, levels and frequencies)."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence


@dataclass(frozen=True)
class Measurement:
    """One (level, option, frequency) measurement.

    :param latency_ms: median latency of one inference
    :param latency_p90_ms: 90th percentile (nearest rank)
    :param activity: CPU time of the process / (wall time x cores used), clamped to (0, 1]
    :param power_w: average board power while measuring (see :func:`rlrm.dnn.profile.board_power`), or None
    :param repeats: timed runs taken
    :param ci_width: width of the median's 95 % confidence interval relative to the median
        (:func:`median_ci`); ``inf`` with too few runs to bound it
    :param converged: False when the run count or time budget ran out before ``ci_width``
        reached the width asked for (always True when none was asked)
    :param rounds: how many rounds it pools (:func:`pool`)
    :param round_spread: (largest - smallest round median) / the pooled median: how much the
        machine moved between rounds, which no single burst of runs shows (0 with one round)
    :param times: every timed run (ms), for pooling
    """

    latency_ms: float
    latency_p90_ms: float
    activity: float
    power_w: Optional[float]
    repeats: int = 0
    ci_width: float = math.inf
    converged: bool = True
    rounds: int = 1
    round_spread: float = 0.0
    times: tuple[float, ...] = field(default=(), repr=False, compare=False)


def p90(values: Sequence[float]) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(0.9 * (len(s) - 1))))]


#: two-sided 95 % normal quantile
Z95 = 1.959964


def median_ci(values: Sequence[float]) -> tuple[float, float]:
    """Distribution-free 95 % confidence interval of the median: the order statistics of
    ranks ``n/2 - z sqrt(n)/2`` and ``1 + n/2 + z sqrt(n)/2`` (binomial, normal approximation;
    clamped to the sample's min and max when ``n`` is small)."""
    s = sorted(values)
    n = len(s)
    if n == 0:
        raise ValueError("no values")
    half = Z95 * math.sqrt(n) / 2.0
    lo = max(0, int(math.floor(n / 2.0 - half)) - 1)
    hi = min(n - 1, int(math.ceil(1.0 + n / 2.0 + half)) - 1)
    return s[lo], s[hi]


def ci_width(values: Sequence[float]) -> float:
    """Width of :func:`median_ci` relative to the median (``inf`` below 6 values: with fewer
    the interval is the whole sample and says nothing)."""
    if len(values) < 6:
        return math.inf
    lo, hi = median_ci(values)
    med = statistics.median(values)
    return (hi - lo) / med if med > 0 else math.inf


def measure(
    run: Callable[[], Any], warmup: int, repeats: int, cores: int,
    power: Optional[Callable[[], Optional[float]]] = None, sync: Callable[[], None] = lambda: None,
    target_ci: Optional[float] = None, max_repeats: Optional[int] = None, budget_s: Optional[float] = None,
) -> Measurement:
    """Time ``run`` ``repeats`` times after ``warmup`` untimed runs; with ``target_ci``, keep
    going until the median's 95 % confidence interval is at most that wide relative to the
    median (:func:`ci_width`), or ``max_repeats`` runs, or ``budget_s`` seconds of timed runs.
    ``power()`` (watts or None) is sampled once before and after every timed run and averaged."""
    for _ in range(warmup):
        run()
    sync()
    times = []
    watts: list[float] = []
    if power is not None:
        power()  # primes energy-counter sensors (RAPL): their reading is the mean since the last
    cpu0, wall0 = time.process_time(), time.perf_counter()
    converged = target_ci is None
    width = math.inf
    while True:
        t0 = time.perf_counter()
        run()
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
        if power is not None:
            w = power()
            if w is not None:
                watts.append(w)
        if len(times) < repeats:
            continue
        if target_ci is None:
            break
        width = ci_width(times)
        if width <= target_ci:
            converged = True
            break
        if (max_repeats is not None and len(times) >= max_repeats) or \
                (budget_s is not None and time.perf_counter() - wall0 >= budget_s):
            break
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    activity = min(1.0, max(0.01, cpu / (wall * max(1, cores)))) if wall > 0 else 1.0
    med = statistics.median(times)
    if target_ci is None:
        width = ci_width(times)
    return Measurement(med, max(med, p90(times)), activity, statistics.mean(watts) if watts else None,
                       len(times), width, converged, times=tuple(times))


def pool(rounds: Sequence[Measurement], target_ci: Optional[float] = None) -> Measurement:
    """One measurement from several rounds of the same one (taken minutes apart, so that a slow
    or fast moment of the machine does not make the profile): median and p90 of every timed
    run, activity weighted by runs, power averaged, the confidence interval of the pooled
    median, converged when it is within ``target_ci`` (always, when none is asked), and the
    spread of the round medians."""
    if not rounds:
        raise ValueError("no round to pool")
    if len(rounds) == 1:
        return rounds[0]
    times = [t for m in rounds for t in m.times]
    if not times:
        raise ValueError("rounds without their timed runs cannot be pooled")
    med = statistics.median(times)
    n = sum(m.repeats for m in rounds)
    activity = sum(m.activity * m.repeats for m in rounds) / max(1, n)
    watts = [m.power_w for m in rounds if m.power_w is not None]
    width = ci_width(times)
    converged = target_ci is None or width <= target_ci
    medians = [m.latency_ms for m in rounds]
    spread = (max(medians) - min(medians)) / med if med > 0 else 0.0
    return Measurement(med, max(med, p90(times)), activity, statistics.mean(watts) if watts else None, len(times),
                       width, converged, rounds=len(rounds), round_spread=spread, times=tuple(times))


def repeatability(results: dict) -> dict[str, Any]:
    """How repeatable a profile's medians are: per measurement the relative width of the
    median's 95 % confidence interval; their median and maximum, the worst measurement, and
    how many did not reach the width asked for."""
    ms = [(key, f, m) for key, pts in results.items() for f, m in pts]
    widths = [m.ci_width for _, _, m in ms]
    finite = [w for w in widths if math.isfinite(w)]
    worst = max(ms, key=lambda kfm: kfm[2].ci_width, default=None)
    return {
        "measurements": len(ms),
        "not_converged": sum(1 for _, _, m in ms if not m.converged),
        "ci_width_median": statistics.median(finite) if finite else math.inf,
        "ci_width_max": max(widths) if widths else math.inf,
        "worst": None if worst is None else {"level": worst[0][0], "unit": worst[0][1], "cores": worst[0][2],
                                             "freq_khz": worst[1], "ci_width": worst[2].ci_width,
                                             "repeats": worst[2].repeats},
        "repeats_total": sum(m.repeats for _, _, m in ms),
        "rounds": max((m.rounds for _, _, m in ms), default=1),
        "round_spread_median": statistics.median([m.round_spread for _, _, m in ms]) if ms else 0.0,
        "round_spread_max": max((m.round_spread for _, _, m in ms), default=0.0),
    }


def repeatability_text(rep: dict[str, Any]) -> str:
    w = rep.get("worst") or {}
    text = (f"repeatability: median 95 % CI width {rep['ci_width_median']:.3g} of the median, max "
            f"{rep['ci_width_max']:.3g} (level {w.get('level')}, {w.get('unit')}x{w.get('cores')}), "
            f"{rep['not_converged']} of {rep['measurements']} measurements short of the width asked for")
    if rep.get("rounds", 1) > 1:
        text += (f"; {rep['rounds']} rounds pooled, round medians spread by a median {rep['round_spread_median']:.3g} "
                 f"(max {rep['round_spread_max']:.3g}) of the pooled median")
    return text
