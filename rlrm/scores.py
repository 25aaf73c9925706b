"""Scores over evaluation summaries: normalised score, Pareto dominance, matched energy.

Pure functions of summary dicts as ``rlrm evaluate`` writes them (keys ``policy``,
``platform``, ``scenario``, ``reward_mean``, ``energy_per_inference_mj``,
``deadline_miss_rate``, ``accuracy_mean`` (top-1, %)). Nothing here runs a policy.

* :func:`normalized_score`: ``(R - R_random) / (R_oracle - R_random)``: 0 is the masked
  uniform random policy and 1 the oracle, on the same seeds (and environment). Where the
  oracle is not above random (``R_oracle - R_random <= 1e-9 * max(1, |R_oracle|, |R_random|)``)
  the scale has no width and the score is NaN (reported as ``n/a``, left out of means, and
  counted); NaN also when any of the three rewards is missing or not finite.
* :func:`mark_pareto`: per group (board, scenario), a policy is dominated when another
  (deployable: not the oracle) is no worse in all of energy per inference (down),
  deadline-miss rate (down; below :data:`MISS_EPSILON` counts as 0) and top-1 (up) and better
  in one.
* :func:`energy_vs_matched`: the energy saving of a policy against the cheapest *other*
  policy or static point whose top-1 is no lower (minus :data:`TOP1_TOLERANCE` points) and
  whose miss rate is no higher (plus :data:`MISS_TOLERANCE`): ``1 - E_policy / E_match``
  (0.2: 20 % less energy than the match; negative: it uses more), or ``"unmatched"`` when
  no candidate qualifies. The oracle is not a candidate (it is not deployable: it sees the
  simulator's hidden state), nor is the policy itself.
"""

from __future__ import annotations

import math
from typing import Iterable, Optional, Sequence, Union

ENERGY = "energy_per_inference_mj"
MISS = "deadline_miss_rate"
TOP1 = "accuracy_mean"
REWARD = "reward_mean"
#: top-1 points a match may be below the policy
TOP1_TOLERANCE = 0.5
#: deadline-miss rate a match may be above the policy
MISS_TOLERANCE = 0.005
#: miss rates below this (less than one inference in a million: the simulator's soft deadline
#: misses of a point that meets its deadline) count as no misses in Pareto marking
MISS_EPSILON = 1e-6
#: policies never taken as a match in :func:`energy_vs_matched`
NOT_DEPLOYABLE = ("oracle", "oracle-greedy")
UNMATCHED = "unmatched"


def _finite(x: Optional[float]) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def normalized_score(reward: Optional[float], random_reward: Optional[float], oracle_reward: Optional[float]) -> float:
    """``(R - R_random) / (R_oracle - R_random)``; NaN where undefined (see the module docstring)."""
    if not (_finite(reward) and _finite(random_reward) and _finite(oracle_reward)):
        return math.nan
    width = oracle_reward - random_reward
    if width <= 1e-9 * max(1.0, abs(oracle_reward), abs(random_reward)):
        return math.nan
    return (reward - random_reward) / width


def _group(row: dict, keys: Sequence[str]) -> tuple:
    return tuple(row.get(k) for k in keys)


def add_normalized_scores(rows: list[dict], keys: Sequence[str] = ("platform", "scenario")) -> list[dict]:
    """Set ``normalized_score`` on every row from the ``random`` and ``oracle`` rows of its group.

    A row that carries its own finite ``random_reward_mean`` / ``oracle_reward_mean`` (measured
    on its seeds and environment) uses those instead (NaN there means "not run").

    :return: ``rows`` (changed in place)
    """
    ref: dict = {}
    for r in rows:
        if r.get("policy") in ("random", "oracle"):
            ref[(_group(r, keys), r["policy"])] = r.get(REWARD)
    for r in rows:
        g = _group(r, keys)
        lo = r.get("random_reward_mean") if _finite(r.get("random_reward_mean")) else ref.get((g, "random"))
        hi = r.get("oracle_reward_mean") if _finite(r.get("oracle_reward_mean")) else ref.get((g, "oracle"))
        r["normalized_score"] = normalized_score(r.get(REWARD), lo, hi)
    return rows


