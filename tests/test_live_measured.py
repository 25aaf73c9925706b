"""The live backend reports what it measured over each period: power integrated from many
samples (not one read per period), utilisation and frequencies read back, each tagged."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, List, Optional, Tuple

import pytest

from rlrm.env import DynamicDNNEnv
from rlrm.hw import fake
from rlrm.hw.measurements import Measurements
from rlrm.live.board import LiveBoard
from rlrm.paths import SCENARIOS_DIR
from rlrm.platform import load_platform
from rlrm.sim import BoardModel, load_scenario

from tests.hw_support import board_dir, state_dir, xavier  # noqa: F401

SAMPLE_S = 0.008  # one INA3221 conversion


class FakeClock:
    """Virtual seconds, advanced only by the fake runner."""

    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class VirtualRunner:
    """Stands for the inference runner: "runs" for ``seconds`` of virtual time, sampling power
    every 8 ms as the background thread would, and returns 10 ms latencies."""

    n_levels = 5

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.measurements: Measurements = None  # type: ignore[assignment]
        self.during: Optional[Callable[[], None]] = None  # what happens to the board meanwhile

    def switch(self, level: int) -> None:
        pass

    def run_for(self, seconds: float, fps: float = 0.0, max_inferences: object = None) -> List[float]:
        if self.during is not None:
            self.during()
        end = self.clock.t + seconds
        while self.clock.t + SAMPLE_S <= end:
            self.clock.t += SAMPLE_S
            self.measurements.sampler.sample()
        self.clock.t = end
        return [10.0] * max(1, int(seconds / 0.010))


def square_2_10(t: float) -> float:
    """2 W for 20 ms, 10 W for 20 ms, ... (mean 6 W)."""
    return 2.0 if int(t / 0.020) % 2 == 0 else 10.0


def _board(root: Path, clock: FakeClock, rail: fake.ScriptedRail,
           during: Optional[Callable[[], None]] = None) -> DynamicDNNEnv:
    platform = load_platform("jetson-xavier-nx")
    board = BoardModel(platform, load_scenario("steady"), period_s=1.0)
    runner = VirtualRunner(clock)
    runner.during = during
    m = Measurements([rail], platform, root, clock=clock, threaded=False)
    runner.measurements = m
    live = LiveBoard(platform, board.scenario, board=board, runner=runner, measurements=m,  # type: ignore[arg-type]
                     config={"sysfs_root": str(root), "handlers": False, "background": False})
    return DynamicDNNEnv(backend=live, episode_steps=50)


@pytest.mark.parametrize("phase", [0.0, 0.003, 0.0137])
def test_square_wave_rail_reads_its_mean_on_every_step(xavier: Path, phase: float) -> None:  # noqa: F811
    clock = FakeClock(phase)
    env = _board(xavier, clock, fake.ScriptedRail("VDD_IN", square_2_10, clock))
    try:
        env.reset(seed=0)
        powers, energies = [], []
        for _ in range(6):
            _, _, _, _, info = env.step(0)
            powers.append(info["power_w"])
            energies.append(info["result"]["energy_mj"])
            assert info["energy_estimated"] is False and info["sensor_fault"] is False
            assert info["result"].source("power_w") == "measured"
            assert info["result"].source("energy_mj") == "measured"
        assert info["measurement"]["power_samples"] >= 100 and info["measurement"]["power_max_gap_s"] < 0.02
        assert info["measurement"]["sources"]["power_w"] == "measured"
    finally:
        env.close()
    for p, e in zip(powers, energies):
        assert p == pytest.approx(6.0, abs=1.0)
        assert e == pytest.approx(6000.0, abs=1000.0)  # 1 s period: the integral, mJ


def test_one_read_per_period_would_not(xavier: Path) -> None:  # noqa: F811
    """The same rail read once per period (what the backend did before) is off by +-4 W: the
    test above can fail."""
    clock = FakeClock(0.0)
    rail = fake.ScriptedRail("VDD_IN", square_2_10, clock)
    once = [rail.read().value for clock.t in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)]
    assert all(abs(v - 6.0) > 1.0 for v in once)


def test_measured_utilisation_and_frequency_are_tagged(xavier: Path) -> None:  # noqa: F811
    """The fake /proc/stat says CPU 0-5 were 75 % busy; the fake GPU's load file says 40 %;
    frequencies are what the files read back, not what was asked."""
    clock = FakeClock(0.0)

    def meanwhile() -> None:  # while the model runs: busy CPUs, a loaded GPU, a throttled cluster
        fake.set_proc_stat(xavier, {c: (75, 25) for c in range(6)})
        fake.set_gpu_load(xavier, 400)
        for policy in (0, 2, 4):
            fake.set_cur_freq(xavier, 1113600, policy=policy)

    env = _board(xavier, clock, fake.ScriptedRail("VDD_IN", lambda t: 5.0, clock), during=meanwhile)
    try:
        env.reset(seed=0)
        fake.set_proc_stat(xavier, {c: (0, 0) for c in range(6)})
        env.sim.open()  # starts the measurements: the period begins here
        _, _, _, _, info = env.step(0)
    finally:
        env.close()
    result = info["result"]
    names = env.sim.unit_names
    util = dict(zip(names, result["utilisation"]))
    freq = dict(zip(names, result["freq_khz"]))
    kinds = {u.name: u.kind for u in env.sim.board.units}
    cpu = next(n for n in names if kinds[n] == "cpu")
    gpu = next(n for n in names if kinds[n] == "gpu")
    assert util[cpu] == pytest.approx(0.75) and util[gpu] == pytest.approx(0.40)
    assert freq[cpu] == 1113600
    assert result.source("utilisation") == "measured" and result.source("freq_khz") == "measured"
    assert env.sim.last_measurement["sources"]["utilisation"] == ["measured", "measured"]


def test_stalled_then_vanished_rail_falls_back_to_the_estimate(xavier: Path) -> None:  # noqa: F811
    """A rail that gives nothing for 300 ms of a step (stalled), then reads, then vanishes for
    good: the stalled and the vanished steps are the power model's estimate, flagged."""
    clock = FakeClock(0.0)

    def watts(t: float) -> object:
        if 1.3 <= t < 1.6 or t >= 3.5:
            return None
        return 6.0

    platform = load_platform("jetson-xavier-nx")
    board = BoardModel(platform, load_scenario("steady"), period_s=1.0)
    runner = VirtualRunner(clock)
    m = Measurements([fake.ScriptedRail("VDD_IN", watts, clock)], platform, xavier, clock=clock,
                     threaded=False, max_gap_s=0.2)
    runner.measurements = m
    live = LiveBoard(platform, board.scenario, board=board, runner=runner, measurements=m,  # type: ignore[arg-type]
                     config={"sysfs_root": str(xavier), "handlers": False, "background": False})
    env = DynamicDNNEnv(backend=live, episode_steps=50)
    flags = []
    try:
        env.reset(seed=0)
        for _ in range(5):
            _, _, _, _, info = env.step(0)
            flags.append((info["energy_estimated"], info["sensor_fault"]))
            if not info["energy_estimated"]:
                assert info["power_w"] == pytest.approx(6.0)
    finally:
        env.close()
    # [0,1] fine, [1,2] stalled, [2,3] fine, [3,4] gone from 3.5 on, [4,5] gone
    assert flags == [(False, False), (True, True), (False, False), (True, True), (True, True)]
    assert live.sensor_fault_steps == 3


