"""The fake trees have the real boards' paths, links and file formats."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rlrm.hw import fake
from rlrm.platform import load_platform
from rlrm.hw.cpufreq import discover_policies
from rlrm.hw.devfreq import find_gpu
from rlrm.hw.power import make_reader
from rlrm.hw.sysfs import Sysfs
from tests.hw_support import board_dir, CPU, ODROID_GPU, XAVIER_GPU, odroid, state_dir, text, xavier  # noqa: F401


def test_xavier_nx_layout(xavier: Path) -> None:
    assert text(xavier, "sys/devices/system/cpu/online") == "0-5\n"
    for first in (0, 2, 4):
        assert text(xavier, f"{CPU}/policy{first}/related_cpus") == f"{first} {first + 1}\n"
        assert os.path.realpath(xavier / f"sys/devices/system/cpu/cpu{first + 1}/cpufreq") == str(
            xavier / f"{CPU}/policy{first}")
    avail = text(xavier, f"{CPU}/policy0/scaling_available_frequencies")
    assert avail.endswith(" \n")  # cpufreq prints "%u " per frequency
    freqs = [int(f) for f in avail.split()]
    assert len(freqs) == 25 and freqs[0] == 115200 and freqs[-2:] == [1881600, 1907200]
    assert all(b - a == 76800 for a, b in zip(freqs[:-2], freqs[1:-1]))
    assert text(xavier, f"{CPU}/policy0/scaling_setspeed") == "<unsupported>\n"
    # the GPU node: real directory, gpu.0 link (nvgpu), class link, of_node name with a NUL
    for path in (XAVIER_GPU, "sys/devices/gpu.0/devfreq/17000000.gv11b", "sys/class/devfreq/17000000.gv11b"):
        assert (xavier / path / "available_frequencies").is_file()
    assert (xavier / "sys/devices/gpu.0").is_symlink()
    assert (xavier / "sys/class/devfreq/17000000.gv11b/device/of_node/name").read_bytes() == b"gv11b\x00"
    gpu = [int(f) for f in text(xavier, f"{XAVIER_GPU}/available_frequencies").split()]
    assert gpu == list(fake.XAVIER_NX_GPU_HZ) and len(gpu) == 15
    iio = "sys/bus/i2c/drivers/ina3221x/7-0040/iio:device0"
    assert [text(xavier, f"{iio}/rail_name_{i}").strip() for i in range(3)] == ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"]


def test_xavier_nx_hwmon_layout(board_dir: Path) -> None:
    root = fake.make_fake_xavier_nx(board_dir, power_layout="hwmon")
    dev = root / "sys/bus/i2c/drivers/ina3221/7-0040/hwmon/hwmon1"
    assert (dev / "in1_label").read_text() == "VDD_IN\n"
    assert (root / "sys/class/hwmon/hwmon1/name").read_text() == "ina3221\n"
    assert not (root / "sys/bus/i2c/drivers/ina3221x").exists()


def test_odroid_xu3_layout(odroid: Path) -> None:
    assert text(odroid, f"{CPU}/policy0/related_cpus") == "0 1 2 3\n"
    assert text(odroid, f"{CPU}/policy4/related_cpus") == "4 5 6 7\n"
    assert text(odroid, f"{CPU}/policy0/cpuinfo_max_freq") == "1400000\n"
    assert text(odroid, f"{CPU}/policy4/cpuinfo_max_freq") == "2000000\n"
    assert not (odroid / f"{CPU}/policy1").exists()
    assert text(odroid, f"{ODROID_GPU}/available_frequencies") == (
        "177000000 266000000 350000000 420000000 480000000 543000000 600000000\n")
    for addr in ("0040", "0041", "0044", "0045"):
        dev = odroid / f"sys/bus/i2c/drivers/INA231/3-{addr}"
        assert (dev / "enable").read_text() == "0\n" and (dev / "sensor_W").is_file()


def test_odroid_bus_number_varies(board_dir: Path) -> None:
    root = fake.make_fake_odroid_xu3(board_dir, i2c_bus=4)
    assert (root / "sys/bus/i2c/drivers/INA231/4-0045/sensor_W").is_file()


@pytest.mark.parametrize("board,builder", [("jetson-xavier-nx", fake.make_fake_xavier_nx),
                                           ("odroid-xu3", fake.make_fake_odroid_xu3)])
def test_fakes_agree_with_the_board_profiles(board_dir: Path, board: str, builder) -> None:
    """Profiles and fakes both come from platforms.md: same paths, same frequency tables."""
    root = builder(board_dir)
    fs = Sysfs(root)
    plat = load_platform(board)
    policies = {p.name: p for p in discover_policies(fs)}
    gpu = find_gpu(fs)
    for unit in plat.units.values():
        for path in unit.sysfs.get("cpufreq_policies", []):
            assert fs.is_dir(path), path
            assert policies[path.rsplit("/", 1)[-1]].available_khz == unit.freqs_khz
        for path in unit.sysfs.get("devfreq", []):
            assert fs.is_dir(path), path
            assert gpu is not None and gpu.available_hz == tuple(f * 1000 for f in unit.freqs_khz)
    for sensor in plat.sensors:
        reading = make_reader(fs, sensor.kind, sensor.path, sensor.channel, sensor.name).read()
        assert reading.name == sensor.name
        assert reading.value is not None or "enable is 0" in reading.problem
