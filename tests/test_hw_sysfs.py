"""Root-relative reads and writes: root resolution, validation, one-write semantics."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from rlrm.errors import InputError
from rlrm.hw.sysfs import Sysfs, format_cpulist, resolve_root, write_limits
from tests.hw_support import board_dir, CPU, state_dir, strict, xavier  # noqa: F401


def test_root_from_argument_then_environment_then_slash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RLRM_SYSFS_ROOT", raising=False)
    assert resolve_root() == Path("/")
    monkeypatch.setenv("RLRM_SYSFS_ROOT", str(tmp_path / "env"))
    assert resolve_root() == tmp_path / "env"
    assert resolve_root(tmp_path / "arg") == tmp_path / "arg"
    assert Sysfs().path("/sys/x") == tmp_path / "env" / "sys" / "x"


@pytest.mark.parametrize("content,problem", [
    (b"abc\n", "not an integer"), (b"\n", "empty file"), (b"12 13\n", "not an integer"),
    (b"-5\n", "below the plausible minimum"), (b"99999999999\n", "above the plausible maximum"),
    (b"\xff\xfe\n", "not text"), (b"1\x002\n", "not text"), (b"1\n2\n", "one line"),
])
def test_garbage_integer_names_the_file(tmp_path: Path, content: bytes, problem: str) -> None:
    (tmp_path / "f").write_bytes(content)
    with pytest.raises(InputError) as info:
        Sysfs(tmp_path).read_int("f", "thing", minimum=0, maximum=10**9)
    assert info.value.source == str(tmp_path / "f")
    assert problem in str(info.value) and "\n" not in str(info.value)


def test_cpu_lists_in_both_kernel_formats(tmp_path: Path) -> None:
    fs = Sysfs(tmp_path)
    for content, cpus in [("0-3,6\n", [0, 1, 2, 3, 6]), ("0 1 \n", [0, 1]), ("4 5 6 7\n", [4, 5, 6, 7]), ("2\n", [2])]:
        (tmp_path / "c").write_text(content)
        assert fs.read_cpus("c") == cpus
    for bad in ("3-1\n", "a-b\n", "0,,\n", "-1\n"):
        (tmp_path / "c").write_text(bad)
        with pytest.raises(InputError):
            fs.read_cpus("c")
    assert format_cpulist([0, 1, 2, 3, 6]) == "0-3,6"


def test_write_is_value_and_newline_and_never_creates(tmp_path: Path) -> None:
    fs = Sysfs(tmp_path)
    f = f"{CPU}/policy0/scaling_max_freq"
    (tmp_path / f).parent.mkdir(parents=True)
    (tmp_path / f).write_text("1190400\n")
    fs.write(f, 652800)
    assert (tmp_path / f).read_bytes() == b"652800\n"
    with pytest.raises(FileNotFoundError):
        fs.write(f"{CPU}/policy0/scaling_min_freq", 1)
    assert not (tmp_path / f"{CPU}/policy0/scaling_min_freq").exists()
    with pytest.raises(ValueError):
        fs.write(f, "two\nlines")


@pytest.mark.parametrize("target", [115200, 1907200, 652800])
def test_write_limits_keeps_min_below_max_in_every_direction(xavier: Path, strict: None, target: int) -> None:
    fs = Sysfs(xavier)
    lo, hi = f"{CPU}/policy0/scaling_min_freq", f"{CPU}/policy0/scaling_max_freq"
    for start in (115200, 1907200, 960000):  # pinned low, high, middle: the strict kernel refuses a bad order
        write_limits(fs, fs, lo, hi, start, start)
        assert write_limits(fs, fs, lo, hi, target, target) is (start != target)
        assert (fs.read_int(lo, "min"), fs.read_int(hi, "max")) == (target, target)
    write_limits(fs, fs, lo, hi, 115200, 1907200)


def test_strict_kernel_refuses_min_above_max(xavier: Path, strict: None) -> None:
    fs = Sysfs(xavier)
    with pytest.raises(OSError) as info:
        fs.write(f"{CPU}/policy0/scaling_max_freq", 0)
    assert info.value.errno == errno.EINVAL
