"""``static-best``: the best static operating point, chosen at design time on tuning seeds.

What an engineer deploys without a runtime manager: every static operating point
(subnetwork x unit x cores x frequency, i.e. every row of the environment's action table,
held for the whole episode) is scored by its mean reward on the tuning seeds of
:mod:`rlrm.agents.tuning` (disjoint from the evaluation seeds), together with any extra
candidate policies given by name (the registry's ``G@L`` governors with a pinned
subnetwork); the best is kept and the policy then acts exactly as that point (a
``fixed:...`` policy) or that governor. The choice is printed and kept in :attr:`choice`.

The search is two-stage so that it stays affordable (990 points on the Xavier NX):

1. **screen**: one rollout per tuning seed in which every static point's reward is computed
   at every step from the backend's preview of the same step (the background draws and
   noise of a step do not depend on the action, so this is the static point's own reward,
   up to the DVFS transition cost of frequency changes it would not make);
2. **confirm**: the best :data:`CONFIRM` points and every extra candidate are rolled out for
   real on the tuning seeds; the best of these is the choice.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from rlrm.agents import tuning
from rlrm.policy.base import Policy
from rlrm.agents.baselines import FixedPolicy
from rlrm.metrics import MetricsAccumulator

#: points of the screening stage confirmed by real rollouts
CONFIRM = 5


def fixed_spec(env: Any, action: int) -> str:
    """The ``fixed:...`` text of an action-table row (unit name, cores, frequency in kHz)."""
    s, o, f = (int(x) for x in env.action_table[action])
    unit, cores = env.options[o]
    khz = env.platform.units[unit].freqs_khz[f]
    core_text = f",cores={cores}" if env.platform.units[unit].kind == "cpu" else ""
    return f"fixed:subnet={s},unit={unit}{core_text},freq={khz}"


def sweep_static_points(env: Any, seeds: list[int], metrics: bool = False) -> tuple[np.ndarray, list]:
    """Every action-table row held statically over episodes with ``seeds``: its mean per-step
    reward and, with ``metrics``, its :class:`rlrm.metrics.MetricsAccumulator` summary (the one
    place the backend's ``preview`` is used; no check on the seeds: see the two callers)."""
    n = len(env.action_table)
    k = len(env.managed)
    total = np.zeros(n)
    accs = [MetricsAccumulator() for _ in range(n)] if metrics else []
    steps = 0
    for seed in seeds:
        env.reset(seed=seed)
        done = False
        while not done:
            for a in range(n):
                points, _ = env.points_for(a if k == 1 else np.full(k, a))
                result = env.sim.preview(points)
                r = env.reward_of(result)[0]
                total[a] += r
                if metrics:
                    accs[a].add(result, r)
            _, _, term, trunc, _ = env.step(n - 1 if k == 1 else np.full(k, n - 1))
            steps += 1
            done = term or trunc
    return total / max(steps, 1), [a.summary() for a in accs]


def screen_static_points(env: Any, seeds: list[int]) -> np.ndarray:
    """Mean per-step reward of every static point on tuning ``seeds`` (the screening stage).

    :raise ValueError: a seed is not a tuning seed
    """
    for seed in seeds:
        if not tuning.is_tuning_seed(seed):
            raise ValueError(f"screening on seed {seed}, which is not a tuning seed")
    return sweep_static_points(env, seeds)[0]


def static_frontier_rows(env: Any, seeds: list[int]) -> list[dict]:
    """Metrics of every static point on the given (evaluation) seeds, one summary row each with
    ``policy`` = its ``fixed:...`` text: the static frontier a report compares policies with
    (:func:`rlrm.scores.energy_vs_matched`, Pareto marking). It chooses nothing: a point picked
    from these rows would be picked on evaluation seeds, which is what ``static-best`` avoids."""
    _, summaries = sweep_static_points(env, seeds, metrics=True)
    return [{"policy": fixed_spec(env, a), **summ} for a, summ in enumerate(summaries)]


class StaticBestPolicy(Policy):
    """The best static operating point (or extra candidate) on the tuning seeds.

    :param tuning_episodes: tuning seeds (``TUNING_SEED_BASE + k``) scored
    :param extra_candidates: further policy names scored by real rollouts (e.g. ``G@L``), or a
        function of the environment returning them (``G@L`` for every level the env has)
    :param make_policy: builds an extra candidate from its name (the registry's ``make_policy``)
    """

    name = "static-best"

    def __init__(self, tuning_episodes: int = 3,
                 extra_candidates: Union[Sequence[str], Callable[[Any], Sequence[str]]] = (),
                 make_policy: Optional[Callable[[str], Policy]] = None) -> None:
        self.tuning_episodes = int(tuning_episodes)
        self.extra_candidates = extra_candidates
        self.make_policy = make_policy
        self._chosen: dict = {}
        #: the last choice: ``{"point", "reward", "tuning_seeds", "candidates", "search_s", ...}``
        self.choice: Optional[dict] = None
        self.inner: Optional[Policy] = None

    def _make(self, spec: str) -> Policy:
        if spec.startswith("fixed:"):
            return FixedPolicy(spec)
        if self.make_policy is None:
            raise ValueError(f"no make_policy to build the candidate {spec!r}")
        return self.make_policy(spec)

    def search(self, env: Any) -> dict:
        """Choose on the tuning seeds for ``env`` (the evaluation environment is not touched)."""
        start = time.perf_counter()
        seeds = tuning.tuning_seeds(self.tuning_episodes)
        work = tuning.tuning_env(env)
        screened = screen_static_points(work, seeds)
        order = np.argsort(-screened, kind="stable")[:CONFIRM]
        extra = list(self.extra_candidates(env) if callable(self.extra_candidates) else self.extra_candidates)
        shortlist = [fixed_spec(work, int(a)) for a in order] + extra
        confirmed = {spec: tuning.rollout_reward(self._make(spec), work, seeds) for spec in shortlist}
        best = max(shortlist, key=lambda spec: confirmed[spec])  # first of equals: screening order
        return {"point": best, "reward": confirmed[best], "tuning_seeds": seeds,
                "candidates": len(work.action_table) + len(extra),
                "confirmed": confirmed, "search_s": time.perf_counter() - start}

    def reset(self, env: Any, seed: Optional[int] = None) -> None:
        tuning.check_evaluation_seed(seed)
        key = tuning.env_key(env)
        if key not in self._chosen:
            choice = self.search(env)
            self._chosen[key] = choice
            print(f"static-best: {choice['point']} (mean reward {choice['reward']:.4f} on tuning seeds "
                  f"{tuning.describe_seeds(self.tuning_episodes)}; {choice['candidates']} candidates, "
                  f"{choice['search_s']:.1f} s) for {key[0]}/{key[1]}")
        self.choice = self._chosen[key]
        self.inner = self._make(self.choice["point"])
        self.inner.reset(env, seed=seed)

    def act(self, env: Any, obs: np.ndarray, info: dict) -> Any:
        return self.inner.act(env, obs, info)

    def observe(self, info: dict) -> None:
        self.inner.observe(info)
