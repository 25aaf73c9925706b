"""The live backend measures the dynamics' state (temperatures, frame queues, the energy window)
instead of modelling it: against the fake Xavier NX and Odroid XU3 trees, on a virtual clock."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, List, Optional

import pytest

from rlrm.env import DynamicDNNEnv
from rlrm.hw import fake
from rlrm.hw.measurements import Measurements
from rlrm.live.board import LiveBoard
from rlrm.live.frames import FrameQueue
from rlrm.platform import load_platform
from rlrm.sim import BoardModel, load_scenario

from tests.hw_support import board_dir, odroid, state_dir, xavier  # noqa: F401


class Clock:
    """Virtual seconds; ``sleep`` advances them."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += max(0.0, s)


class Runner:
    """An inference of ``infer_s`` virtual seconds; ``during`` runs once per call (the board
    changing meanwhile)."""

    n_levels = 5

    def __init__(self, clock: Clock, infer_s: float = 0.05) -> None:
        self.clock = clock
        self.infer_s = infer_s
        self.during: Optional[Callable[[], None]] = None

    def switch(self, level: int) -> None:
        pass

    def run_for(self, seconds: float, fps: float = 0.0, max_inferences: Optional[int] = None) -> List[float]:
        if self.during is not None:
            self.during()
        n = max_inferences or max(1, int(seconds / self.infer_s))
        self.clock.t += n * self.infer_s
        return [self.infer_s * 1e3] * n


def _env(root: Path, platform_name: str, scenario: str, clock: Clock, runner: Runner,
         watts: float = 5.0) -> DynamicDNNEnv:
    platform = load_platform(platform_name)
    board = BoardModel(platform, load_scenario(scenario), period_s=1.0)
    rail = fake.ScriptedRail("VDD_IN", lambda t: watts, clock)
    m = Measurements([rail], platform, root, clock=clock, threaded=False)
    live = LiveBoard(platform, board.scenario, board=board, runner=runner, measurements=m,  # type: ignore[arg-type]
                     config={"sysfs_root": str(root), "handlers": False, "background": False})
    for q in live.frame_queues:
        if q is not None:
            q.clock, q.sleep = clock, clock.sleep
    live.sleep = clock.sleep
    return DynamicDNNEnv(backend=live, episode_steps=100)


def _obs(env: DynamicDNNEnv, obs, name: str) -> float:  # noqa: ANN001
    return float(obs[env.observation_names.index(name)])


# ------------------------------------------------------------------ temperature
def test_xavier_temperatures_are_read_from_the_zones(xavier: Path) -> None:  # noqa: F811
    clock = Clock()
    runner = Runner(clock)
    env = _env(xavier, "jetson-xavier-nx", "fanless-heat", clock, runner)
    live = env.sim
    g, c = live.unit_names.index("gpu"), live.unit_names.index("carmel")
    try:
        obs, _ = env.reset(seed=0)
        # at reset: the fake's GPU-therm (37.0 C), not the scenario's modelled start (70 C)
        assert live.temperature_c[g] == pytest.approx(37.0) and live.temperature_c[c] == pytest.approx(38.5)
        span = 93.5 - 60.0  # the profile's GPU trip - the scenario's ambient
        assert _obs(env, obs, "gpu.headroom") == pytest.approx((93.5 - 37.0) / span)
        for step, milli in enumerate((80000, 91250, 95000)):
            runner.during = lambda m=milli: fake.set_temperature(xavier, "GPU-therm", m)
            obs, _, _, _, info = env.step(0)
            res = info["result"]
            assert res.temperature_c[g] == pytest.approx(milli / 1000.0)
            assert res.source("temperature_c") == "measured" and info["thermal_fault"] is False
            assert info["measurement"]["sources"]["temperature_c"][g] == "measured"
            assert _obs(env, obs, "gpu.headroom") == pytest.approx(max(0.0, (93.5 - milli / 1000.0) / span))
        assert _obs(env, obs, "gpu.headroom") == 0.0  # above the trip
    finally:
        env.close()


