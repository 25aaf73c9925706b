"""The safety snapshot: saved before the first write, restored in an order the kernel accepts."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

import rlrm.hw.sysfs
from rlrm.errors import InputError
from rlrm.hw import fake
from rlrm.hw import owner
from rlrm.hw.state import StateGuard, SysfsWriteError, load_statefile, restore_statefile
from rlrm.hw.sysfs import Sysfs, write_limits
from tests.hw_support import board_dir, CPU, XAVIER_GPU, inject, state_dir, strict, text, xavier  # noqa: F401

P0 = f"{CPU}/policy0"


def _guard(root: Path, statefile: Path) -> StateGuard:
    g = StateGuard(Sysfs(root), statefile, handlers=False)
    g.plan_limits(f"{P0}/scaling_min_freq", f"{P0}/scaling_max_freq")
    g.plan_value(f"{P0}/scaling_governor")
    g.plan_setspeed(f"{P0}/scaling_setspeed")
    g.plan_limits(f"{XAVIER_GPU}/min_freq", f"{XAVIER_GPU}/max_freq")
    return g


def test_snapshot_is_on_disk_before_the_first_write(xavier: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    statefile = tmp_path / "s.json"
    seen: list[bool] = []
    real = rlrm.hw.sysfs.kernel_write
    monkeypatch.setattr(rlrm.hw.sysfs, "kernel_write", lambda p, d: (seen.append(statefile.exists()), real(p, d)))
    g = _guard(xavier, statefile)
    assert not statefile.exists()
    g.write(f"{P0}/scaling_max_freq", 652800)
    assert seen == [True]
    meta, steps = load_statefile(statefile)
    assert meta["root"] == str(xavier) and meta["pid"] == os.getpid() and meta["boot_id"] == fake.BOOT_ID
    assert [s.to_json() for s in steps] == [
        {"kind": "limits", "min": f"{P0}/scaling_min_freq", "max": f"{P0}/scaling_max_freq",
         "min_value": 115200, "max_value": 1907200, "touched": True},
        {"kind": "value", "path": f"{P0}/scaling_governor", "value": "schedutil", "touched": False},
        {"kind": "setspeed", "path": f"{P0}/scaling_setspeed", "value": "<unsupported>", "touched": False},
        {"kind": "limits", "min": f"{XAVIER_GPU}/min_freq", "max": f"{XAVIER_GPU}/max_freq",
         "min_value": 114750000, "max_value": 1109250000, "touched": False},
    ]
    assert not list(tmp_path.glob(".s.json*"))  # the temporary file was renamed


@pytest.mark.parametrize("pin", [115200, 1907200, 960000])
def test_restore_keeps_min_below_max_from_any_pinned_state(xavier: Path, tmp_path: Path, strict: None,
                                                           pin: int) -> None:
    before = fake.snapshot_tree(xavier)
    g = _guard(xavier, tmp_path / "s.json")
    fs = Sysfs(xavier)
    write_limits(fs, g, f"{P0}/scaling_min_freq", f"{P0}/scaling_max_freq", pin, pin)
    write_limits(fs, g, f"{XAVIER_GPU}/min_freq", f"{XAVIER_GPU}/max_freq", 510000000, 510000000)
    assert g.restore() == []
    assert fake.snapshot_tree(xavier) == before
    assert not (tmp_path / "s.json").exists()
    assert g.restore() == []  # idempotent


def test_restore_of_userspace_governor_with_kernel_rules(xavier: Path, tmp_path: Path, strict: None) -> None:
    before = fake.snapshot_tree(xavier)
    g = _guard(xavier, tmp_path / "s.json")
    g.write(f"{P0}/scaling_governor", "userspace")
    g.write(f"{P0}/scaling_setspeed", 652800)
    assert text(xavier, f"{P0}/scaling_setspeed") == "652800\n"
    assert g.restore() == []
    assert fake.snapshot_tree(xavier) == before  # setspeed back to <unsupported> via the governor


@pytest.mark.parametrize("err", [errno.EACCES, errno.EBUSY, errno.EINVAL])
def test_refused_write_restores_everything_and_says_so_in_one_line(
        xavier: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, err: int) -> None:
    before = fake.snapshot_tree(xavier)
    g = _guard(xavier, tmp_path / "s.json")
    fs = Sysfs(xavier)
    write_limits(fs, g, f"{P0}/scaling_min_freq", f"{P0}/scaling_max_freq", 652800, 652800)
    inject(monkeypatch, "/min_freq", err)
    with pytest.raises(SysfsWriteError) as info:
        write_limits(fs, g, f"{XAVIER_GPU}/min_freq", f"{XAVIER_GPU}/max_freq", 510000000, 510000000)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(xavier / XAVIER_GPU / "min_freq"))
    assert errno.errorcode[err] in msg and "restored" in msg
    assert isinstance(info.value, InputError) and info.value.errno == err
    assert fake.snapshot_tree(xavier) == before


def test_failed_restore_keeps_the_statefile_and_rlrm_restore_finishes(
        xavier: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = fake.snapshot_tree(xavier)
    statefile = tmp_path / "s.json"
    g = _guard(xavier, statefile)
    fs = Sysfs(xavier)
    write_limits(fs, g, f"{P0}/scaling_min_freq", f"{P0}/scaling_max_freq", 652800, 652800)
    inject(monkeypatch, "scaling_max_freq", errno.EBUSY)
    problems = g.restore()
    assert problems and "EBUSY" in problems[0] and statefile.exists()
    assert g.active  # still holding the originals: close() and exit try again
    monkeypatch.undo()
    g.lock.release()  # as if this process had ended: the lock goes with it
    result = restore_statefile(statefile, xavier, force=True)  # our own pid is alive
    assert result.problems == [] and result.restored == 1  # only the pair rlrm wrote
    assert fake.snapshot_tree(xavier) == before and not statefile.exists()


def test_restore_statefile_refuses_while_the_writer_runs(xavier: Path, tmp_path: Path) -> None:
    statefile = tmp_path / "s.json"
    g = _guard(xavier, statefile)
    g.write(f"{P0}/scaling_max_freq", 1000000)
    data = json.loads(statefile.read_text())
    data["pid"] = os.getppid()  # a process that is alive and is not us
    data["start"] = owner.start_time(os.getppid())
    statefile.write_text(json.dumps(data))
    g.lock.release()  # the writer's lock is tested in test_hw_owner.py
    result = restore_statefile(statefile, xavier)
    assert result.blocked and "still running" in result.skipped
    assert text(xavier, f"{P0}/scaling_max_freq") == "1000000\n"


def test_restore_statefile_skips_after_a_reboot(xavier: Path, tmp_path: Path) -> None:
    statefile = tmp_path / "s.json"
    g = _guard(xavier, statefile)
    g.write(f"{P0}/scaling_max_freq", 1000000)
    (xavier / "proc/sys/kernel/random/boot_id").write_text("another-boot\n")
    data = json.loads(statefile.read_text())
    data["pid"] = 0
    statefile.write_text(json.dumps(data))
    g.lock.release()
    result = restore_statefile(statefile, xavier)
    assert "rebooted" in result.skipped and not result.blocked


@pytest.mark.parametrize("mutate,field", [
    (lambda d: d.update(format="other/1"), "format"),
    (lambda d: d["steps"][0].update(min="/etc/passwd"), "steps[0].min"),
    (lambda d: d["steps"][0].update(max="sys/../etc/x"), "steps[0].max"),
    (lambda d: d["steps"][1].update(path="etc/shadow"), "steps[1].path"),
    (lambda d: d["steps"][0].update(min_value=5, max_value=1), "steps[0].min_value"),
    (lambda d: d["steps"][1].update(value="a\nb"), "steps[1].value"),
    (lambda d: d["steps"][1].update(kind="shell"), "steps[1].kind"),
    (lambda d: d.pop("steps"), "steps"),
    # files rlrm never writes, and values the files it writes cannot hold
    (lambda d: d["steps"][1].update(path="sys/power/state", value="mem"), "steps[1].path"),
    (lambda d: d["steps"][1].update(path="sys/devices/system/cpu/cpu1/online", value="0"), "steps[1].path"),
    (lambda d: d["steps"][0].update(max="sys/class/thermal/thermal_zone0/trip_point_0_temp"), "steps[0].min"),
    (lambda d: d["steps"][0].update(max=f"{CPU}/policy2/scaling_max_freq"), "steps[0].min"),
    (lambda d: d["steps"][1].update(value="performance; reboot"), "steps[1].value"),
    (lambda d: d["steps"][2].update(value="fast"), "steps[2].value"),
])
def test_malformed_statefile_is_one_line_input_error(xavier: Path, tmp_path: Path, mutate, field: str) -> None:
    statefile = tmp_path / "s.json"
    g = _guard(xavier, statefile)
    g.write(f"{P0}/scaling_max_freq", 1000000)
    data = json.loads(statefile.read_text())
    mutate(data)
    statefile.write_text(json.dumps(data))
    with pytest.raises(InputError) as info:
        restore_statefile(statefile, force=True)
    assert info.value.source == str(statefile) and info.value.field == field


def test_garbage_in_a_value_to_snapshot_means_no_write(xavier: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    written = inject(monkeypatch, "never", 0)
    (xavier / f"{XAVIER_GPU}/max_freq").write_text("fast\n")
    g = _guard(xavier, tmp_path / "s.json")
    with pytest.raises(InputError) as info:
        g.write(f"{P0}/scaling_max_freq", 652800)
    assert info.value.source == str(xavier / XAVIER_GPU / "max_freq")
    assert written == [] and not (tmp_path / "s.json").exists()


def test_guard_refuses_to_plan_a_file_rlrm_never_writes(xavier: Path, tmp_path: Path) -> None:
    g = StateGuard(Sysfs(xavier), tmp_path / "s.json", handlers=False)
    with pytest.raises(InputError, match="not a cpufreq policy, devfreq node or INA231 file"):
        g.write("sys/devices/system/cpu/cpu1/online", 0)
    assert not (tmp_path / "s.json").exists()
