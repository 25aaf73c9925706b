"""``static-best``: the best static point on tuning seeds, never on evaluation seeds."""

from __future__ import annotations

import pytest

from rlrm.agents import tuning
from rlrm.agents.baselines import FixedPolicy
from rlrm.agents.registry import make_policy
from rlrm.agents.static_best import StaticBestPolicy, fixed_spec, screen_static_points, static_frontier_rows
from rlrm.env.dynamic_dnn import DynamicDNNEnv
from rlrm.errors import InputError
from rlrm.evaluate import run_episodes


def small_env() -> DynamicDNNEnv:
    return DynamicDNNEnv(platform="jetson-xavier-nx", scenario="bursty", episode_steps=6, units=["gpu"])


def test_tuning_seeds_are_disjoint_from_evaluation_seeds() -> None:
    assert tuning.tuning_seeds(3) == [10_000, 10_001, 10_002]
    assert not tuning.is_tuning_seed(9_999)
    tuning.check_evaluation_seed(0)
    with pytest.raises(InputError, match="tuning seed"):
        tuning.check_evaluation_seed(10_000)


def test_static_best_never_picks_on_evaluation_seeds(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list = []
    reset = DynamicDNNEnv.reset

    def spy(self, *, seed=None, options=None):  # noqa: ANN001, ANN202
        seen.append((id(self), seed))
        return reset(self, seed=seed, options=options)

    monkeypatch.setattr(DynamicDNNEnv, "reset", spy)
    env = small_env()
    policy = StaticBestPolicy(tuning_episodes=2)
    run_episodes(policy, env, 2, 0)
    evaluation = [s for i, s in seen if i == id(env)]
    tuned = [s for i, s in seen if i != id(env)]
    assert evaluation == [0, 1]
    assert tuned and all(s in (10_000, 10_001) for s in tuned)
    assert policy.choice["tuning_seeds"] == [10_000, 10_001]


def test_static_best_refuses_a_tuning_seed_for_evaluation() -> None:
    with pytest.raises(InputError, match="tuning seed"):
        run_episodes(make_policy("static-best"), small_env(), 1, 10_000)


def test_screening_refuses_evaluation_seeds() -> None:
    with pytest.raises(ValueError, match="not a tuning seed"):
        screen_static_points(small_env(), [0])


def test_static_best_is_the_best_fixed_point_by_real_rollouts() -> None:
    env = small_env()
    policy = StaticBestPolicy(tuning_episodes=1)
    run_episodes(policy, env, 1, 0)
    work = tuning.tuning_env(env)
    rewards = [tuning.rollout_reward(FixedPolicy(fixed_spec(work, a)), work, [10_000])
               for a in range(len(work.action_table))]
    assert policy.choice["reward"] == pytest.approx(max(rewards), abs=1e-9)
    assert policy.choice["point"].startswith("fixed:")


def test_static_best_scores_extra_candidates_by_name() -> None:
    env = small_env()
    policy = StaticBestPolicy(tuning_episodes=1, extra_candidates=["performance"], make_policy=make_policy)
    run_episodes(policy, env, 1, 0)
    assert "performance" in policy.choice["confirmed"]


def test_static_best_extra_candidates_can_depend_on_the_environment() -> None:
    env = small_env()
    policy = StaticBestPolicy(tuning_episodes=1, make_policy=make_policy,
                              extra_candidates=lambda e: ["powersave"] if e.n_subnets > 1 else [])
    run_episodes(policy, env, 1, 0)
    assert "powersave" in policy.choice["confirmed"]
    assert policy.choice["candidates"] == len(env.action_table) + 1


def test_static_frontier_rows_match_real_rollouts() -> None:
    env = small_env()
    rows = static_frontier_rows(env, [0])
    assert len(rows) == len(env.action_table)
    for a in (0, len(rows) // 2, len(rows) - 1):
        summary, _ = run_episodes(FixedPolicy(rows[a]["policy"]), env, 1, 0)
        for key in ("reward_mean", "energy_per_inference_mj", "deadline_miss_rate", "accuracy_mean"):
            assert rows[a][key] == pytest.approx(summary[key], rel=1e-3), key