def test_odroid_a15_reads_the_hottest_of_its_zones_in_any_scenario(odroid: Path) -> None:  # noqa: F811
    """``steady`` models no heating; live, the A15's headroom is still measured (cpu0..cpu3-thermal)."""
    clock = Clock()
    runner = Runner(clock)
    env = _env(odroid, "odroid-xu3", "steady", clock, runner)
    live = env.sim
    a15 = live.unit_names.index("a15")
    try:
        env.reset(seed=0)
        assert live.temperature_c[a15] == pytest.approx(46.0)  # cpu1-thermal, the hottest
        runner.during = lambda: fake.set_temperature(odroid, "cpu3-thermal", 79000)
        obs, _, _, _, info = env.step(0)
        assert info["result"].temperature_c[a15] == pytest.approx(79.0)
        assert _obs(env, obs, "a15.headroom") == pytest.approx((85.0 - 79.0) / (85.0 - 25.0))
        # the Mali has no thermal table in the profile: not measured, not in the observation
        assert info["measurement"]["sources"]["temperature_c"][live.unit_names.index("gpu")] == "modelled"
    finally:
        env.close()


def test_a_garbled_zone_is_a_sensor_fault_not_a_crash(xavier: Path,  # noqa: F811
                                                      caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    runner = Runner(clock)
    env = _env(xavier, "jetson-xavier-nx", "fanless-heat", clock, runner)
    live = env.sim
    g = live.unit_names.index("gpu")
    try:
        env.reset(seed=0)
        runner.during = lambda: fake.set_temperature(xavier, "GPU-therm", 85000)
        env.step(0)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="rlrm.live"):
            for _ in range(3):  # one warning, not one per step
                runner.during = lambda: fake.set_temperature(xavier, "GPU-therm", "hot\n")
                _, _, _, _, info = env.step(0)
                assert info["thermal_fault"] is True and info["sensor_fault"] is False  # power was read
                assert info["result"].temperature_c[g] == pytest.approx(85.0)  # held
                assert info["measurement"]["sources"]["temperature_c"][g] == "modelled"
                assert info["result"].source("temperature_c") == "modelled"
        warnings = [r.getMessage() for r in caplog.records if "thermal zone" in r.getMessage()]
        assert len(warnings) == 1 and "\n" not in warnings[0]
        assert "temp" in warnings[0] and "GPU-therm temperature" in warnings[0]  # the file and the field
        runner.during = lambda: fake.set_temperature(xavier, "GPU-therm", 86000)
        _, _, _, _, info = env.step(0)
        assert info["thermal_fault"] is False and info["result"].temperature_c[g] == pytest.approx(86.0)
        # out of the plausible range (250 C), then a zone whose temp file vanished: faults too
        runner.during = lambda: fake.set_temperature(xavier, "GPU-therm", 250000)
        _, _, _, _, info = env.step(0)
        assert info["thermal_fault"] is True and info["result"].temperature_c[g] == pytest.approx(86.0)
        assert "250000" in info["measurement"]["thermal_problems"]["gpu"]
        temp = next(z for z in (xavier / "sys/devices/virtual/thermal").iterdir()
                    if (z / "type").read_text().strip() == "GPU-therm") / "temp"
        runner.during = lambda: temp.unlink(missing_ok=True)
        _, _, _, _, info = env.step(0)
        assert info["thermal_fault"] is True and str(temp.name) in info["measurement"]["thermal_problems"]["gpu"]
    finally:
        env.close()


