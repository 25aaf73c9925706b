"""``DynamicDNNEnv(history=k)``: the measured elements of the k previous steps, and the
checkpoint that records it (issue 13: observation of trends)."""

from __future__ import annotations

import numpy as np
import pytest

from rlrm.env import DynamicDNNEnv
from rlrm.errors import InputError
from rlrm.evaluate import checkpoint_env_kwargs, resolve_policy
from rlrm.policy.export import export_run
from rlrm.policy.testing import make_run_dir
from rlrm.train.api import resolve_hyperparameters

NX = "jetson-xavier-nx"


def test_history_repeats_the_measured_elements_of_previous_steps() -> None:
    plain = DynamicDNNEnv(NX, "bursty", units=["gpu"])
    env = DynamicDNNEnv(NX, "bursty", units=["gpu"], history=2)
    n = len(plain.observation_names)
    assert env.observation_names[:n] == plain.observation_names
    measured = [x for x in plain.observation_names if x.endswith((".util", ".background", ".latency", ".miss"))
                or x in ("power", "energy", "budget.left") or x.endswith((".headroom", ".queue"))]
    assert env.observation_names[n:] == [f"{x}@-{k}" for k in (1, 2) for x in measured]
    assert env.observation_space.shape == (n + 2 * len(measured),)
    where = [plain.observation_names.index(x) for x in measured]
    seen = [env.reset(seed=3)[0]]
    assert np.array_equal(seen[0][n:], np.concatenate([seen[0][where]] * 2))  # no past yet: the first repeats
    for t in range(4):
        obs = env.step(env.action_space.sample())[0]
        seen.append(obs)
        assert env.observation_space.contains(obs)
        assert np.array_equal(obs[n:n + len(measured)], seen[-2][where])  # @-1: the previous step
        assert np.array_equal(obs[n + len(measured):], seen[max(0, len(seen) - 3)][where])  # @-2
    assert not np.array_equal(seen[-1][where], seen[-2][where])  # the elements do change (the test can fail)
    again = env.reset(seed=3)[0]
    assert np.array_equal(again, seen[0])  # a reset forgets the previous episode


def test_history_is_the_same_current_observation() -> None:
    a, b = DynamicDNNEnv(NX, "bursty", history=0), DynamicDNNEnv(NX, "bursty", history=3)
    oa, ob = a.reset(seed=1)[0], b.reset(seed=1)[0]
    for _ in range(3):
        assert np.array_equal(oa, ob[:len(oa)])
        oa, ob = a.step(5)[0], b.step(5)[0]


@pytest.mark.parametrize("bad", [-1, 9, 1.5, True, "2"])
def test_bad_history_is_refused(bad) -> None:
    with pytest.raises(InputError, match="history"):
        DynamicDNNEnv(NX, "steady", history=bad)
    with pytest.raises(InputError, match="history"):
        resolve_hyperparameters("ppo", {"history": bad}, NX)


def test_a_checkpoint_records_its_history_and_evaluation_rebuilds_it(tmp_path) -> None:
    run = make_run_dir(tmp_path / "run", scenario="steady", train_steps=64, env_kwargs={"units": ["gpu"], "history": 1})
    export_run(run, tmp_path / "ckpt", check_samples=8)
    policy = resolve_policy(str(tmp_path / "ckpt"))
    kwargs = checkpoint_env_kwargs(policy)
    assert kwargs == {"units": ["gpu"], "history": 1}
    env = DynamicDNNEnv(NX, "bursty", **kwargs)
    obs, info = env.reset(seed=0)
    policy.reset(env)
    assert 0 <= int(policy.act(env, obs, info)) < env.action_space.n
    without = DynamicDNNEnv(NX, "bursty", units=["gpu"])  # the history elements are missing: refused, one line
    with pytest.raises(InputError, match="observation_names"):
        policy.reset(without)
        policy.act(without, without.reset(seed=0)[0], {})
