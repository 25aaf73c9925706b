"""HardwareActuator: control on the fake boards, byte-for-byte restore, observe-only mode."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

import pytest

from rlrm.errors import InputError
from rlrm.hw import fake
from rlrm.hw.actuator import HardwareActuator
from rlrm.hw.state import SysfsWriteError
from tests.hw_support import board_dir, CPU, ODROID_GPU, XAVIER_GPU, inject, odroid, state_dir, strict, text, xavier  # noqa: F401


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_xavier_round_trip_is_byte_for_byte(xavier: Path, strict: None, state_dir: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    before = fake.snapshot_tree(xavier)
    affinity = os.sched_getaffinity(0)
    with HardwareActuator(xavier, use_torch=False) as hw:
        assert [p.name for p in hw.clusters] == ["policy0", "policy2", "policy4"]
        assert hw.set_cpu_frequency(0, 652800) is True
        assert hw.set_cpu_frequency("policy4", 1907200) is True
        assert hw.set_gpu_frequency(510000) is True
        assert hw.set_cores(1) == [0]
        assert text(xavier, f"{CPU}/policy0/scaling_max_freq") == "652800\n"
        assert text(xavier, f"{CPU}/policy4/scaling_min_freq") == "1907200\n"
        assert text(xavier, f"{XAVIER_GPU}/min_freq") == "510000000\n" == text(xavier, f"{XAVIER_GPU}/max_freq")
        assert hw.statefile.exists() and hw.statefile.parent == state_dir
        assert hw.read_power()["VDD_IN"].value == pytest.approx(4.772)
        assert hw.read_temperatures()["GPU-therm"].value == pytest.approx(37.0)
    assert fake.snapshot_tree(xavier) == before
    assert not hw.statefile.exists() and os.sched_getaffinity(0) == affinity
    assert _warnings(caplog) == []


def test_odroid_sensors_enabled_then_disabled_again(odroid: Path, strict: None) -> None:
    before = fake.snapshot_tree(odroid)
    with HardwareActuator(odroid, use_torch=False) as hw:
        assert text(odroid, "sys/bus/i2c/drivers/INA231/3-0044/enable") == "1\n"
        power = hw.read_power()
        assert power["A15"].value == pytest.approx(1.21) and power["GPU"].value == pytest.approx(0.15)
        hw.set_cpu_frequency(1, 1800000)
        hw.set_gpu_frequency(600000)
        assert text(odroid, f"{ODROID_GPU}/max_freq") == "600000000\n"
    assert fake.snapshot_tree(odroid) == before


def test_userspace_method_round_trip(odroid: Path, strict: None) -> None:
    before = fake.snapshot_tree(odroid)
    with HardwareActuator(odroid, cpu_method="userspace", use_torch=False) as hw:
        hw.set_cpu_frequency(0, 600000)
        assert text(odroid, f"{CPU}/policy0/scaling_governor") == "userspace\n"
        assert text(odroid, f"{CPU}/policy0/scaling_setspeed") == "600000\n"
    assert fake.snapshot_tree(odroid) == before


def test_exception_inside_the_block_restores(xavier: Path, strict: None) -> None:
    before = fake.snapshot_tree(xavier)
    with pytest.raises(KeyboardInterrupt):
        with HardwareActuator(xavier, use_torch=False) as hw:
            hw.set_gpu_frequency(1109250)
            raise KeyboardInterrupt
    assert fake.snapshot_tree(xavier) == before


def test_refused_write_mid_run_restores_and_raises(xavier: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = fake.snapshot_tree(xavier)
    with HardwareActuator(xavier, use_torch=False) as hw:
        hw.set_cpu_frequency(1, 960000)
        inject(monkeypatch, "/max_freq", errno.EBUSY)
        with pytest.raises(SysfsWriteError, match="EBUSY") as info:
            hw.set_gpu_frequency(510000)
        assert "17000000.gv11b/max_freq" in info.value.source
        assert fake.snapshot_tree(xavier) == before  # already restored, before leaving the block


def test_no_permission_means_observe_only_with_one_warning(xavier: Path, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if mode & os.W_OK and str(xavier) in str(p)
                        else real_access(p, mode))
    written = inject(monkeypatch, "never", 0)
    with HardwareActuator(xavier, use_torch=False) as hw:
        assert hw.observe_only
        assert hw.set_cpu_frequency(0, 652800) is False
        assert hw.set_gpu_frequency(510000) is False
        with pytest.raises(InputError):
            hw.set_cpu_frequency(0, 652801)  # still validated
        assert hw.set_cores(1) == [0]  # core counts still chosen
        assert not hw.statefile.exists()
    assert written == []
    warnings = _warnings(caplog)
    assert len(warnings) == 1
    assert "observe-only" in warnings[0] and "no permission" in warnings[0] and "core counts" in warnings[0]


def test_missing_files_mean_observe_only(tmp_path: Path, state_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    with HardwareActuator(tmp_path, use_torch=False) as hw:
        assert hw.observe_only and hw.clusters == [] and hw.gpu is None
        assert hw.set_gpu_frequency(510000) is False
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and "no cpufreq policy" in warnings[0] and "no GPU devfreq node" in warnings[0]


def test_cpu_control_without_gpu_node(xavier: Path, caplog: pytest.LogCaptureFixture) -> None:
    (xavier / "sys/class/devfreq/17000000.gv11b").unlink()
    before = fake.snapshot_tree(xavier)
    with HardwareActuator(xavier, use_torch=False) as hw:
        assert not hw.observe_only and hw.can_control_cpu and not hw.can_control_gpu
        assert hw.set_gpu_frequency(510000) is False
        assert hw.set_cpu_frequency(2, 115200) is True
    assert fake.snapshot_tree(xavier) == before
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and warnings[0].count("GPU frequency") == 1 and "CPU frequency" not in warnings[0]


def test_requested_observe_only_writes_nothing_not_even_sensor_enables(odroid: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    before = fake.snapshot_tree(odroid)
    with HardwareActuator(odroid, observe_only=True, use_torch=False) as hw:
        assert hw.set_cpu_frequency(0, 1400000) is False
        assert hw.read_power()["A7"].missing
    assert fake.snapshot_tree(odroid) == before and _warnings(caplog) == []


def test_stale_state_file_of_a_killed_run_is_pointed_out(xavier: Path, state_dir: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    dead = state_dir / "rlrm-hw-state-999999999.json"
    dead.write_text("{}")
    with HardwareActuator(xavier, use_torch=False):
        pass
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and f"rlrm restore {dead}" in warnings[0]


def test_cores_on_a_cluster(odroid: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = {"cpus": set(range(8))}
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(state["cpus"]))
    monkeypatch.setattr(os, "sched_setaffinity", lambda pid, cpus: state.update(cpus=set(cpus)))
    with HardwareActuator(odroid, use_torch=False) as hw:
        assert hw.set_cores(2, cluster="policy4") == [4, 5]
        assert state["cpus"] == {4, 5}
        with pytest.raises(ValueError):
            hw.set_cores(5, cluster=0)
    assert state["cpus"] == set(range(8))


def test_garbage_found_at_open_is_an_input_error_and_nothing_is_written(odroid: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    written = inject(monkeypatch, "never", 0)
    (odroid / f"{CPU}/policy4/cpuinfo_max_freq").write_text("2 GHz\n")
    with pytest.raises(InputError) as info:
        HardwareActuator(odroid).open()
    assert info.value.source == str(odroid / f"{CPU}/policy4/cpuinfo_max_freq")
    assert written == []


def test_not_opened_is_a_clear_error(xavier: Path) -> None:
    hw = HardwareActuator(xavier)
    with pytest.raises(RuntimeError, match="not open"):
        hw.set_gpu_frequency(510000)


def test_odroid_without_permission_warns_once_about_frequencies_and_sensors(
        odroid: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if mode & os.W_OK and str(odroid) in str(p)
                        else real_access(p, mode))
    before = fake.snapshot_tree(odroid)
    with HardwareActuator(odroid, use_torch=False) as hw:
        assert hw.read_power()["A15"].missing
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and "CPU frequency" in warnings[0] and "INA231 sensor(s) A15, MEM, GPU, A7" in warnings[0]
    assert fake.snapshot_tree(odroid) == before
