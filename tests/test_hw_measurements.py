"""Measurements: power integrated per period plus utilisation / frequency read back, each tagged."""

from __future__ import annotations

import pytest

from rlrm.hw import power
from rlrm.hw.fake import make_fake_xavier_nx, set_gpu_load, set_proc_stat, set_xavier_nx_rail
from rlrm.hw.measurements import MeasuredPeriod, Measurements
from rlrm.hw.sysfs import Sysfs
from rlrm.platform.profile import load_platform


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_one_period_measured_and_tagged(tmp_path) -> None:
    root = make_fake_xavier_nx(tmp_path / "nx")
    set_proc_stat(root, {c: (0, 0) for c in range(6)})
    plat = load_platform("jetson-xavier-nx")
    clock = FakeClock()
    m = Measurements(power.auto_discover(Sysfs(root)), plat, root, rails=["VDD_IN"], clock=clock)
    m.sampler.sample()
    m.restart()
    for i in range(100):  # 1 s of 2 W / 10 W every 20 ms, sampled every 10 ms
        set_xavier_nx_rail(root, "VDD_IN", 2.0 if (i // 2) % 2 == 0 else 10.0)
        clock.t += 0.01
        m.sampler.sample()
    set_proc_stat(root, {c: (30, 70) for c in range(6)})
    set_gpu_load(root, 500)
    period = m.period()
    assert abs(period.readings()["VDD_IN"].value - 6.0) <= 1.0
    names = list(plat.units)
    util = period.utilisation(names, [0.5] * len(names))
    freqs = period.freq_khz(names, [1.0] * len(names))
    cpu, gpu = names.index(next(n for n, u in plat.units.items() if u.kind == "cpu")), \
        names.index(next(n for n, u in plat.units.items() if u.kind == "gpu"))
    assert util[cpu].value == pytest.approx(0.3) and util[cpu].source == "measured"
    assert util[gpu].value == pytest.approx(0.5) and util[gpu].source == "measured"
    assert freqs[cpu].value == 1420800 and freqs[gpu].source == "measured"
    assert MeasuredPeriod.field_source(util) == "measured"
    info = MeasuredPeriod.sources(True, utilisation=util, freq_khz=freqs)
    assert info == {"power_w": "measured", "utilisation": ["measured"] * len(names),
                    "freq_khz": ["measured"] * len(names)}
    m.stop()


def test_unreadable_values_fall_back_to_the_model(tmp_path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    plat = load_platform("jetson-xavier-nx")
    m = Measurements([], plat, root, clock=FakeClock()).start()
    period = m.period()
    names = list(plat.units)
    util = period.utilisation(names, [0.25] * len(names))
    assert all(t.source == "modelled" and t.value == 0.25 and t.problem for t in util)
    assert MeasuredPeriod.field_source(util) == "modelled"
    assert period.readings() == {}
    m.stop()


def test_unthreaded_reads_once_per_period(tmp_path) -> None:
    """threaded=False: one read at the end of each period, so a rail rewritten between steps
    is seen exactly then (deterministic tests of the fallback)."""
    root = make_fake_xavier_nx(tmp_path / "nx")
    clock = FakeClock()
    m = Measurements(power.auto_discover(Sysfs(root)), load_platform("jetson-xavier-nx"), root, clock=clock,
                     threaded=False).start()
    assert not m.sampler.running
    clock.t += 0.05
    assert m.period().power.rails["VDD_IN"].samples == 1
    set_xavier_nx_rail(root, "VDD_IN", None)
    clock.t += 0.05
    assert m.period().readings()["VDD_IN"].missing
    set_xavier_nx_rail(root, "VDD_IN", 4.0)
    clock.t += 0.05
    assert m.period().readings()["VDD_IN"].value == pytest.approx(4.0)