def mean_score(scores: Iterable[float]) -> tuple[float, int, int]:
    """Mean of the defined scores: ``(mean, n defined, n undefined)``."""
    vals = list(scores)
    ok = [v for v in vals if _finite(v)]
    return (sum(ok) / len(ok) if ok else math.nan), len(ok), len(vals) - len(ok)


def _metrics(row: dict) -> Optional[tuple[float, float, float]]:
    e, m, a = row.get(ENERGY), row.get(MISS), row.get(TOP1)
    if e is None or m is None or a is None or any(isinstance(v, float) and math.isnan(v) for v in (e, m, a)):
        return None
    return float(e), float(m), float(a)


def dominates(a: dict, b: dict) -> bool:
    """Whether ``a`` Pareto-dominates ``b`` in (energy down, misses down, top-1 up)."""
    ma, mb = _metrics(a), _metrics(b)
    if ma is None or mb is None:
        return False
    miss_a, miss_b = (0.0 if m < MISS_EPSILON else m for m in (ma[1], mb[1]))
    no_worse = ma[0] <= mb[0] and miss_a <= miss_b and ma[2] >= mb[2]
    better = ma[0] < mb[0] or miss_a < miss_b or ma[2] > mb[2]
    return no_worse and better


def mark_pareto(rows: list[dict], keys: Sequence[str] = ("platform", "scenario"),
                others: Sequence[dict] = (), exclude: Sequence[str] = NOT_DEPLOYABLE) -> list[dict]:
    """Set ``pareto_dominated`` (bool) and ``dominated_by`` (policy names) on every row, within
    its group; ``others`` (e.g. static points) can dominate but are not marked; the policies in
    ``exclude`` (the oracle: not deployable) are marked but dominate nobody.

    :return: ``rows`` (changed in place)
    """
    pool = [o for o in list(rows) + list(others) if o.get("policy") not in exclude]
    for r in rows:
        g = _group(r, keys)
        by = [o.get("policy") for o in pool if o is not r and _group(o, keys) == g and dominates(o, r)]
        r["pareto_dominated"] = bool(by)
        r["dominated_by"] = by
    return rows


def energy_vs_matched(row: dict, candidates: Sequence[dict], top1_tolerance: float = TOP1_TOLERANCE,
                      miss_tolerance: float = MISS_TOLERANCE,
                      exclude: Sequence[str] = NOT_DEPLOYABLE) -> tuple[Union[float, str], Optional[str]]:
    """Energy saving of ``row`` against its cheapest match among ``candidates``.

    :return: ``(1 - E_row / E_match, match's policy name)``, or ``("unmatched", None)``
    """
    me = _metrics(row)
    if me is None:
        return UNMATCHED, None
    best: Optional[dict] = None
    best_e = math.inf
    for c in candidates:
        if c is row or c.get("policy") == row.get("policy") or c.get("policy") in exclude:
            continue
        mc = _metrics(c)
        if mc is None or not math.isfinite(mc[0]) or mc[0] <= 0:
            continue
        if mc[2] >= me[2] - top1_tolerance and mc[1] <= me[1] + miss_tolerance and mc[0] < best_e:
            best, best_e = c, mc[0]
    if best is None:
        return UNMATCHED, None
    if not math.isfinite(me[0]):
        return -math.inf, best.get("policy")
    return 1.0 - me[0] / best_e, best.get("policy")


def add_energy_vs_matched(rows: list[dict], keys: Sequence[str] = ("platform", "scenario"),
                          others: Sequence[dict] = ()) -> list[dict]:
    """Set ``energy_vs_matched`` and ``matched_by`` on every row against the other rows of its
    group and ``others`` (static points).

    :return: ``rows`` (changed in place)
    """
    for r in rows:
        g = _group(r, keys)
        pool = [o for o in list(rows) + list(others) if _group(o, keys) == g]
        r["energy_vs_matched"], r["matched_by"] = energy_vs_matched(r, pool)
    return rows