def _overlap(a: List[Tuple[float, float]], b: List[Tuple[float, float]]) -> float:
    """Seconds during which an inference of ``a`` and one of ``b`` ran at the same time."""
    return sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b)


def test_two_models_run_at_the_same_time(xavier: Path, tmp_path: Path) -> None:  # noqa: F811
    """Two managed applications (the two-models scenario, the second joining at once): each runs
    in its own worker for the whole period and their inferences overlap in time."""
    text = (SCENARIOS_DIR / "two-models.toml").read_text().replace("start_s = 30", "start_s = 0")
    scenario = tmp_path / "two-models-now.toml"
    scenario.write_text(text)
    env = DynamicDNNEnv("jetson-xavier-nx", str(scenario), backend="live", period_s=0.3, episode_steps=5,
                        live={"sysfs_root": str(xavier), "handlers": False, "background": False,
                              "power_threaded": False})
    try:
        env.reset(seed=0)
        _, _, _, _, info = env.step(env.action_space.sample() * 0)
        live = env.sim
        first, second = live.runner, live.app_runners[1]
        assert first is not second and first.model is not second.model
        apps = info["result"]["apps"]
        assert len(apps) == 2 and all(a is not None and a["inferences"] >= 1 for a in apps)
        assert _overlap(first.intervals, second.intervals) > 0
    finally:
        env.close()


class _SleepRunner:
    """Sleeps 5 ms per "inference" and records the thread it ran in."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.thread = ""
        self.level = -1

    def switch(self, level: int) -> None:
        self.level = level

    def run_for(self, seconds: float, fps: float = 0.0) -> List[float]:
        import threading
        import time

        self.thread = threading.current_thread().name
        if self.fail:
            raise RuntimeError("model crashed")
        time.sleep(0.005)
        return [5.0]


def test_concurrent_apps_edge_cases() -> None:
    import threading

    from rlrm.live.apps import AppJob, ConcurrentApps

    apps = ConcurrentApps()
    assert apps.run([]) == []  # no active application this step
    one = _SleepRunner()
    assert apps.run([AppJob(one, 2, 0.01)]) == [[5.0]] and one.level == 2
    assert one.thread == threading.current_thread().name  # alone: in the caller's thread
    a, b = _SleepRunner(), _SleepRunner()
    assert apps.run([AppJob(a, 1, 0.01), AppJob(b, 3, 0.01)]) == [[5.0], [5.0]]
    assert {a.thread, b.thread} == {"rlrm-app-0", "rlrm-app-1"} and (a.level, b.level) == (1, 3)
    with pytest.raises(RuntimeError, match="model crashed"):  # a worker's error reaches the caller
        apps.run([AppJob(_SleepRunner(), 0, 0.01), AppJob(_SleepRunner(fail=True), 0, 0.01)])
    assert not [t for t in threading.enumerate() if t.name.startswith("rlrm-app-")]
