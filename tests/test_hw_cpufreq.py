"""cpufreq: cluster discovery, operating points, pin and userspace control."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

import rlrm.hw.sysfs
from rlrm.errors import InputError
from rlrm.hw import fake
from rlrm.hw.cpufreq import discover_policies, online_cpus
from rlrm.hw.sysfs import Sysfs
from tests.hw_support import board_dir, CPU, odroid, state_dir, strict, text, xavier  # noqa: F401


def test_xavier_nx_has_three_two_core_clusters(xavier: Path) -> None:
    fs = Sysfs(xavier)
    policies = discover_policies(fs)
    assert [(p.name, p.cpus) for p in policies] == [("policy0", (0, 1)), ("policy2", (2, 3)), ("policy4", (4, 5))]
    p = policies[0]
    assert p.available_khz == fake.XAVIER_NX_CPU_KHZ
    assert (p.cpuinfo_min_khz, p.cpuinfo_max_khz) == (115200, 1907200)
    assert "userspace" in p.governors and "schedutil" in p.governors
    st = p.state()
    assert (st.governor, st.min_khz, st.max_khz, st.cur_khz) == ("schedutil", 115200, 1907200, 1420800)
    assert online_cpus(fs) == [0, 1, 2, 3, 4, 5]


def test_odroid_has_little_and_big_clusters(odroid: Path) -> None:
    policies = discover_policies(Sysfs(odroid))
    assert [(p.name, p.cpus, p.available_khz[-1]) for p in policies] == [
        ("policy0", (0, 1, 2, 3), 1400000), ("policy4", (4, 5, 6, 7), 2000000)]


def test_pin_sets_min_equal_max_and_leaves_governor(xavier: Path, strict: None) -> None:
    fs = Sysfs(xavier)
    p = discover_policies(fs)[1]
    assert p.set_frequency(652800, fs) is True
    assert text(xavier, f"{CPU}/policy2/scaling_min_freq") == "652800\n"
    assert text(xavier, f"{CPU}/policy2/scaling_max_freq") == "652800\n"
    assert text(xavier, f"{CPU}/policy2/scaling_governor") == "schedutil\n"
    assert p.set_frequency(652800, fs) is False  # already there: nothing written
    p.set_frequency(1907200, fs)  # up: max must go first or the strict kernel refuses
    assert text(xavier, f"{CPU}/policy2/scaling_min_freq") == "1907200\n"
    assert text(xavier, f"{CPU}/policy0/scaling_min_freq") == "115200\n"  # other clusters untouched


@pytest.mark.parametrize("khz", [1000000, 115201, 2000000, 0])
def test_frequency_not_in_table_is_never_written(xavier: Path, monkeypatch: pytest.MonkeyPatch, khz: int) -> None:
    writes: list[str] = []
    monkeypatch.setattr(rlrm.hw.sysfs, "kernel_write", lambda path, data: writes.append(path))
    fs = Sysfs(xavier)
    p = discover_policies(fs)[0]
    with pytest.raises(InputError) as info:
        p.set_frequency(khz, fs)
    assert "scaling_available_frequencies" in info.value.source and f"{khz} kHz" in str(info.value)
    assert writes == []


def test_userspace_method_uses_governor_and_setspeed(odroid: Path, strict: None) -> None:
    fs = Sysfs(odroid)
    p = discover_policies(fs)[1]
    p.set_frequency(1500000, fs, method="userspace")
    assert text(odroid, f"{CPU}/policy4/scaling_governor") == "userspace\n"
    assert text(odroid, f"{CPU}/policy4/scaling_setspeed") == "1500000\n"
    assert text(odroid, f"{CPU}/policy4/scaling_max_freq") == "2000000\n"
    assert p.set_frequency(1500000, fs, method="userspace") is False


def test_userspace_method_widens_limits_that_exclude_the_frequency(board_dir: Path, strict: None) -> None:
    root = fake.make_fake_xavier_nx(board_dir, cpu_max_khz=1420800)  # e.g. nvpmodel's 15 W cap
    fs = Sysfs(root)
    p = discover_policies(fs)[0]
    p.set_frequency(1907200, fs, method="userspace")
    assert text(root, f"{CPU}/policy0/scaling_max_freq") == "1907200\n"
    assert text(root, f"{CPU}/policy0/scaling_setspeed") == "1907200\n"


def test_userspace_method_without_the_governor_is_refused(xavier: Path) -> None:
    gov = xavier / f"{CPU}/policy0/scaling_available_governors"
    gov.write_text("schedutil performance \n")
    fs = Sysfs(xavier)
    with pytest.raises(InputError, match="no userspace governor"):
        discover_policies(fs)[0].set_frequency(652800, fs, method="userspace")


def test_off_table_limit_left_by_nvpmodel_reads_fine(board_dir: Path) -> None:
    root = fake.make_fake_xavier_nx(board_dir, cpu_max_khz=1400000)
    assert discover_policies(Sysfs(root))[0].state().max_khz == 1400000


def test_inactive_policy_answers_ebusy(xavier: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every CPU of policy4 offline: the kernel answers EBUSY to reads of its files."""
    real = Sysfs.read_bytes

    def busy(self: Sysfs, rel: str) -> bytes:
        if "/policy4/" in str(rel):
            raise OSError(errno.EBUSY, "Device or resource busy", str(self.path(rel)))
        return real(self, rel)

    monkeypatch.setattr(Sysfs, "read_bytes", busy)
    fs = Sysfs(xavier)
    policies = discover_policies(fs)
    assert [p.active for p in policies] == [True, True, False]
    with pytest.raises(InputError, match="offline"):
        policies[2].set_frequency(652800, fs)


def test_table_falls_back_to_time_in_state(xavier: Path) -> None:
    (xavier / f"{CPU}/policy0/scaling_available_frequencies").unlink()
    assert discover_policies(Sysfs(xavier))[0].available_khz == fake.XAVIER_NX_CPU_KHZ


def test_table_outside_cpuinfo_range_is_garbage(xavier: Path) -> None:
    (xavier / f"{CPU}/policy2/scaling_available_frequencies").write_text("115200 9000000 \n")
    with pytest.raises(InputError) as info:
        discover_policies(Sysfs(xavier))
    assert info.value.source.endswith("policy2/scaling_available_frequencies")
