"""Issue 19, board side: every failure an attacker with a local account or an unlucky operator
found, each as a test (confined writes, trusted state files, one owner per board, every
ending signal, no clobbering of other tools, one-line errors)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import rlrm.hw.sysfs
from rlrm.cli import main
from rlrm.errors import InputError
from rlrm.hw import fake, owner
from rlrm.hw.actuator import HardwareActuator
from rlrm.hw.state import StateGuard, load_statefile, restore_statefile, stale_statefiles
from rlrm.hw.sysfs import Sysfs
from tests.hw_support import CPU, board_dir, odroid, state_dir, text, xavier  # noqa: F401
from tests.test_hw_signals import _env, _start, _wait_ready

P0 = f"{CPU}/policy0"


def _pinned_statefile(xavier: Path, statefile: Path) -> dict:
    """A genuine state file of a run that pinned policy0 (and has since ended)."""
    g = StateGuard(Sysfs(xavier), statefile, handlers=False)
    g.plan_limits(f"{P0}/scaling_min_freq", f"{P0}/scaling_max_freq")
    g.write(f"{P0}/scaling_max_freq", 652800)
    g.lock.release()
    data = json.loads(statefile.read_text())
    data["pid"] = 0  # gone
    return data


def _write(statefile: Path, data: dict, mode: int = 0o600) -> None:
    statefile.write_text(json.dumps(data))
    os.chmod(statefile, mode)


# -- 1. a doctored state file ---------------------------------------------------------------------
def test_restore_never_uses_the_root_named_in_the_file(xavier: Path, board_dir: Path, tmp_path: Path) -> None:
    victim = fake.make_fake_xavier_nx(board_dir / "victim")
    before = fake.snapshot_tree(victim)
    statefile = tmp_path / "s.json"
    data = _pinned_statefile(xavier, statefile)
    data["root"] = str(victim)
    _write(statefile, data)
    result = restore_statefile(statefile, xavier)
    assert result.problems == [] and text(xavier, f"{P0}/scaling_max_freq") == "1907200\n"
    assert fake.snapshot_tree(victim) == before


def test_restore_without_a_root_uses_slash_or_the_environment_never_the_file(
        xavier: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    statefile = tmp_path / "s.json"
    _write(statefile, _pinned_statefile(xavier, statefile))
    monkeypatch.setenv("RLRM_SYSFS_ROOT", str(xavier))
    assert restore_statefile(statefile).problems == []
    assert text(xavier, f"{P0}/scaling_max_freq") == "1907200\n"


@pytest.mark.parametrize("path", [
    "sys/bus/pci/devices/0000:00:01.0/enable",
    "sys/module/x/parameters/governor",
    "sys/devices/system/cpu/cpufreq/policy0/../../../../../etc/governor",
    "sys/power/devfreq/max_freq",
])
def test_state_file_naming_a_file_rlrm_never_writes_is_refused_whole(xavier: Path, tmp_path: Path,
                                                                    path: str) -> None:
    statefile = tmp_path / "s.json"
    data = _pinned_statefile(xavier, statefile)
    data["steps"].append({"kind": "value", "path": path, "value": "1"})
    _write(statefile, data)
    with pytest.raises(InputError) as info:
        restore_statefile(statefile, xavier)
    assert "\n" not in str(info.value) and "steps[1]" in str(info.value)
    assert text(xavier, f"{P0}/scaling_max_freq") == "652800\n"  # nothing written


def test_symlink_out_of_the_root_is_never_followed(xavier: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_text("precious\n")
    target = xavier / P0 / "scaling_governor"
    target.unlink()
    target.symlink_to(outside)
    with pytest.raises(PermissionError, match="through a symlink"):
        Sysfs(xavier).write(f"{P0}/scaling_governor", "performance")
    statefile = tmp_path / "s.json"
    _write(statefile, {"format": "rlrm-hw-state/1", "root": str(xavier), "pid": 0, "created": "",
                       "steps": [{"kind": "value", "path": f"{P0}/scaling_governor", "value": "performance"}]})
    result = restore_statefile(statefile, xavier)
    assert result.problems and "symlink" in result.problems[0]
    assert outside.read_text() == "precious\n"


def test_symlinked_folder_out_of_the_root_is_refused_too(xavier: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "policy0"
    elsewhere.mkdir(parents=True)
    (elsewhere / "scaling_max_freq").write_text("1\n")
    policy = xavier / CPU / "policy0"
    os.rename(policy, policy.with_name("moved"))
    policy.symlink_to(elsewhere)
    with pytest.raises(PermissionError):
        Sysfs(xavier).write(f"{P0}/scaling_max_freq", 652800)
    assert (elsewhere / "scaling_max_freq").read_text() == "1\n"


def test_guard_write_through_a_symlink_is_a_one_line_error(xavier: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_text("1907200\n")
    target = xavier / P0 / "scaling_max_freq"
    target.unlink()
    target.symlink_to(outside)
    with HardwareActuator(xavier, statefile=tmp_path / "s.json", use_torch=False, handlers=False) as hw:
        with pytest.raises(InputError) as info:
            hw.set_cpu_frequency(0, 652800)
    assert "\n" not in str(info.value) and outside.read_text() == "1907200\n"


@pytest.mark.parametrize("value", ["\u0663\u0663", "1\u00b2", "６５２８００"])
def test_non_ascii_digits_are_refused_before_any_write(xavier: Path, tmp_path: Path, value: str) -> None:
    statefile = tmp_path / "s.json"
    data = _pinned_statefile(xavier, statefile)
    data["steps"].append({"kind": "setspeed", "path": f"{P0}/scaling_setspeed", "value": value})
    _write(statefile, data)
    with pytest.raises(InputError, match="steps\\[1\\].value"):
        restore_statefile(statefile, xavier)
    assert text(xavier, f"{P0}/scaling_max_freq") == "652800\n"
    with pytest.raises(ValueError):
        Sysfs(xavier).write(f"{P0}/scaling_setspeed", value)


def test_state_file_writable_by_others_is_refused(xavier: Path, tmp_path: Path) -> None:
    statefile = tmp_path / "s.json"
    _write(statefile, _pinned_statefile(xavier, statefile), mode=0o666)
    with pytest.raises(InputError, match="writable by others"):
        restore_statefile(statefile, xavier)
    assert text(xavier, f"{P0}/scaling_max_freq") == "652800\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_state_file_of_another_user_is_refused(xavier: Path, tmp_path: Path) -> None:
    statefile = tmp_path / "s.json"
    _write(statefile, _pinned_statefile(xavier, statefile))
    os.chown(statefile, 12345, 12345)
    with pytest.raises(InputError, match="owned by uid 12345"):
        restore_statefile(statefile, xavier)


def test_state_file_that_is_a_symlink_or_a_fifo_is_refused(xavier: Path, tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    _write(real, _pinned_statefile(xavier, real))
    link = tmp_path / "link.json"
    link.symlink_to(real)
    with pytest.raises(InputError, match="symlink"):
        load_statefile(link)
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        load_statefile(fifo)  # would hang reading it


def test_default_state_folder_is_private_never_the_shared_tmp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RLRM_STATE_DIR", raising=False)
    folder = owner.default_state_dir()
    assert str(folder) not in ("/tmp", "/var/tmp")
    if os.geteuid() == 0:
        assert folder == Path("/run/rlrm")


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o775])
def test_world_or_group_writable_state_folder_is_refused(tmp_path: Path, mode: int) -> None:
    d = tmp_path / "shared"
    d.mkdir()
    os.chmod(d, mode)
    with pytest.raises(InputError, match="writable by"):
        owner.state_dir(d)


def test_state_folder_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(InputError, match="symlink"):
        owner.state_dir(tmp_path / "link")


def test_state_folder_is_created_private(tmp_path: Path) -> None:
    d = owner.state_dir(tmp_path / "new" / "rlrm")
    assert d.is_dir() and (d.stat().st_mode & 0o777) == 0o700


def test_pin_refuses_a_shared_state_folder_in_one_line(odroid: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    monkeypatch.setenv("RLRM_STATE_DIR", str(shared))
    before = fake.snapshot_tree(odroid)
    assert main(["hw", "pin", "--sysfs-root", str(odroid), "--gpu", "600000", "--seconds", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "state folder" in err and "writable by others" in err
    assert fake.snapshot_tree(odroid) == before


# -- 4. one owner per board --------------------------------------------------------------------------
def test_second_actuator_on_one_board_is_refused_naming_the_holder(xavier: Path, tmp_path: Path) -> None:
    with HardwareActuator(xavier, statefile=tmp_path / "a.json", use_torch=False, handlers=False) as hw:
        hw.set_cpu_frequency(0, 652800)
        with pytest.raises(owner.BoardBusy, match=f"rlrm process {os.getpid()}"):
            HardwareActuator(xavier, statefile=tmp_path / "b.json", use_torch=False, handlers=False).open()
    with HardwareActuator(xavier, statefile=tmp_path / "b.json", use_torch=False, handlers=False):
        pass  # free again once the first one restored


def test_observe_only_does_not_take_the_board(xavier: Path, tmp_path: Path) -> None:
    with HardwareActuator(xavier, statefile=tmp_path / "a.json", use_torch=False, handlers=False) as hw:
        hw.set_cpu_frequency(0, 652800)
        with HardwareActuator(xavier, statefile=tmp_path / "b.json", use_torch=False, handlers=False,
                              observe_only=True) as watcher:
            assert watcher.read_power()


def test_second_pin_and_restore_are_refused_while_one_holds_the_board(xavier: Path, tmp_path: Path) -> None:
    statefile = tmp_path / "first.json"
    first = _start(["-m", "rlrm", "hw", "pin", "--sysfs-root", str(xavier), "--statefile", str(statefile),
                    "--cpu", "0=652800"])
    try:
        _wait_ready(first)
        pinned = fake.snapshot_tree(xavier)
        second = subprocess.run([sys.executable, "-m", "rlrm", "hw", "pin", "--sysfs-root", str(xavier),
                                 "--statefile", str(tmp_path / "second.json"), "--cpu", "1=652800",
                                 "--seconds", "0"], capture_output=True, text=True, env=_env(), timeout=60)
        assert second.returncode == 2 and second.stderr.count("\n") == 1
        assert f"in use by rlrm process {first.pid}" in second.stderr
        restore = subprocess.run([sys.executable, "-m", "rlrm", "restore", str(statefile), "--force",
                                  "--sysfs-root", str(xavier)], capture_output=True, text=True, env=_env(),
                                 timeout=60)
        assert restore.returncode == 2 and f"in use by rlrm process {first.pid}" in restore.stderr
        assert fake.snapshot_tree(xavier) == pinned
    finally:
        first.terminate()
        first.communicate(timeout=30)


def test_lock_is_dropped_by_the_kernel_when_the_holder_is_killed(xavier: Path, tmp_path: Path) -> None:
    before = fake.snapshot_tree(xavier)
    statefile = tmp_path / "s.json"
    proc = _start(["-m", "rlrm", "hw", "pin", "--sysfs-root", str(xavier), "--statefile", str(statefile),
                   "--cpu", "0=652800"])
    _wait_ready(proc)
    proc.kill()
    proc.communicate(timeout=30)
    assert restore_statefile(statefile, xavier).problems == []
    assert fake.snapshot_tree(xavier) == before


def test_pid_reuse_does_not_block_restore(xavier: Path, tmp_path: Path) -> None:
    statefile = tmp_path / "s.json"
    data = _pinned_statefile(xavier, statefile)
    data["pid"], data["start"] = os.getppid(), (owner.start_time(os.getppid()) or 0) + 1  # same PID, another process
    _write(statefile, data)
    result = restore_statefile(statefile, xavier)
    assert not result.blocked and result.problems == []


# -- 5. every signal that ends a session restores ---------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT])
def test_every_ending_signal_restores(odroid: Path, tmp_path: Path, sig: int) -> None:
    before = fake.snapshot_tree(odroid)
    statefile = tmp_path / "s.json"
    proc = _start(["-m", "rlrm", "hw", "pin", "--sysfs-root", str(odroid), "--statefile", str(statefile),
                   "--cpu", "policy4=1800000", "--gpu", "600000"])
    _wait_ready(proc)
    assert fake.snapshot_tree(odroid) != before
    proc.send_signal(sig)
    proc.communicate(timeout=30)
    assert fake.snapshot_tree(odroid) == before and not statefile.exists()


# -- 6. never clobber another tool ------------------------------------------------------------------
def test_a_cluster_rlrm_never_pinned_is_not_put_back(xavier: Path, tmp_path: Path) -> None:
    with HardwareActuator(xavier, statefile=tmp_path / "s.json", use_torch=False, handlers=False) as hw:
        hw.set_cpu_frequency(0, 652800)
        (xavier / CPU / "policy4/scaling_max_freq").write_text("1190400\n")  # another tool, another cluster
    assert text(xavier, f"{CPU}/policy4/scaling_max_freq") == "1190400\n"
    assert text(xavier, f"{P0}/scaling_max_freq") == "1907200\n"


def test_a_setting_another_tool_changed_since_is_left_and_said_so(xavier: Path, tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    with HardwareActuator(xavier, statefile=tmp_path / "s.json", use_torch=False, handlers=False) as hw:
        hw.set_cpu_frequency(0, 652800)
        hw.set_cpu_frequency(2, 652800)
        (xavier / P0 / "scaling_max_freq").write_text("1190400\n")  # nvpmodel, say, changed it since
    assert text(xavier, f"{P0}/scaling_max_freq") == "1190400\n"
    assert text(xavier, f"{CPU}/policy2/scaling_max_freq") == "1907200\n"  # ours: restored
    notes = [r.getMessage() for r in caplog.records if "another tool changed it" in r.getMessage()]
    assert len(notes) == 1 and "\n" not in notes[0] and "policy0/scaling_max_freq" in notes[0]


# -- 7. one-line errors, never a traceback ----------------------------------------------------------
def test_planted_empty_state_file_with_a_huge_pid_does_not_block_anyone(xavier: Path, state_dir: Path) -> None:
    for name in ("rlrm-hw-state-99999999999999999999999.json", "rlrm-hw-state-4294967296.json"):
        (state_dir / name).write_text("")
    stale_statefiles(state_dir)
    with HardwareActuator(xavier, use_torch=False, handlers=False) as hw:
        hw.set_cpu_frequency(0, 652800)


@pytest.mark.parametrize("pid", [2**31, 2**63, -1])
def test_absurd_pid_in_a_state_file_is_a_one_line_error(xavier: Path, tmp_path: Path, pid: int) -> None:
    statefile = tmp_path / "s.json"
    data = _pinned_statefile(xavier, statefile)
    data["pid"] = pid
    _write(statefile, data)
    with pytest.raises(InputError, match="pid"):
        load_statefile(statefile)


def test_unusable_state_folder_is_one_line_and_nothing_changes(xavier: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("RLRM_STATE_DIR", str(tmp_path / "a-file" / "state"))
    before = fake.snapshot_tree(xavier)
    with pytest.raises(InputError, match="state folder"):
        with HardwareActuator(xavier, use_torch=False, handlers=False) as hw:
            hw.set_cpu_frequency(0, 652800)
    assert fake.snapshot_tree(xavier) == before


def test_full_state_folder_is_one_line_and_nothing_changes(xavier: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import rlrm.hw.state

    def full(path: object, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(rlrm.hw.state, "atomic_write_bytes", full)
    before = fake.snapshot_tree(xavier)
    with HardwareActuator(xavier, statefile=tmp_path / "s.json", use_torch=False, handlers=False) as hw:
        with pytest.raises(InputError, match="ENOSPC"):
            hw.set_cpu_frequency(0, 652800)
    assert fake.snapshot_tree(xavier) == before


@pytest.mark.parametrize("kind", ["dir", "fifo"])
def test_directory_or_fifo_where_a_sysfs_file_should_be(xavier: Path, kind: str) -> None:
    f = xavier / P0 / "scaling_cur_freq"
    f.unlink()
    if kind == "dir":
        f.mkdir()
    else:
        os.mkfifo(f)
    with pytest.raises(InputError, match="regular file|directory"):
        Sysfs(xavier).read_int(f"{P0}/scaling_cur_freq", "current frequency")


@pytest.mark.parametrize("seconds", ["inf", "nan", "-1", "1e300"])
def test_pin_seconds_must_be_finite(odroid: Path, seconds: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main(["hw", "pin", "--sysfs-root", str(odroid), "--gpu", "600000", "--seconds", seconds])
    assert info.value.code == 2 and "--seconds" in capsys.readouterr().err


def test_restore_cli_errors_are_one_line(xavier: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "s.json"
    _write(bad, {"format": "rlrm-hw-state/1", "root": "/", "pid": 2**40, "steps": []})
    assert main(["restore", str(bad), "--sysfs-root", str(xavier)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_errors_escape_terminal_control_characters() -> None:
    err = InputError("f\x1b[2Jx", "k\x07", "bad \x1b]0;pwned\x07 value")
    assert "\x1b" not in str(err) and "\x07" not in str(err)


def test_kernel_write_is_not_called_for_a_refused_path(xavier: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[str] = []
    monkeypatch.setattr(rlrm.hw.sysfs, "kernel_write", lambda p, d: called.append(p))
    with pytest.raises(PermissionError):
        Sysfs(xavier).write("sys/devices/system/cpu/cpu1/online", 0)
    assert called == []


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGQUIT], ids=["SIGHUP", "SIGQUIT"])
def test_rlrm_run_restores_on_sighup_and_sigquit(xavier: Path, tmp_path: Path, state_dir: Path, sig: int) -> None:
    """An ssh session dropping (SIGHUP) or Ctrl-\\ (SIGQUIT) ends ``rlrm run`` with the board put
    back, no state file or lock left, and its background workers gone."""
    from tests.test_run_cli import _gone, _start_run

    before = fake.snapshot_tree(xavier)
    proc, workers = _start_run(xavier, tmp_path, state_dir)
    try:
        proc.send_signal(sig)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    _gone(workers)
    assert fake.snapshot_tree(xavier) == before
    assert list(state_dir.iterdir()) == []


def test_hw_status_escapes_control_characters_in_names(xavier: Path, capsys: pytest.CaptureFixture) -> None:
    (xavier / "sys/devices/virtual/thermal/thermal_zone0/type").write_text("CPU\x1b]0;pwned\x07-therm\n")
    assert main(["hw", "status", "--sysfs-root", str(xavier)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\\x1b]0;pwned" in out
