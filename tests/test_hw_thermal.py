"""Thermal zones and per-CPU utilisation."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlrm.errors import InputError
from rlrm.hw.thermal import discover_thermal_zones, read_temperatures
from rlrm.hw.utilisation import CpuUtilisation, busy_fraction
from tests.hw_support import board_dir, odroid, state_dir, xavier  # noqa: F401


def test_xavier_zones_in_degrees(xavier: Path) -> None:
    temps = read_temperatures(discover_thermal_zones(xavier))
    assert list(temps) == ["CPU-therm", "GPU-therm", "AUX-therm", "AO-therm", "PMIC-Die", "thermal-fan-est"]
    assert temps["CPU-therm"].value == pytest.approx(38.5) and temps["CPU-therm"].unit == "C"


def test_zone_garbage_or_vanished_is_missing(odroid: Path) -> None:
    zones = discover_thermal_zones(odroid)
    (odroid / "sys/devices/virtual/thermal/thermal_zone4/temp").write_text("hot\n")
    (odroid / "sys/devices/virtual/thermal/thermal_zone0/temp").unlink()
    temps = read_temperatures(zones)
    assert temps["gpu-thermal"].missing and "thermal_zone4/temp" in temps["gpu-thermal"].problem
    assert temps["cpu0-thermal"].missing and "thermal_zone0/temp" in temps["cpu0-thermal"].problem
    assert temps["cpu1-thermal"].value == pytest.approx(46.0)


def test_duplicate_zone_types_get_distinct_names(odroid: Path) -> None:
    (odroid / "sys/devices/virtual/thermal/thermal_zone1/type").write_text("cpu0-thermal\n")
    names = [z.name for z in discover_thermal_zones(odroid)]
    assert names[:2] == ["cpu0-thermal@thermal_zone0", "cpu0-thermal@thermal_zone1"]


def _stat(root: Path, rows: dict[int, tuple[int, int]]) -> None:
    (root / "proc/stat").write_text("cpu  1 2 3 4 5 6 7 8 0 0\n" + "".join(
        f"cpu{c} {busy} 0 0 {idle} 0 0 0 0 0 0\n" for c, (busy, idle) in rows.items()) + "intr 1 2\n")


def test_utilisation_is_busy_fraction_between_samples(xavier: Path) -> None:
    _stat(xavier, {0: (100, 900), 1: (100, 900), 4: (0, 0)})
    u = CpuUtilisation(xavier)
    _stat(xavier, {0: (150, 950), 1: (100, 1000), 4: (10, 10), 5: (1, 1)})  # cpu5 came online
    s = u.sample()
    assert s == {0: pytest.approx(0.5), 1: pytest.approx(0.0), 4: pytest.approx(0.5)}
    assert busy_fraction(s, [0, 1]) == pytest.approx(0.25)


def test_utilisation_garbage_names_proc_stat(xavier: Path) -> None:
    u = CpuUtilisation(xavier)
    (xavier / "proc/stat").write_text("cpu0 1 2 x 4\n")
    with pytest.raises(InputError) as info:
        u.sample()
    assert info.value.source == str(xavier / "proc/stat")


def test_utilisation_of_this_machine() -> None:
    u = CpuUtilisation("/")
    s = u.sample()
    assert s and all(0.0 <= v <= 1.0 for v in s.values())
