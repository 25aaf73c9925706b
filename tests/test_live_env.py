"""The live backend: same spaces as the simulator, real inferences, flagged estimates, no leftovers."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import gymnasium as gym
import numpy as np
import psutil
import pytest

import rlrm  # noqa: F401  (registers the environments)
from rlrm.env import DynamicDNNEnv
from rlrm.errors import InputError
from rlrm.hw import fake
from rlrm.live import BackgroundLoad, parse_duration
from rlrm.metrics import MetricsAccumulator

from tests.hw_support import board_dir, state_dir, xavier  # noqa: F401

PERIOD = 0.12


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE}


def _live(root: Path, **kw: object) -> DynamicDNNEnv:
    return DynamicDNNEnv("jetson-xavier-nx", "steady", backend="live", period_s=PERIOD, episode_steps=3,
                         live={"sysfs_root": str(root), "handlers": False, "power_threaded": False, **kw})


def test_live_step_matches_sim_shapes_and_result_keys(xavier: Path) -> None:  # noqa: F811
    before = _children()
    sim = DynamicDNNEnv("jetson-xavier-nx", "steady", period_s=PERIOD, episode_steps=3)
    env = _live(xavier)
    try:
        assert env.observation_space == sim.observation_space and env.action_space == sim.action_space
        assert env.observation_names == sim.observation_names
        assert np.array_equal(env.action_table, sim.action_table)
        o_live, _ = env.reset(seed=0)
        o_sim, _ = sim.reset(seed=0)
        assert o_live.shape == o_sim.shape and np.array_equal(env.action_masks(), sim.action_masks())
        acc = MetricsAccumulator()
        for a in (0, len(env.action_table) - 1):
            obs, reward, term, trunc, info = env.step(a)
            _, _, _, _, sinfo = sim.step(a)
            assert obs.shape == o_sim.shape and env.observation_space.contains(obs)
            assert np.isfinite(reward) and not term
            assert set(sinfo["result"]) <= set(info["result"]) and set(sinfo) <= set(info)
            assert info["inferences"] >= 1 and info["latency_ms"] > 0
            assert info["result"]["backend"] == "live"
            acc.add(info["result"], reward)
            assert len(_children() - before) >= 1  # steady has CPU background: workers run
        s = acc.summary()
        assert s["inferences"] >= 2 and s["latency_mean_ms"] > 0
        assert info["energy_estimated"] is False  # the fake Xavier has INA3221 rails
    finally:
        env.close()
    assert _children() - before == set()  # background workers are gone


def test_missing_tree_is_observe_only_and_energy_estimated(tmp_path: Path, state_dir: Path,  # noqa: F811
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    env = _live(tmp_path / "nothing", background=False)
    try:
        env.reset(seed=1)
        for _ in range(2):
            _, _, _, _, info = env.step(0)
            assert info["energy_estimated"] is True and info["result"]["freq_applied"] is False
            assert info["power_w"] > 0
    finally:
        env.close()
    warnings = [r for r in caplog.records if "observe-only" in r.getMessage()]
    assert len(warnings) == 1


def test_live_registered_nondeterministic() -> None:
    spec = gym.spec("rlrm/DynamicDNNLive-v0")
    assert spec.nondeterministic and spec.kwargs["backend"] == "live"
    assert not gym.spec("rlrm/DynamicDNN-v0").nondeterministic


def test_live_refuses_mix_and_preview(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        DynamicDNNEnv("jetson-xavier-nx", ["steady", "bursty"], backend="live")
    with pytest.raises(InputError):
        DynamicDNNEnv("jetson-xavier-nx", "steady", backend="nope")
    env = _live(tmp_path, background=False)
    env.reset(seed=0)
    with pytest.raises(InputError):
        env.sim.preview([None])
    env.close()


def test_background_load_burns_and_stops() -> None:
    before = _children()
    load = BackgroundLoad(1)
    try:
        assert load.set_load(0.8) == pytest.approx(0.8)
        (pid,) = load.pids()
        p = psutil.Process(pid)
        p.cpu_percent(None)
        import time

        time.sleep(0.4)
        assert p.cpu_percent(None) > 20  # it really burns CPU
    finally:
        load.stop()
    assert _children() - before == set()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


@pytest.mark.parametrize("text,seconds", [("60s", 60.0), ("2m", 120.0), ("30", 30.0), ("1.5", 1.5), ("250ms", 0.25)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "-5s", "0", "5 parsecs", "1e3"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(InputError, match="--duration"):
        parse_duration(text)


def test_images_from_a_directory(tmp_path: Path) -> None:
    from PIL import Image

    from rlrm.live.inference import InferenceRunner, load_model

    for i in range(2):
        Image.new("RGB", (40, 40), (i * 100, 50, 200)).save(tmp_path / f"{i}.png")
    runner = InferenceRunner(load_model("demo"), str(tmp_path))
    runner.switch(0)
    lat = runner.run_for(0.0, max_inferences=3)
    assert len(lat) == 1 and lat[0] > 0  # one inference at least, even for a zero period
    lat = runner.run_for(0.05)
    assert len(lat) >= 1 and all(x > 0 for x in lat)
    with pytest.raises(InputError):
        InferenceRunner(load_model("demo"), str(tmp_path / "empty-or-missing"))
