"""Measured observations: CPU utilisation from /proc/stat deltas, GPU load, frequencies read back."""

from __future__ import annotations

import pytest

from rlrm.hw.fake import (make_fake_odroid_xu3, make_fake_xavier_nx, set_cur_freq, set_devfreq_cur_freq,
                          set_gpu_load, set_proc_stat)
from rlrm.hw.observe import MEASURED, MODELLED, UnitObserver, UnitProbe, tag
from rlrm.platform.profile import load_platform


def _xavier(tmp_path):
    root = make_fake_xavier_nx(tmp_path / "nx")
    set_proc_stat(root, {c: (0, 0) for c in range(6)})
    return root, UnitObserver.from_platform(load_platform("jetson-xavier-nx"), root)


def test_probes_from_the_profile(tmp_path) -> None:
    _, obs = _xavier(tmp_path)
    kinds = {p.name: p for p in obs.probes}
    cpu = next(p for p in kinds.values() if p.kind == "cpu")
    assert set(cpu.cpus) == set(range(6)) and len(cpu.policies) == 3
    gpu = next(p for p in kinds.values() if p.kind == "gpu")
    assert gpu.devfreq


def test_utilisation_from_proc_stat_sequence(tmp_path) -> None:
    root, obs = _xavier(tmp_path)
    # cpu0-2 fully busy, cpu3-5 idle for 100 jiffies: half the unit
    set_proc_stat(root, {c: (100, 0) if c < 3 else (0, 100) for c in range(6)})
    cpu = next(p.name for p in obs.probes if p.kind == "cpu")
    assert obs.sample()[cpu].util == pytest.approx(0.5)
    # then everything busy a quarter of the time
    set_proc_stat(root, {c: (125, 75) if c < 3 else (25, 175) for c in range(6)})
    assert obs.sample()[cpu].util == pytest.approx(0.25)
    # nothing elapsed: 0, not a division by zero
    assert obs.sample()[cpu].util == 0.0


def test_offline_cpus_drop_out(tmp_path) -> None:
    root, _ = _xavier(tmp_path)
    obs = UnitObserver([UnitProbe("big", "cpu", cpus=(4, 5))], root)
    set_proc_stat(root, {0: (50, 50), 1: (0, 100)})  # cpu4-5 went offline
    r = obs.sample()["big"]
    assert r.util is None and "online" in r.problems[0]


def test_gpu_load_and_frequency_read_back(tmp_path) -> None:
    root, obs = _xavier(tmp_path)
    gpu = next(p.name for p in obs.probes if p.kind == "gpu")
    set_gpu_load(root, 734)
    set_devfreq_cur_freq(root, 599250000)
    r = obs.sample()[gpu]
    assert r.util == pytest.approx(0.734) and r.freq_khz == 599250
    set_gpu_load(root, 0)
    assert obs.sample()[gpu].util == 0.0


def test_cpu_frequency_read_back(tmp_path) -> None:
    root, obs = _xavier(tmp_path)
    cpu = next(p.name for p in obs.probes if p.kind == "cpu")
    assert obs.sample()[cpu].freq_khz == 1420800
    for policy in (0, 2, 4):
        set_cur_freq(root, 729600, policy)
    assert obs.sample()[cpu].freq_khz == 729600


def test_missing_files_are_problems_not_errors(tmp_path) -> None:
    root = make_fake_odroid_xu3(tmp_path / "xu3")  # no GPU load file on a Mali
    obs = UnitObserver([UnitProbe("gpu", "gpu", devfreq=("sys/class/devfreq/11800000.gpu",)),
                        UnitProbe("a15", "cpu", cpus=(4, 5, 6, 7), policies=("sys/nowhere",))], root)
    out = obs.sample()
    assert out["gpu"].util is None and out["gpu"].freq_khz == 177000
    assert any("load" in p for p in out["gpu"].problems)
    assert out["a15"].freq_khz is None and out["a15"].problems
    (root / "proc/stat").write_text("garbage\n")
    out = obs.sample()
    assert out["a15"].util is None and "stat" in out["a15"].problems[0]


def test_tag_says_where_a_value_came_from() -> None:
    assert tag(0.3, 0.5).source == MEASURED and tag(0.3, 0.5).value == 0.3
    t = tag(None, 0.5, "no load file")
    assert t.source == MODELLED and t.value == 0.5 and t.as_dict()["problem"] == "no load file"
