"""rlrm/DynamicDNN-v0: spaces, masks, determinism, both check_envs, vectorised use."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import rlrm  # noqa: F401 - registers the environment
from rlrm.agents.registry import make_policy
from rlrm.env import DynamicDNNEnv
from rlrm.errors import InputError


def test_registered_and_spaces() -> None:
    env = gym.make("rlrm/DynamicDNN-v0", platform="jetson-xavier-nx", scenario="steady")
    obs, info = env.reset(seed=0)
    u = env.unwrapped
    assert isinstance(env.action_space, gym.spaces.Discrete)
    # 6 subnets x (6 core counts x 25 CPU freqs + 15 GPU freqs)
    assert env.action_space.n == 6 * (6 * 25 + 15) == len(u.action_table)
    assert obs.shape == env.observation_space.shape == (len(u.observation_names),)
    assert obs.dtype == np.float32 and env.observation_space.contains(obs)
    two = gym.make("rlrm/DynamicDNN-v0", platform="odroid-xu3", scenario="two-models")
    assert isinstance(two.action_space, gym.spaces.MultiDiscrete)
    assert list(two.action_space.nvec) == [6 * (4 * 13 + 4 * 19 + 7)] * 2


def test_masks_follow_power_mode() -> None:
    env = DynamicDNNEnv(scenario="power-cap")
    env.reset(seed=0)
    t = env.action_table
    mask = env.action_masks()
    carmel_opts = [i for i, o in enumerate(env.options) if o[0] == "carmel"]
    # 15W_6CORE: all 6 cores, CPU capped at 1420.8 MHz (index 17)
    assert mask[(np.isin(t[:, 1], carmel_opts)) & (t[:, 2] > 17)].sum() == 0
    assert mask[(np.isin(t[:, 1], carmel_opts)) & (t[:, 2] <= 17)].all()
    for _ in range(70):
        env.step(env.encode(env.decode(0)))
    mask = env.action_masks()  # 10W_4CORE: 4 cores, CPU <= 1190.4 MHz, GPU <= 803.25 MHz
    six = env.options.index(("carmel", 6))
    four = env.options.index(("carmel", 4))
    gpu = env.options.index(("gpu", 0))
    assert not mask[t[:, 1] == six].any()
    assert mask[(t[:, 1] == four) & (t[:, 2] <= 14)].all() and not mask[(t[:, 1] == four) & (t[:, 2] > 14)].any()
    assert mask[(t[:, 1] == gpu) & (t[:, 2] <= 8)].all() and not mask[(t[:, 1] == gpu) & (t[:, 2] > 8)].any()


def test_masked_action_is_clamped_and_flagged() -> None:
    env = DynamicDNNEnv(scenario="steady")
    env.reset(seed=0)
    bad = int(np.flatnonzero(~env.action_masks())[0])
    _, _, _, _, info = env.step(bad)
    assert info["invalid_action"] is True
    assert info["freq_khz"] <= 1420800


@pytest.mark.parametrize("scenario", ["steady", "second-app", "bursty", "changing-target", "power-cap", "two-models"])
@pytest.mark.parametrize("policy", ["performance", "powersave", "ondemand", "conservative", "schedutil",
                                    "schedutil+dofa", "ondemand+dofa", "random"])
def test_baselines_never_take_masked_actions(scenario, policy) -> None:
    env = DynamicDNNEnv(scenario=scenario, episode_steps=100)
    pol = make_policy(policy)
    obs, info = env.reset(seed=3)
    pol.reset(env, seed=3)
    for _ in range(100):
        a = pol.act(env, obs, info)
        mask = env.action_masks().reshape(len(env.managed), -1)
        for k, ak in enumerate(np.atleast_1d(a)):
            assert mask[k, int(ak)], (policy, scenario)
        obs, r, term, trunc, info = env.step(a)
        assert not info["invalid_action"]
        pol.observe(info)
        if trunc:
            break


def test_seeded_runs_reproduce() -> None:
    def run(seed):
        env = gym.make("rlrm/DynamicDNN-v0", scenario="bursty")
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        out = [obs]
        for _ in range(50):
            a = env.action_space.sample(mask=env.unwrapped.action_masks().astype(np.int8))
            obs, r, *_ = env.step(a)
            out += [obs, np.float32(r)]
        return np.concatenate([np.atleast_1d(x) for x in out])

    assert np.array_equal(run(4), run(4))
    assert not np.array_equal(run(4), run(5))


def test_episode_end() -> None:
    env = DynamicDNNEnv(scenario="steady", episode_steps=7)
    env.reset(seed=0)
    for k in range(7):
        _, _, term, trunc, _ = env.step(0)
        assert term is False and trunc is (k == 6)


def test_gymnasium_and_sb3_check_env() -> None:
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    for scenario in ("steady", "two-models"):
        env = DynamicDNNEnv(scenario=scenario)
        check_env(env, skip_render_check=True)
        sb3_check_env(env, warn=True)


def test_info_has_the_metrics() -> None:
    env = DynamicDNNEnv(scenario="steady")
    env.reset(seed=0)
    _, r, _, _, info = env.step(env.encode(env.decode(5 * 165 + 150 + 14)))
    for key in ("latency_ms", "energy_mj", "energy_per_inference_mj", "power_w", "accuracy", "deadline_miss",
                "subnet", "unit", "freq_khz", "target_latency_ms", "reward_terms"):
        assert key in info
    assert info["unit"] == "gpu" and info["subnet"] == 5 and info["freq_khz"] == 1109250


def test_make_vec_and_subproc() -> None:
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    venv = gym.make_vec("rlrm/DynamicDNN-v0", num_envs=2, vectorization_mode="sync", scenario="steady")
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (2, venv.single_observation_space.shape[0])
    venv.step(np.array([0, 1]))
    venv.close()
    # "rlrm:" makes the worker processes import rlrm (which registers the id) first
    sb = make_vec_env("rlrm:rlrm/DynamicDNN-v0", n_envs=2, seed=0, vec_env_cls=SubprocVecEnv,
                      env_kwargs={"scenario": "bursty"})
    obs = sb.reset()
    masks = np.stack(sb.env_method("action_masks"))
    assert masks.shape == (2, 990)
    obs, rew, done, info = sb.step(np.array([int(np.flatnonzero(m)[0]) for m in masks]))
    assert obs.shape[0] == 2 and np.isfinite(rew).all()
    sb.close()


def test_bad_arguments_are_one_line_errors() -> None:
    with pytest.raises(InputError):
        DynamicDNNEnv(backend="fpga")
    with pytest.raises(InputError) as err:
        DynamicDNNEnv(reward_weights={"accuracy": -1})
    assert err.value.field == "accuracy"
    with pytest.raises(InputError):
        DynamicDNNEnv(reward_weights={"speed": 1})
    with pytest.raises(InputError):
        DynamicDNNEnv(episode_steps=0)


def test_units_restrict_the_action_table() -> None:
    env = DynamicDNNEnv(scenario="steady", units=["gpu"])
    assert env.action_space.n == 6 * 15
    assert {env.options[o][0] for o in env.action_table[:, 1]} == {"gpu"}
    odroid = DynamicDNNEnv(platform="odroid-xu3", scenario="steady", units=["cpu"])
    assert {odroid.options[o][0] for o in odroid.action_table[:, 1]} == {"a7", "a15"}
    with pytest.raises(InputError):
        DynamicDNNEnv(units=["npu"])
    with pytest.raises(InputError):  # the baselines' unit must be available
        make_policy("schedutil").reset(DynamicDNNEnv(scenario="steady", units=["cpu"]))
