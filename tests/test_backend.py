"""The backend interface: both backends implement it beside each other and share the board
model; the environment takes a backend object or a name; step results are typed."""

from __future__ import annotations

import copy

import pytest

from rlrm.agents.registry import make_policy
from rlrm.env import DynamicDNNEnv
from rlrm.errors import InputError
from rlrm.evaluate import run_episodes
from rlrm.live.board import LiveBoard
from rlrm.platform import load_platform
from rlrm.rollout import Callback, StepRecord, rollout
from rlrm.sim import Backend, BoardModel, BoardSimulator, StepResult, load_scenario, make_backend


def test_live_board_is_a_backend_not_a_simulator() -> None:
    assert issubclass(LiveBoard, Backend) and issubclass(BoardSimulator, Backend)
    assert not issubclass(LiveBoard, BoardSimulator)


def test_backends_share_one_board_model() -> None:
    board = BoardModel(load_platform("jetson-xavier-nx"), load_scenario("steady"))
    sim = BoardSimulator(board.platform, board.scenario, board=board, seed=0)
    live = LiveBoard(board.platform, board.scenario, board=board, config={"background": False})
    assert sim.board is live.board
    assert sim.options == live.options and sim.unit_names == live.unit_names
    assert sim.targets == live.targets and sim.power_mode.name == live.power_mode.name


def test_env_takes_a_backend_object_and_gives_the_same_episode_as_its_name() -> None:
    sim = BoardSimulator(load_platform("jetson-xavier-nx"), load_scenario("bursty"))
    by_object = DynamicDNNEnv(backend=sim, episode_steps=20)
    by_name = DynamicDNNEnv("jetson-xavier-nx", "bursty", episode_steps=20)
    assert by_object.sim is sim and by_object.scenario.name == "bursty"
    a = run_episodes(make_policy("schedutil"), by_object, 1, seed=3)[0]
    b = run_episodes(make_policy("schedutil"), by_name, 1, seed=3)[0]
    assert a == b


def test_unknown_backend_name_is_one_line() -> None:
    with pytest.raises(InputError, match="not a backend"):
        make_backend("nope", load_platform("jetson-xavier-nx"), load_scenario("steady"))


def test_step_result_is_typed_and_reads_as_before() -> None:
    sim = BoardSimulator(load_platform("jetson-xavier-nx"), load_scenario("steady"), seed=0)
    env = DynamicDNNEnv(backend=sim)
    env.reset(seed=0)
    _, _, _, _, info = env.step(env.action_space.sample())
    r = info["result"]
    assert isinstance(r, StepResult) and not isinstance(r, dict)
    assert r["power_w"] == r.power_w and r.apps[0]["latency_ms"] == r.apps[0].latency_ms
    assert "sensor_fault" not in r and r.sensor_fault is None  # live-only field
    assert r.source("power_w") == "modelled"
    assert copy.deepcopy(r) is r


def test_a_callback_can_stop_the_rollout() -> None:
    class StopAt(Callback):
        def __init__(self) -> None:
            self.seen = 0

        def on_step(self, record: StepRecord) -> bool:
            self.seen += 1
            return self.seen < 5

    stop = StopAt()
    env = DynamicDNNEnv("jetson-xavier-nx", "steady", episode_steps=50)
    done = rollout(make_policy("performance"), env, 3, seed=0, callbacks=[stop])
    assert stop.seen == 5 and len(done.per_episode) == 1 and done.summary["steps"] == 5
