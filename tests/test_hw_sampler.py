"""The power sampler: trapezoid integration per period, gaps, stalls, vanishing rails."""

from __future__ import annotations

import threading
import time

import pytest

from rlrm.hw import power
from rlrm.hw.fake import ScriptedRail, make_fake_xavier_nx, set_xavier_nx_rail
from rlrm.hw.sampler import PowerSampler
from rlrm.hw.sysfs import Reading, Sysfs


class FakeClock:
    """Seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def square(t: float) -> float:
    """2 W / 10 W alternating every 20 ms (mean 6 W)."""
    return 2.0 if int(round(t * 1e6)) // 20_000 % 2 == 0 else 10.0


def run(sampler: PowerSampler, clock: FakeClock, seconds: float, dt: float = 0.008) -> None:
    end = clock.t + seconds
    while clock.t + dt <= end + 1e-12:
        clock.t += dt
        sampler.sample()
    clock.t = end


def test_square_wave_reads_mean_every_period() -> None:
    clock = FakeClock()
    rail = ScriptedRail("VDD_IN", square, clock)
    sampler = PowerSampler(lambda: {"VDD_IN": rail.read()}, clock=clock)
    sampler.sample()
    sampler.restart_period()
    for _ in range(6):
        run(sampler, clock, 1.0)
        period = sampler.take()
        r = period.rails["VDD_IN"]
        assert r.usable
        assert abs(r.mean_w - 6.0) <= 1.0, r
        assert abs(r.energy_j - 6.0) <= 1.0
        assert 120 <= r.samples <= 126 and r.missing == 0
        assert r.max_gap_s == pytest.approx(0.008, abs=1e-9)
        assert period.readings()["VDD_IN"].value == r.mean_w
        assert period.energy_j() == r.energy_j


def test_one_sample_per_period_is_what_it_replaces() -> None:
    """The old way (one read per period) reads 2 W or 10 W; the integral reads 6 W."""
    clock = FakeClock()
    rail = ScriptedRail("VDD_IN", square, clock)
    one_shot = [rail.read().value for clock.t in (1.0, 2.0, 3.02)]
    assert set(one_shot) <= {2.0, 10.0}


def test_trapezoid_of_a_ramp_is_exact() -> None:
    clock = FakeClock()
    sampler = PowerSampler(lambda: {"r": Reading("r", 5.0 + clock.t, "W")}, clock=clock)
    sampler.sample()
    sampler.restart_period()
    run(sampler, clock, 1.0, dt=0.01)
    first = sampler.take().rails["r"]
    # exact but for the boundary segment, taken at its end value (0.5 * 1 W/s * 0.01 s * 0.01 s)
    assert first.energy_j == pytest.approx(5.5, abs=1e-4)
    run(sampler, clock, 1.0, dt=0.01)
    assert sampler.take().rails["r"].energy_j == pytest.approx(6.5, abs=1e-4)


def test_short_gap_is_bridged_and_reported() -> None:
    clock = FakeClock()
    gone = lambda t: 0.3 <= t < 0.35  # noqa: E731
    sampler = PowerSampler(lambda: {"r": Reading("r", None if gone(clock.t) else 4.0, "W", "r: gone")}, clock=clock)
    sampler.sample()
    sampler.restart_period()
    run(sampler, clock, 1.0)
    r = sampler.take().rails["r"]
    assert r.usable and r.mean_w == pytest.approx(4.0)
    assert r.missing == 6 and r.max_gap_s > 0.05


def test_vanished_rail_is_missing_then_returns() -> None:
    clock = FakeClock()
    state = {"on": True}
    sampler = PowerSampler(lambda: {"r": Reading("r", 3.0 if state["on"] else None, "W", "f: No such file")},
                           clock=clock)
    sampler.sample()
    sampler.restart_period()
    run(sampler, clock, 1.0)
    assert sampler.take().rails["r"].usable
    state["on"] = False
    run(sampler, clock, 1.0)
    r = sampler.take().rails["r"]
    assert not r.usable and "No such file" in r.problem and r.samples == 0
    assert sampler.take().readings()["r"].missing
    state["on"] = True
    run(sampler, clock, 1.0)
    sampler.take()  # the first period back starts with a gap
    run(sampler, clock, 1.0)
    assert sampler.take().rails["r"].usable


def test_garbage_is_missing() -> None:
    clock = FakeClock()
    sampler = PowerSampler(lambda: {"r": Reading("r", float("nan"), "W")}, clock=clock)
    run(sampler, clock, 0.5)
    r = sampler.take().rails["r"]
    assert not r.usable and r.mean_w is None


def test_stalled_sensor_is_a_fault() -> None:
    """A read that stops returning leaves a gap longer than max_gap_s: the rail is missing."""
    clock = FakeClock()
    sampler = PowerSampler(lambda: {"r": Reading("r", 5.0, "W")}, clock=clock)
    sampler.sample()
    sampler.restart_period()
    run(sampler, clock, 0.4)
    clock.t += 0.6  # nothing sampled: the read is blocked
    r = sampler.take().rails["r"]
    assert not r.usable and "stalled" in r.problem
    assert r.max_gap_s == pytest.approx(0.6, abs=0.01)


def test_frozen_value_is_flagged_only_when_asked() -> None:
    clock = FakeClock()
    for frozen, usable in ((None, True), (0.5, False)):
        sampler = PowerSampler(lambda: {"r": Reading("r", 5.0, "W")}, clock=clock, frozen_after_s=frozen)
        run(sampler, clock, 1.0)
        assert sampler.take().rails["r"].usable is usable


def test_reader_exception_does_not_kill_sampling() -> None:
    clock = FakeClock()
    calls = {"n": 0}

    def read():
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("bus error")
        return {"r": Reading("r", 1.0, "W")}

    sampler = PowerSampler(read, clock=clock)
    run(sampler, clock, 0.5)
    assert sampler.errors == 1 and sampler.take().rails["r"].usable


def test_fake_xavier_rail_rewritten_over_time(tmp_path) -> None:
    root = make_fake_xavier_nx(tmp_path / "b")
    readers = power.auto_discover(Sysfs(root))
    clock = FakeClock()
    sampler = PowerSampler.from_readers(readers, clock=clock)
    for i in range(100):
        set_xavier_nx_rail(root, "VDD_IN", 2.0 if (i // 2) % 2 == 0 else 10.0)
        clock.t += 0.01
        sampler.sample()
    r = sampler.take().rails["VDD_IN"]
    assert abs(r.mean_w - 6.0) <= 1.0
    set_xavier_nx_rail(root, "VDD_IN", None)
    run(sampler, clock, 0.5)
    r = sampler.take().rails["VDD_IN"]
    assert not r.usable and "in_" in r.problem


def test_thread_samples_and_stops(tmp_path) -> None:
    """The thread runs, takes samples and is gone after stop (no timing asserted)."""
    root = make_fake_xavier_nx(tmp_path / "b")
    sampler = PowerSampler.from_readers(power.auto_discover(Sysfs(root)), rate_hz=200)
    with sampler:
        assert sampler.running
        deadline = time.monotonic() + 10
        while sampler.reads < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert not sampler.running
    assert not [t for t in threading.enumerate() if t.name == "rlrm-power-sampler"]
    period = sampler.take()
    assert period.rails["VDD_IN"].samples >= 2
    assert period.readings()["VDD_IN"].value == pytest.approx(5.056 * 0.944, rel=1e-3)


def test_rate_is_validated() -> None:
    with pytest.raises(ValueError, match="Hz"):
        PowerSampler(lambda: {}, rate_hz=0)


def test_from_readers_keeps_only_the_rails_asked_for(tmp_path) -> None:
    root = make_fake_xavier_nx(tmp_path / "b")
    clock = FakeClock()
    sampler = PowerSampler.from_readers(power.auto_discover(Sysfs(root)), rails=["VDD_IN"], clock=clock)
    run(sampler, clock, 0.1)
    assert list(sampler.take().rails) == ["VDD_IN"]


def test_short_period_with_only_failed_reads_is_missing() -> None:
    """Shorter than max_gap_s, but every read failed: missing (one failed read is a fault today)."""
    clock = FakeClock()
    state = {"on": True}
    sampler = PowerSampler(lambda: {"r": Reading("r", 3.0 if state["on"] else None, "W", "f: gone")}, clock=clock)
    run(sampler, clock, 0.05)
    assert sampler.take().rails["r"].usable
    state["on"] = False
    run(sampler, clock, 0.05)
    r = sampler.take().rails["r"]
    assert r.max_gap_s < sampler.max_gap_s and not r.usable and r.problem == "f: gone"
    state["on"] = True
    run(sampler, clock, 0.05)
    assert sampler.take().rails["r"].usable