# ------------------------------------------------------------------ frame queue
def test_frame_queue_hand_worked_period() -> None:
    """8 fps, 2 frames may wait, 250 ms inferences, a 1 s period from t = 0: frames at 0, 1/8, ...
    served at 0, .25, .5, .75 (waits 0, 125, 125, 125 ms); .25 and .5 dropped when a third
    frame queued; .75 and .875 wait at the end (the frame at 1.0 belongs to the next period):
    8 arrived = 4 served + 2 dropped + 2 waiting."""
    clock = Clock()
    q = FrameQueue(8.0, 2, clock=clock, sleep=clock.sleep)
    runner = Runner(clock, infer_s=0.25)
    out = q.serve(runner, 1.0)
    assert out.latencies_ms == [250.0, 375.0, 375.0, 375.0]
    assert out.inference_ms == [250.0] * 4
    assert (out.dropped, out.backlog, q.backlog) == (2, 2, 2)
    out = q.serve(runner, 1.0)  # the backlog carries over: the first frame served waited 125 ms
    assert out.latencies_ms[0] == 375.0 and out.backlog == 2
    # a fast application keeps up: nothing waits, nothing is dropped, it idles between frames
    fast = FrameQueue(8.0, 2, clock=clock, sleep=clock.sleep)
    out = fast.serve(Runner(clock, infer_s=0.01), 1.0)
    assert (len(out.latencies_ms), out.dropped, out.backlog) == (8, 0, 0)
    assert out.latencies_ms == pytest.approx([10.0] * 8)


def test_live_queue_is_the_counted_backlog(xavier: Path) -> None:  # noqa: F811
    """fanless-heat: 15 fps, queue 3. Inferences of 200 ms cannot keep up: the observation's
    ``main.queue`` is the frames counted waiting (3 of 3), dropped frames count as misses."""
    clock = Clock()
    env = _env(xavier, "jetson-xavier-nx", "fanless-heat", clock, Runner(clock, infer_s=0.2))
    live = env.sim
    try:
        obs, _ = env.reset(seed=0)
        assert _obs(env, obs, "main.queue") == 0.0
        obs, _, _, _, info = env.step(0)
        app = info["result"].apps[0]
        assert app.queue == 3.0 and live.backlog[0] == 3.0 and _obs(env, obs, "main.queue") == 1.0
        assert app.inferences == 5.0 and app.dropped >= 7.0  # ~16 frames arrived, 5 served
        assert app.deadline_miss == pytest.approx((app.dropped + 5) / (app.dropped + 5))  # all late or dropped
        assert info["result"].source("queue") == "measured"
        assert info["measurement"]["sources"]["queue"] == ["measured"]
    finally:
        env.close()


# ------------------------------------------------------------------ energy window
def test_energy_window_spends_the_measured_energy(xavier: Path) -> None:  # noqa: F811
    """energy-minute: 300 J per 60 s. A board drawing 12 W (measured) spends 12 W x the measured
    period a step (a period ends when its last inference does: a little over 1 s): the window's
    spent energy is the sum of those integrals, ``budget.left`` falls with it, and once the
    budget is spent the application is halted (nothing runs, every frame dropped)."""
    clock = Clock()
    env = _env(xavier, "jetson-xavier-nx", "energy-minute", clock, Runner(clock, infer_s=0.05), watts=12.0)
    live = env.sim
    try:
        obs, _ = env.reset(seed=0)
        assert _obs(env, obs, "budget.left") == 1.0
        spent = 0.0
        while spent < 300.0:
            obs, _, _, _, info = env.step(0)
            res = info["result"]
            assert res.energy_mj == pytest.approx(12.0 * info["measurement"]["period_s"] * 1000.0)
            assert res.source("energy_window_left_j") == "measured" and res.source("energy_mj") == "measured"
            spent += res.energy_mj / 1000.0
            assert live.window_energy_j == pytest.approx(spent)
            assert res.energy_window_left_j == pytest.approx(300.0 - spent)
            assert _obs(env, obs, "budget.left") == pytest.approx(max(0.0, 1.0 - spent / 300.0), abs=1e-6)
            assert res.apps[0].inferences > 0
        assert 20 <= live.step_index <= 25
        _, _, _, _, info = env.step(0)  # the window is spent: halted
        app = info["result"].apps[0]
        assert app.inferences == 0.0 and app.deadline_miss == 1.0 and app.dropped >= 14.0
        assert info["measurement"]["period_s"] == pytest.approx(1.0)  # the period still passed
        while live.time_s < 60.0:  # the next minute starts with a full budget and the app runs again
            obs, _, _, _, info = env.step(0)
        assert _obs(env, obs, "budget.left") == 1.0 and live.window_energy_j == 0.0
        _, _, _, _, info = env.step(0)
        assert info["result"].apps[0].inferences > 0
    finally:
        env.close()
