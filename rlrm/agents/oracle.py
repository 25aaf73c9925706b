"""The oracle: knows the simulator's hidden state and its coming draws, and plans with them.

What it is, by board:

* **Without board state** (the original scenarios, ``board.dynamic`` false): greedy per step.
  It previews every valid action against the coming step's drawn background and noise
  (:meth:`rlrm.sim.BoardSimulator.preview`) and takes the one with the highest reward: exact
  per step for one managed application; with several, coordinate ascent over applications
  (each app's best response to the others, ``rounds`` times). Actions do not change these
  boards' future except through the DVFS transition cost, so greedy is (all but) optimal: the
  upper bound every policy is reported against, unchanged from before the dynamics.
* **With board state** (temperature and throttling, frame queues, switching costs, energy
  windows: ``envs/README.md``), today's action changes tomorrow's state and greedy is no
  upper bound (a fixed point beats it on ``energy-minute``). There it is a hindsight,
  model-predictive planner over a family of greedy-with-a-price policies: greedy on
  ``reward - price * energy_per_inference / reference`` (the reward's own energy reference,
  ``env.ref_energy_mj``), ``price`` on :data:`PRICES` (0 is the greedy oracle). At every
  planning point (each energy window's start on a board with windows, else every ``horizon``
  steps) it snapshots the simulator (:meth:`rlrm.sim.Backend.snapshot`), plays every price
  forward to the next planning point with the simulator's own future draws, scores each by its
  summed reward, keeps the best and goes on from the state it leaves. The whole episode is
  planned that way at its first step; the plain greedy episode is planned too, and the better
  of the two is played, so the oracle is never below greedy. Several apps: the same price
  inside the coordinate ascent.

What it is not: the optimum over all policies. It is an upper bound over the family it searches
(per segment, one constant price from the grid; or greedy throughout), which contains the
greedy oracle; a policy outside the family (one that, say, changes its price inside a window)
may still score above it, and the reports say where that happens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np

from rlrm.policy.base import Policy
from rlrm.sim.simulator import OperatingPoint

if TYPE_CHECKING:  # the board side loads policies without gymnasium
    from rlrm.env.dynamic_dnn import DynamicDNNEnv

#: prices of energy per inference (in units of the reward's reference) the planner tries; 0 is greedy
PRICES = (0.0, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5)
#: the normalised energy per inference is capped here in the price (the reward's own cap)
PRICE_CAP = 5.0


@dataclass
class Branch:
    """One candidate of a segment while the planner plays it forward: the prices that chose the
    same actions so far (they share the state), their summed reward, the actions and the state."""

    prices: list
    snapshot: Any
    reward: float = 0.0
    actions: list = field(default_factory=list)
    states: list = field(default_factory=list)


class OraclePolicy(Policy):
    """The best action per step from the simulator's hidden state, planned ahead where the
    board has state (see the module docstring for exactly what it is and is not).

    :param rounds: coordinate-ascent rounds when several applications are managed
    :param horizon: steps between planning points on a board with state and no energy window
    :param prices: the energy prices the planner searches (0, the greedy oracle, is always added)
    :param greedy: greedy per step on every board, no planning (``oracle-greedy``: the oracle
        before board state, for comparison)
    """

    name = "oracle"

    def __init__(self, rounds: int = 2, horizon: int = 20, prices: Sequence[float] = PRICES,
                 greedy: bool = False) -> None:
        self.greedy = greedy
        if greedy:
            self.name = "oracle-greedy"
        self.rounds = rounds
        self.horizon = max(1, int(horizon))
        self.prices = sorted({0.0, *(float(p) for p in prices)})
        self.plan: dict = {}  # step index -> (the state expected there, the action)
        #: summed rewards from the last planning point to the episode's end: of the plan played
        #: (the better of the other two), of the per-segment plan, of plain greedy (None: not planned)
        self.planned_reward: Optional[float] = None
        self.segments_reward: Optional[float] = None
        self.greedy_reward: Optional[float] = None

    def reset(self, env: DynamicDNNEnv, seed: Optional[int] = None) -> None:
        if not hasattr(env.sim, "preview") or not hasattr(env.sim, "snapshot"):
            raise RuntimeError("the oracle needs the simulator backend")
        self.plan = {}
        self.planned_reward = self.segments_reward = self.greedy_reward = None

    def act(self, env: DynamicDNNEnv, obs: np.ndarray, info: dict) -> Any:
        sim = env.sim
        if self.greedy or not sim.stateful or sim.step_index >= env.episode_steps:  # (past the end: nothing to plan)
            return self.best_action(env)[0]
        entry = self.plan.get(sim.step_index)
        if entry is None or entry[0] != sim.snapshot():  # not planned from here (or another state)
            self.plan_episode(env)
            entry = self.plan[sim.step_index]
        return entry[1]

    # ------------------------------------------------------------------ one step
    def best_action(self, env: DynamicDNNEnv, price: float = 0.0, cache: Optional[dict] = None) -> tuple[Any, float]:
        """The best action now for ``reward - price * epi / reference`` and its reward
        (``price`` 0: the greedy oracle's action). ``cache``: previews of this state, by action."""
        k = len(env.managed)
        mask = env.action_masks().reshape(k, -1)
        valid = [np.flatnonzero(m) for m in mask]
        current = [int(v[-1]) for v in valid]
        cache = {} if cache is None else cache
        best_r = -np.inf
        for _ in range(self.rounds if k > 1 else 1):
            for app in range(k):
                best_a, best_s = current[app], -np.inf
                for a in valid[app]:
                    current[app] = int(a)
                    r, e = self.scored(env, current, cache)
                    if r - price * e > best_s:
                        best_s, best_a, best_r = r - price * e, int(a), r
                current[app] = best_a
        return (current[0] if k == 1 else np.asarray(current)), best_r

    @staticmethod
    def scored(env: DynamicDNNEnv, actions: list, cache: dict) -> tuple[float, float]:
        """``(reward, energy per inference / reference)`` of ``actions`` now, previewed once per state."""
        key = tuple(actions)
        hit = cache.get(key)
        if hit is None:
            table = env.action_table
            points = [OperatingPoint(int(table[a, 0]), int(table[a, 1]), int(table[a, 2])) for a in actions]
            result = env.sim.preview(points)
            epi = result.energy_per_inference_mj
            ratio = min(epi / env.ref_energy_mj, PRICE_CAP) if math.isfinite(epi) and env.ref_energy_mj > 0 else PRICE_CAP
            hit = cache[key] = (env.reward_of(result)[0], ratio)
        return hit

    @staticmethod
    def reward(env: DynamicDNNEnv, actions: list) -> float:
        """The reward ``actions`` (one per managed app) would earn this step."""
        return OraclePolicy.scored(env, actions, {})[0]

    # ------------------------------------------------------------------ planning
    def planning_points(self, env: DynamicDNNEnv, start: int, end: int) -> list[int]:
        """Step indices in ``[start, end)`` where a segment starts: each energy window's first
        step on a board with windows (the step whose start time enters a new window), else
        every :attr:`horizon` steps; ``start`` always."""
        sim = env.sim
        board = sim.board
        if getattr(board, "windows", False):
            period, window = sim.period_s, board.window_s
            return [start] + [i for i in range(start + 1, end)
                              if math.floor(i * period / window + 1e-9) != math.floor((i - 1) * period / window + 1e-9)]
        return list(range(start, end, self.horizon))

    def plan_episode(self, env: DynamicDNNEnv) -> None:
        """Plan from the simulator's state now to the episode's end (see the module docstring),
        and leave the simulator where it was."""
        sim = env.sim
        start = sim.snapshot()
        first, end = sim.step_index, env.episode_steps
        points = self.planning_points(env, first, end) + [end]
        planned: list = []
        planned_states: list = []
        total = 0.0
        for a, b in zip(points, points[1:]):
            best = self.segment(env, self.prices, b - a)
            total += best.reward
            planned += best.actions
            planned_states += best.states
            sim.restore(best.snapshot)
        sim.restore(start)
        greedy = self.segment(env, [0.0], end - first)
        sim.restore(start)
        self.segments_reward, self.greedy_reward = total, greedy.reward
        if greedy.reward > total:
            planned, planned_states = greedy.actions, greedy.states
        self.planned_reward = max(total, greedy.reward)
        self.plan = {first + i: (s, act) for i, (s, act) in enumerate(zip(planned_states, planned))}

    def segment(self, env: DynamicDNNEnv, prices: Sequence[float], steps: int) -> Branch:
        """Play every price ``steps`` steps on from the simulator's state now; the best branch
        (highest summed reward; the lowest price on a tie). Prices that choose the same actions
        share their previews and state (one branch) until they part."""
        sim = env.sim
        branches = [Branch(list(prices), sim.snapshot())]
        for _ in range(steps):
            grown = []
            for br in branches:
                sim.restore(br.snapshot)
                cache: dict = {}
                split: dict = {}
                for price in br.prices:
                    action, r = self.best_action(env, price, cache)
                    key = tuple(np.atleast_1d(action).tolist())
                    split.setdefault(key, (action, r, []))[2].append(price)
                for action, r, group in split.values():
                    sim.restore(br.snapshot)
                    sim.step(env.points_for(action)[0])
                    grown.append(Branch(group, sim.snapshot(), br.reward + r, br.actions + [action],
                                        br.states + [br.snapshot]))
            branches = grown
        return max(branches, key=lambda b: (b.reward, -min(b.prices)))
