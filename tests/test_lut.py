"""``lut``: the table-driven runtime manager."""

from __future__ import annotations

import numpy as np
import pytest

from rlrm.agents.baselines import FixedPolicy
from rlrm.agents.lut import LutPolicy, contention
from rlrm.env.dynamic_dnn import DynamicDNNEnv
from rlrm.errors import InputError
from rlrm.evaluate import run_episodes

SLOWDOWN = 1.5


def slowed_env() -> DynamicDNNEnv:
    """steady on the Xavier NX with every latency 1.5x the profile's (a board the table does not know)."""
    return DynamicDNNEnv(platform="jetson-xavier-nx", scenario="steady", episode_steps=40, units=["gpu"],
                         randomization={"latency_scale": [SLOWDOWN, SLOWDOWN]})


def miss_after(policy, env, skip: int = 3) -> tuple[float, float]:  # noqa: ANN001
    """Mean deadline-miss fraction and top-1 after the first ``skip`` steps."""
    misses, top1 = [], []
    run_episodes(policy, env, 1, 0, on_step=lambda ep, step, info, r: (misses.append(info["deadline_miss"]),
                                                                       top1.append(info["accuracy"]))
                 if step >= skip else None)
    return float(np.mean(misses)), float(np.mean(top1))


def test_contention_model() -> None:
    assert contention("gpu", 0, 1, 0.0) == 1.0
    assert contention("gpu", 0, 1, 0.5) == 1.5
    assert contention("cpu", 2, 4, 0.25) == 1.0  # 2 + 1 threads on 4 cores
    assert contention("cpu", 4, 4, 0.5) == 1.5  # 4 + 2 threads on 4 cores


def test_lut_meets_a_deadline_a_fixed_point_meets_when_the_slowdown_is_known() -> None:
    env = slowed_env()
    fixed = FixedPolicy("fixed:subnet=0,unit=gpu,freq=max")
    fixed_miss, fixed_top1 = miss_after(fixed, env)
    assert fixed_miss < 0.01  # the smallest subnet at f_max meets the deadline even 1.5x slower
    lut = LutPolicy(margin=0.1)
    lut_miss, lut_top1 = miss_after(lut, env)
    assert lut_miss <= fixed_miss + 0.01
    assert lut_top1 >= fixed_top1
    # it learned the slowdown from the measured latency against the table
    gpu = lut.units.index(env.platform.units["gpu"])
    assert np.exp(lut.residual[0, gpu]) == pytest.approx(SLOWDOWN, rel=0.05)


def test_lut_without_the_slowdown_estimate_misses() -> None:
    """The check above can fail: a manager that trusts the table (alpha = 0) misses the deadline."""
    miss, _ = miss_after(LutPolicy(margin=0.1, alpha=0.0), slowed_env())
    assert miss > 0.2


def test_lut_tunes_its_margin_on_tuning_seeds() -> None:
    env = DynamicDNNEnv(platform="jetson-xavier-nx", scenario="steady", episode_steps=5, units=["gpu"])
    lut = LutPolicy(tuning_episodes=1)
    run_episodes(lut, env, 1, 0)
    (choice,) = lut.tuned.values()
    assert choice["seeds"] == [10_000]
    assert lut.margin == choice["margin"] == lut.choice["margin"]
    with pytest.raises(InputError, match="tuning seed"):
        run_episodes(lut, env, 1, 10_000)


def test_lut_runs_on_two_managed_apps() -> None:
    env = DynamicDNNEnv(platform="jetson-xavier-nx", scenario="two-models", episode_steps=5)
    summary, _ = run_episodes(LutPolicy(margin=0.1), env, 1, 0)
    assert np.isfinite(summary["reward_mean"])
