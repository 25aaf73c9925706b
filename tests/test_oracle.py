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


# ------------------------------------------------------------------ the planning oracle (boards with state)
FEW_PRICES = (0.0, 0.5, 1.0)


def test_boards_without_state_keep_the_greedy_oracle() -> None:
    env = DynamicDNNEnv(scenario="bursty", episode_steps=30)
    planned = run_episodes(OraclePolicy(prices=FEW_PRICES), env, 1, seed=3)[0]["reward_mean"]
    greedy = run_episodes(make_policy("oracle-greedy"), env, 1, seed=3)[0]["reward_mean"]
    assert planned == greedy  # the same actions: every figure on the original scenarios unchanged


def test_planning_beats_greedy_and_a_fixed_point_under_an_energy_window() -> None:
    # one 60 s window of energy-minute: greedy spends the budget early and is suspended
    env = DynamicDNNEnv(platform="jetson-xavier-nx", scenario="energy-minute", episode_steps=60)
    oracle = OraclePolicy(prices=FEW_PRICES)
    planned = run_episodes(oracle, env, 1, seed=100)[0]["reward_mean"]
    greedy = run_episodes(make_policy("oracle-greedy"), env, 1, seed=100)[0]["reward_mean"]
    fixed = run_episodes(make_policy("fixed:subnet=3,unit=gpu,freq=1007250"), env, 1, seed=100)[0]["reward_mean"]
    assert fixed > greedy  # the case the planner exists for
    assert planned >= fixed and planned > greedy
    # what the environment paid is what the plan expected, and greedy's own plan matches its run
    assert abs(planned * 60 - oracle.planned_reward) < 1e-9
    assert abs(greedy * 60 - oracle.greedy_reward) < 1e-9


def test_planning_leaves_the_simulator_as_it_was_and_replans_off_plan() -> None:
    env = DynamicDNNEnv(platform="jetson-xavier-nx", scenario="fanless-heat", episode_steps=12)
    oracle = OraclePolicy(horizon=5, prices=FEW_PRICES)
    obs, info = env.reset(seed=7)
    oracle.reset(env)
    before = env.sim.snapshot()
    first = oracle.act(env, obs, info)
    assert env.sim.snapshot() == before and sorted(oracle.plan) == list(range(12))
    env.step(first)
    other = int(np.flatnonzero(env.action_masks())[0])  # leave the plan: the smallest, slowest point
    assert other != oracle.plan[1][1]
    env.step(other)
    oracle.act(env, obs, info)  # the state is not the planned one: planned again from here
    assert sorted(oracle.plan) == list(range(2, 12))
    for _ in range(10):
        env.step(oracle.act(env, obs, info))
    assert env.sim.step_index == 12
    env.step(oracle.act(env, obs, info))  # stepped past the episode's end: greedy, nothing to plan


def test_planning_points() -> None:
    oracle = OraclePolicy(horizon=20)
    window = DynamicDNNEnv(platform="jetson-xavier-nx", scenario="energy-minute")
    assert oracle.planning_points(window, 0, 240) == [0, 60, 120, 180]
    assert oracle.planning_points(window, 70, 240) == [70, 120, 180]
    heat = DynamicDNNEnv(platform="jetson-xavier-nx", scenario="fanless-heat")
    assert oracle.planning_points(heat, 0, 50) == [0, 20, 40]


def test_planning_with_several_managed_apps() -> None:
    import dataclasses

    from rlrm.sim import load_scenario

    two = load_scenario("two-models")  # both managed; with the switching and host-CPU costs: a board with state
    sc = dataclasses.replace(two, dynamics=dataclasses.replace(load_scenario("energy-minute").dynamics, window_s=60.0))
    env = DynamicDNNEnv(platform="jetson-xavier-nx", scenario=sc, episode_steps=8)
    assert env.sim.stateful and len(env.managed) == 2
    oracle = OraclePolicy(horizon=4, prices=FEW_PRICES)
    planned = run_episodes(oracle, env, 1, seed=1)[0]["reward_mean"]
    greedy = run_episodes(make_policy("oracle-greedy"), env, 1, seed=1)[0]["reward_mean"]
    assert planned >= greedy - 1e-12 and abs(planned * 8 - oracle.planned_reward) < 1e-9
