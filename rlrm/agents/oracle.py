"""The oracle: knows the simulator's hidden state and takes the best-reward action each step.

It previews every valid action against the coming step's drawn background and noise
(:meth:`rlrm.sim.BoardSimulator.preview`) and takes the one with the highest reward: exact
per step for one managed application; with several, coordinate ascent over applications
(each app's best response to the others, ``rounds`` times). It is greedy per step, which is
optimal in the original scenarios because actions do not change the simulator's future
state except through the DVFS transition cost; there it is the upper bound every learned
policy is reported against. In scenarios with board dynamics (temperature and throttling,
frame queues, energy windows: ``envs/README.md``) today's action changes tomorrow's state,
and this greedy oracle is no longer an upper bound (a policy may score above it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from rlrm.policy.base import Policy
from rlrm.sim.simulator import OperatingPoint

if TYPE_CHECKING:  # the board side loads policies without gymnasium
    from rlrm.env.dynamic_dnn import DynamicDNNEnv


class OraclePolicy(Policy):
    """Best action per step from the simulator's hidden state.

    :param rounds: coordinate-ascent rounds when several applications are managed
    """

    name = "oracle"

    def __init__(self, rounds: int = 2) -> None:
        self.rounds = rounds

    def reset(self, env: DynamicDNNEnv, seed: Optional[int] = None) -> None:
        if not hasattr(env.sim, "preview"):
            raise RuntimeError("the oracle needs the simulator backend")

    def best_action(self, env: DynamicDNNEnv) -> tuple[Any, float]:
        """The best action now and its reward."""
        k = len(env.managed)
        mask = env.action_masks().reshape(k, -1)
        valid = [np.flatnonzero(m) for m in mask]
        current = [int(v[-1]) for v in valid]
        best_r = -np.inf
        for _ in range(self.rounds if k > 1 else 1):
            for app in range(k):
                best_a, best_r = current[app], -np.inf
                for a in valid[app]:
                    current[app] = int(a)
                    r = self.reward(env, current)
                    if r > best_r:
                        best_r, best_a = r, int(a)
                current[app] = best_a
        return (current[0] if k == 1 else np.asarray(current)), best_r

    @staticmethod
    def reward(env: DynamicDNNEnv, actions: list) -> float:
        table = env.action_table
        points = [OperatingPoint(int(table[a, 0]), int(table[a, 1]), int(table[a, 2])) for a in actions]
        return env.reward_of(env.sim.preview(points))[0]

    def act(self, env: DynamicDNNEnv, obs: np.ndarray, info: dict) -> Any:
        return self.best_action(env)[0]
