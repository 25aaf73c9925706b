"""Power sensors: every layout, INA231 enable, RAPL wrap-around, vanishing and garbage sensors."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlrm.errors import InputError
from rlrm.hw import fake
from rlrm.hw.power import (GenericHwmon, Ina231, Ina3221Hwmon, Ina3221Iio, Rapl, auto_discover, make_reader,
                           read_all)
from rlrm.hw.sysfs import Sysfs
from tests.hw_support import board_dir, odroid, state_dir, xavier  # noqa: F401

IIO = "sys/bus/i2c/drivers/ina3221x/7-0040/iio:device0"


def test_ina3221_iio_rails(xavier: Path) -> None:
    readers = auto_discover(xavier)
    assert [(type(r), r.name, r.channel) for r in readers] == [
        (Ina3221Iio, "VDD_IN", 0), (Ina3221Iio, "VDD_CPU_GPU_CV", 1), (Ina3221Iio, "VDD_SOC", 2)]
    readings = read_all(readers)
    assert readings["VDD_IN"].value == pytest.approx(4.772)
    assert not readings["VDD_IN"].missing and readings["VDD_IN"].unit == "W"


def test_ina3221_iio_without_power_file_uses_voltage_times_current(xavier: Path) -> None:
    (xavier / IIO / "in_power0_input").unlink()
    assert auto_discover(xavier)[0].read().value == pytest.approx(5056 * 944 / 1e6)


def test_ina3221_hwmon_rails(board_dir: Path) -> None:
    root = fake.make_fake_xavier_nx(board_dir, power_layout="hwmon")
    readers = auto_discover(root)  # the class/hwmon link to the same chip is not counted twice
    assert [(type(r), r.name) for r in readers] == [
        (Ina3221Hwmon, "VDD_IN"), (Ina3221Hwmon, "VDD_CPU_GPU_CV"), (Ina3221Hwmon, "VDD_SOC")]
    assert readers[0].read().value == pytest.approx(5056 * 944 / 1e6)


def test_ina231_reports_missing_until_enabled(odroid: Path) -> None:
    fs = Sysfs(odroid)
    readers = auto_discover(fs)
    assert [(type(r), r.name) for r in readers] == [(Ina231, "A15"), (Ina231, "MEM"), (Ina231, "GPU"), (Ina231, "A7")]
    first = readers[0].read()
    assert first.missing and "enable is 0" in first.problem and "3-0040/enable" in first.problem
    assert readers[0].enable(fs) is True and readers[0].enable(fs) is False
    assert (odroid / "sys/bus/i2c/drivers/INA231/3-0040/enable").read_text() == "1\n"
    assert readers[0].read().value == pytest.approx(1.21)


def _rapl(root: Path, energy: int, top: int = 262143328850) -> None:
    zone = root / "sys/devices/virtual/powercap/intel-rapl/intel-rapl:0"
    zone.mkdir(parents=True, exist_ok=True)
    (zone / "name").write_text("package-0\n")
    (zone / "energy_uj").write_text(f"{energy}\n")
    (zone / "max_energy_range_uj").write_text(f"{top}\n")
    link = root / "sys/class/powercap/intel-rapl:0"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("../../devices/virtual/powercap/intel-rapl/intel-rapl:0")


def test_rapl_power_and_wrap_around(tmp_path: Path) -> None:
    top = 1_000_000_000
    _rapl(tmp_path, top - 2_000_000, top)
    clock = iter([0.0, 1.0, 2.0, 3.0]).__next__
    r = Rapl(Sysfs(tmp_path), "package-0", "sys/class/powercap/intel-rapl:0", clock=clock)  # primes at t=0
    _rapl(tmp_path, top - 1_000_000, top)
    assert r.read().value == pytest.approx(1.0)  # 1 J in 1 s
    _rapl(tmp_path, 4_000_000, top)  # wrapped: 1 J to the top, then 4 J
    assert r.read().value == pytest.approx(5.0)
    _rapl(tmp_path, top + 5, top)  # above the range: garbage
    bad = r.read()
    assert bad.missing and "energy_uj" in bad.problem


def test_rapl_discovered_with_subzone_names(tmp_path: Path) -> None:
    _rapl(tmp_path, 100)
    sub = tmp_path / "sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/intel-rapl:0:0"
    sub.mkdir()
    (sub / "name").write_text("core\n")
    (sub / "energy_uj").write_text("5\n")
    (sub / "max_energy_range_uj").write_text("262143328850\n")
    (tmp_path / "sys/class/powercap/intel-rapl:0:0").symlink_to(
        "../../devices/virtual/powercap/intel-rapl/intel-rapl:0/intel-rapl:0:0")
    readers = auto_discover(tmp_path)
    assert [r.name for r in readers] == ["package-0", "package-0/core"]


def test_generic_hwmon_power(tmp_path: Path) -> None:
    dev = tmp_path / "sys/class/hwmon/hwmon3"
    dev.mkdir(parents=True)
    (dev / "name").write_text("some_pmic\n")
    (dev / "power1_input").write_text("2500000\n")
    (dev / "power1_label").write_text("vdd_gpu\n")
    (dev / "power2_average").write_text("1000000\n")
    readers = auto_discover(tmp_path)
    assert [(type(r), r.name) for r in readers] == [(GenericHwmon, "some_pmic/vdd_gpu"),
                                                    (GenericHwmon, "some_pmic/power2")]
    assert [r.read().value for r in readers] == [pytest.approx(2.5), pytest.approx(1.0)]


def test_sensor_vanishing_mid_run_is_reported_missing(xavier: Path) -> None:
    readers = auto_discover(xavier)
    assert not readers[1].read().missing
    (xavier / IIO / "in_power1_input").unlink()
    (xavier / IIO / "in_voltage1_input").unlink()
    gone = readers[1].read()
    assert gone.missing and gone.value is None and "in_voltage1_input" in gone.problem
    assert not readers[0].read().missing  # the other rails keep working


@pytest.mark.parametrize("garbage", ["abc\n", "-40\n", "99999999999\n", "", "\x00\x00"])
def test_sensor_garbage_mid_run_is_reported_missing(xavier: Path, garbage: str) -> None:
    readers = auto_discover(xavier)
    (xavier / IIO / "in_power0_input").write_text(garbage)
    bad = readers[0].read()
    assert bad.missing and str(xavier / IIO / "in_power0_input") in bad.problem


def test_ina231_garbage_is_missing(odroid: Path) -> None:
    fs = Sysfs(odroid)
    r = auto_discover(fs)[3]
    r.enable(fs)
    (odroid / "sys/bus/i2c/drivers/INA231/3-0045/sensor_W").write_text("nan\n")
    assert r.read().missing and "sensor_W" in r.read().problem


def test_make_reader_for_profile_entry_needs_the_directory(xavier: Path) -> None:
    fs = Sysfs(xavier)
    r = make_reader(fs, "ina3221-iio", "/sys/bus/i2c/drivers/nope|/" + IIO, channel=2, name="VDD_SOC")
    assert r.read().value == pytest.approx(1.413)
    with pytest.raises(InputError, match="no such sensor directory"):
        make_reader(fs, "ina231", "/sys/bus/i2c/drivers/INA231/3-0040")
