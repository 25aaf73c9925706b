"""devfreq: finding the GPU node as jetson_clocks / jtop do, and pinning it."""

from __future__ import annotations

from pathlib import Path

import pytest

import rlrm.hw.sysfs
from rlrm.errors import InputError
from rlrm.hw import fake
from rlrm.hw.devfreq import find_gpu
from rlrm.hw.sysfs import Sysfs
from tests.hw_support import board_dir, ODROID_GPU, XAVIER_GPU, odroid, state_dir, strict, text, xavier  # noqa: F401


def test_finds_xavier_gv11b_and_skips_vic(xavier: Path) -> None:
    gpu = find_gpu(Sysfs(xavier))
    assert gpu is not None
    assert (gpu.name, gpu.of_name, gpu.rel) == ("17000000.gv11b", "gv11b", XAVIER_GPU)  # the link resolved
    assert gpu.available_hz == fake.XAVIER_NX_GPU_HZ
    assert gpu.state().governor == "nvhost_podgov"


def test_finds_odroid_gpu(odroid: Path) -> None:
    gpu = find_gpu(Sysfs(odroid))
    assert gpu is not None and gpu.name == "11800000.gpu" and gpu.of_name == "gpu"
    assert gpu.available_hz[0] == 177_000_000 and gpu.available_hz[-1] == 600_000_000


def test_node_without_of_node_is_found_by_name(xavier: Path) -> None:
    (xavier / "sys/devices/17000000.gv11b/of_node").unlink()
    (xavier / "sys/devices/13e10000.host1x/15340000.vic/of_node").unlink()
    gpu = find_gpu(Sysfs(xavier))
    assert gpu is not None and gpu.name == "17000000.gv11b"


def test_no_gpu_node(tmp_path: Path) -> None:
    assert find_gpu(Sysfs(tmp_path)) is None


@pytest.mark.parametrize("hz", [1109250000, 114750000, 510000000])
def test_pin_both_directions_under_kernel_rules(xavier: Path, strict: None, hz: int) -> None:
    fs = Sysfs(xavier)
    gpu = find_gpu(fs)
    assert gpu is not None
    for start in (114750000, 1109250000):
        gpu.set_frequency(start, fs)
        gpu.set_frequency(hz, fs)
        assert text(xavier, f"{XAVIER_GPU}/min_freq") == f"{hz}\n" == text(xavier, f"{XAVIER_GPU}/max_freq")
    assert text(xavier, f"{XAVIER_GPU}/governor") == "nvhost_podgov\n"


def test_gpu_frequency_not_in_table_is_never_written(odroid: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[str] = []
    monkeypatch.setattr(rlrm.hw.sysfs, "kernel_write", lambda path, data: writes.append(path))
    fs = Sysfs(odroid)
    gpu = find_gpu(fs)
    assert gpu is not None
    with pytest.raises(InputError, match="not an available frequency"):
        gpu.set_frequency(500_000_000, fs)
    assert writes == []
    assert text(odroid, f"{ODROID_GPU}/min_freq") == "177000000\n"
