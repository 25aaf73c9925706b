"""A power sensor that vanishes or returns garbage mid-run: the live backend carries on with the
power model's estimate and flags it (a warning in the log, ``sensor_fault`` per step, in the
metrics and in TensorBoard), and goes back to the sensor when it reads again."""

from __future__ import annotations

import functools
import logging
import math
import shutil
from pathlib import Path

import pytest

from rlrm.cli import main
from rlrm.env import DynamicDNNEnv
from rlrm.live.board import LiveBoard, LiveConfig
from rlrm.metrics import MetricsAccumulator
from rlrm.paths import CHECKPOINTS_DIR

from tests.hw_support import board_dir, odroid, state_dir, xavier  # noqa: F401

IIO = "sys/bus/i2c/drivers/ina3221x/7-0040/iio:device0"
#: the fake Xavier's VDD_IN: in_power0_input = 5056 mV x 944 mA // 1000 mW
VDD_IN_W = 5056 * 944 // 1000 / 1000.0


def _live(root: Path) -> DynamicDNNEnv:
    return DynamicDNNEnv("jetson-xavier-nx", "steady", backend="live", period_s=0.1, episode_steps=50,
                         live={"sysfs_root": str(root), "handlers": False, "background": False,
                               "power_threaded": False})


def _faults(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "power sensor" in r.getMessage()]


def test_vanishing_and_garbled_sensor_falls_back_to_the_estimate_and_flags_it(
        xavier: Path, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.WARNING, logger="rlrm.live")
    dev = xavier / IIO
    env = _live(xavier)
    acc = MetricsAccumulator()
    flags: list[tuple[bool, bool]] = []
    powers: list[float] = []

    def step() -> dict:
        _, reward, _, _, info = env.step(0)
        acc.add(info["result"], reward)
        flags.append((info["energy_estimated"], info["sensor_fault"]))
        powers.append(info["power_w"])
        assert math.isfinite(reward) and math.isfinite(info["power_w"]) and info["power_w"] > 0
        return info

    try:
        env.reset(seed=0)
        step()
        assert powers[-1] == pytest.approx(VDD_IN_W)  # the input rail, not the sum of all rails
        # the sensor's directory vanishes (driver unbound, i2c error): estimate, one warning
        shutil.move(str(dev), str(xavier / "gone"))
        step()
        step()
        assert powers[-1] != pytest.approx(VDD_IN_W)
        warned = _faults(caplog)
        assert len(warned) == 1 and "VDD_IN" in warned[0] and "estimate" in warned[0]
        # it comes back with garbage in it: still the estimate, no second warning
        shutil.move(str(xavier / "gone"), str(dev))
        for garbage in ("garbage\n", "-5\n", "99999999999\n", ""):
            (dev / "in_power0_input").write_text(garbage)
            step()
        assert len(_faults(caplog)) == 1
        # it reads again: measured power, and the log says so
        (dev / "in_power0_input").write_text("4772\n")
        step()
        assert powers[-1] == pytest.approx(VDD_IN_W)
        assert any("read again" in m for m in _faults(caplog))
        # a rail that is not summed (VDD_SOC) going bad changes nothing
        (dev / "in_power2_input").write_text("nan\n")
        (dev / "in_voltage2_input").write_text("nan\n")
        step()
        assert powers[-1] == pytest.approx(VDD_IN_W)
    finally:
        env.close()
    assert flags == [(False, False)] + [(True, True)] * 6 + [(False, False)] * 2
    assert acc.summary()["sensor_fault_steps"] == 6


def test_board_without_sensors_is_estimated_but_not_a_fault(tmp_path: Path, state_dir: Path) -> None:  # noqa: F811
    env = _live(tmp_path / "no-board")
    try:
        env.reset(seed=0)
        _, _, _, _, info = env.step(0)
    finally:
        env.close()
    assert info["energy_estimated"] is True and info["sensor_fault"] is False
    sim = DynamicDNNEnv("jetson-xavier-nx", "steady")
    sim.reset(seed=0)
    _, _, _, _, info = sim.step(0)
    assert "sensor_fault" not in info  # the simulator has no sensors to lose
    acc = MetricsAccumulator()
    acc.add(info["result"])
    assert acc.summary()["sensor_fault_steps"] == 0


def test_rlrm_run_flags_a_sensor_lost_mid_run(xavier: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
                                              capsys: pytest.CaptureFixture,
                                              caplog: pytest.LogCaptureFixture) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    caplog.set_level(logging.WARNING, logger="rlrm.live")
    original = LiveBoard.step

    def step_then_unplug(self: LiveBoard, points: list) -> dict:
        result = original(self, points)
        if self.step_index == 2:  # after the second step the sensor disappears for good
            shutil.rmtree(xavier / IIO)
        return result

    monkeypatch.setattr(LiveBoard, "step", step_then_unplug)
    # one read per period: the sensor goes between two steps, not within one
    monkeypatch.setattr("rlrm.live.cli.LiveConfig", functools.partial(LiveConfig, power_threaded=False))
    code = main(["run", "--platform", "jetson-xavier-nx", "--policy", str(CHECKPOINTS_DIR / "jetson-xavier-nx-ppo"),
                 "--scenario", "steady", "--duration", "0.6s", "--period", "0.1", "--no-background",
                 "--logdir", str(tmp_path / "runs"), "--run-name", "live", "--sysfs-root", str(xavier),
                 "--json", str(tmp_path / "run.json")])
    out = capsys.readouterr().out
    assert code == 0
    assert "power sensors failed on 4 of 6 steps" in out
    assert "(energy estimated from the profile's power model)" not in out  # two steps were measured
    assert len(_faults(caplog)) == 1
    acc = EventAccumulator(str(tmp_path / "runs" / "live"))
    acc.Reload()
    assert [e.value for e in acc.Scalars("step/sensor_fault")] == [0, 0, 1, 1, 1, 1]
    assert [e.value for e in acc.Scalars("step/energy_estimated")] == [0, 0, 1, 1, 1, 1]
    assert [e.value for e in acc.Scalars("episode/sensor_fault_steps")] == [4]
    assert '"sensor_fault_steps": 4' in (tmp_path / "run.json").read_text()


def test_odroid_board_power_is_base_plus_unit_rails_then_estimate(odroid: Path,  # noqa: F811
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """No input rail: the A15, A7 and GPU rails replace the model's unit power, the rest of the
    board (MEM included) is the profile's base, so live power means what simulated power means."""
    from rlrm.platform import load_platform

    caplog.set_level(logging.WARNING, logger="rlrm.live")
    base = load_platform("odroid-xu3").base_power_w
    env = DynamicDNNEnv("odroid-xu3", "steady", backend="live", period_s=0.1, episode_steps=10,
                        live={"sysfs_root": str(odroid), "handlers": False, "background": False,
                              "power_threaded": False})
    try:
        env.reset(seed=0)
        _, _, _, _, info = env.step(0)
        assert info["power_w"] == pytest.approx(base + 1.210 + 0.150 + 0.080)  # A15 + GPU + A7 (fake values)
        (odroid / "sys/bus/i2c/drivers/INA231/3-0044/sensor_W").write_text("-1\n")  # the GPU rail garbles
        _, _, _, _, info = env.step(0)
        model = base + sum(info["result"]["unit_power_w"])
        assert info["sensor_fault"] is True and info["power_w"] == pytest.approx(model)
    finally:
        env.close()
    assert len(_faults(caplog)) == 1 and "GPU" in _faults(caplog)[0]
