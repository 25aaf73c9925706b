"""The oracle: never below any valid action's reward in a step, and the bar over episodes."""

from __future__ import annotations

import numpy as np

from rlrm.agents.oracle import OraclePolicy
from rlrm.agents.registry import make_policy
from rlrm.env import DynamicDNNEnv
from rlrm.evaluate import run_episodes


def test_oracle_step_reward_dominates_every_valid_action() -> None:
    rng = np.random.default_rng(0)
    oracle = OraclePolicy()
    for scenario in ("bursty", "second-app", "power-cap"):
        env = DynamicDNNEnv(scenario=scenario)
        env.reset(seed=int(rng.integers(1000)))
        for _ in range(int(rng.integers(20, 90))):  # a random state
            env.step(int(rng.choice(np.flatnonzero(env.action_masks()))))
        action, best = oracle.best_action(env)
        valid = np.flatnonzero(env.action_masks())
        rewards = [OraclePolicy.reward(env, [int(a)]) for a in valid]
        assert best >= max(rewards) - 1e-12
        _, r, *_ = env.step(action)
        assert abs(r - best) < 1e-9  # the preview was what happened


def test_oracle_sets_the_bar() -> None:
    env = DynamicDNNEnv(scenario="bursty", episode_steps=40)
    oracle = run_episodes(make_policy("oracle"), env, 2, seed=0)[0]["reward_mean"]
    for name in ("performance", "schedutil", "schedutil+dofa", "random", "fixed:subnet=2,unit=gpu,freq=max"):
        other = run_episodes(make_policy(name), env, 2, seed=0)[0]["reward_mean"]
        assert other <= oracle + 1e-9, name
