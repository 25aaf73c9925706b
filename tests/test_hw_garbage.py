"""Property: garbage in any sysfs value rlrm reads gives an InputError naming that file, and no write."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Union

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rlrm.hw.sysfs
from rlrm.errors import InputError
from rlrm.hw import fake
from rlrm.hw.actuator import HardwareActuator
from tests.hw_support import CPU, XAVIER_GPU, board_dir  # noqa: F401

Garbage = Union[str, bytes]

_binary = st.binary(min_size=1, max_size=12).filter(lambda b: any(x > 127 or x == 0 for x in b))
_letters = st.text(alphabet="abcxyzGHz!?#/ .,;", min_size=1, max_size=12).filter(lambda s: s.strip() != "")
_blank = st.sampled_from(["", "\n", "  \n", "\x00"])


def _clean(s: str) -> str:
    return s.rstrip("\x00 \t\r\n").strip()


def _int_garbage(lo: int, hi: int) -> st.SearchStrategy[Garbage]:
    out_of_range = st.one_of(st.integers(max_value=lo - 1), st.integers(min_value=hi + 1)).map(lambda v: f"{v}\n")
    floats = st.floats(allow_nan=True, allow_infinity=True).map(lambda f: f"{f!r}\n")
    two = st.tuples(st.integers(lo, hi), st.integers(lo, hi)).map(lambda t: f"{t[0]} {t[1]}\n")
    def valid(g: Garbage) -> bool:
        if isinstance(g, bytes):
            return False
        s = _clean(g)
        return bool(re.fullmatch(r"[+-]?[0-9]+", s)) and lo <= int(s) <= hi
    return st.one_of(_letters, _blank, _binary, out_of_range, floats, two).filter(lambda g: not valid(g))


def _list_garbage(lo: int, hi: int) -> st.SearchStrategy[Garbage]:
    bad_member = st.tuples(st.integers(lo, hi), st.integers(max_value=lo - 1)).map(lambda t: f"{t[0]} {t[1]} \n")
    return st.one_of(_letters, _blank, _binary, bad_member)


_cpulist_garbage = st.one_of(_letters, _blank, _binary, st.sampled_from(["3-1\n", "0-\n", "-1\n", "0,,1\n", "1.5\n"]))
_word_garbage = st.one_of(_blank, _binary, st.sampled_from(["sched util\n", "perf/ormance\n", "a b c\n", "gov!\n",
                                                           "x\ny\n"]))


def _open(root: Path) -> HardwareActuator:
    return HardwareActuator(root, handlers=False, use_torch=False).open()


def _set_cpu(method: str) -> Callable[[Path], None]:
    def act(root: Path) -> None:
        hw = HardwareActuator(root, statefile=root / "state.json", cpu_method=method, handlers=False,
                              use_torch=False).open()
        try:
            hw.set_cpu_frequency(1, 652800)
        finally:
            hw.close()
    return act


def _set_gpu(root: Path) -> None:
    hw = HardwareActuator(root, statefile=root / "state.json", handlers=False, use_torch=False).open()
    try:
        hw.set_gpu_frequency(510000)
    finally:
        hw.close()


CASES = [
    # (file, garbage, the action that must refuse it)
    (f"{CPU}/policy2/scaling_max_freq", _int_garbage(115200, 10_000_000), _set_cpu("pin")),
    (f"{CPU}/policy4/scaling_min_freq", _int_garbage(1000, 1907200), _set_cpu("pin")),
    (f"{CPU}/policy0/scaling_governor", _word_garbage, _set_cpu("userspace")),
    (f"{CPU}/policy0/related_cpus", _cpulist_garbage, _open),
    (f"{CPU}/policy2/cpuinfo_max_freq", _int_garbage(1907200, 10_000_000), _open),  # below its table: garbage
    (f"{CPU}/policy4/scaling_available_frequencies", _list_garbage(115200, 1907200), _open),
    ("sys/devices/system/cpu/online", _cpulist_garbage, _open),
    (f"{XAVIER_GPU}/available_frequencies", _list_garbage(1_000_000, 10_000_000_000), _open),
    (f"{XAVIER_GPU}/min_freq", _int_garbage(1_000_000, 1109250000), _set_gpu),
    (f"{XAVIER_GPU}/max_freq", _int_garbage(114750000, 10_000_000_000), _set_cpu("pin")),  # saved with the CPU's
]


@pytest.mark.parametrize("rel,garbage,action", CASES, ids=[c[0].rsplit("/", 2)[-2] + "/" + c[0].rsplit("/", 1)[-1]
                                                           for c in CASES])
def test_garbage_is_an_input_error_naming_the_file_and_nothing_is_written(
        tmp_path: Path, board_dir: Path, monkeypatch: pytest.MonkeyPatch, rel: str, garbage: st.SearchStrategy,
        action: Callable[[Path], None]) -> None:
    monkeypatch.setenv("RLRM_STATE_DIR", str(tmp_path))
    writes: list[str] = []
    real = rlrm.hw.sysfs.kernel_write
    monkeypatch.setattr(rlrm.hw.sysfs, "kernel_write", lambda p, d: (writes.append(p), real(p, d)))
    root = fake.make_fake_xavier_nx(board_dir / "board")  # built once: nothing may change it but the garbage
    target = root / rel
    original = target.read_bytes()
    base = fake.snapshot_tree(root)

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(value=garbage)
    def check(value: Garbage) -> None:
        data = value if isinstance(value, bytes) else value.encode("utf-8")
        target.write_bytes(data)
        writes.clear()
        try:
            with pytest.raises(InputError) as info:
                action(root)
            assert str(target) in str(info.value), str(info.value)
            assert "\n" not in str(info.value)
            assert writes == [] and fake.snapshot_tree(root) == {**base, rel: data}
        finally:
            target.write_bytes(original)

    check()
