"""SIGKILL during a training checkpoint write (issue 8): no corrupt snapshot is ever picked up,
and ``rlrm train --resume`` continues from the last good one and clears the crash's debris.

A real ``rlrm train`` runs in a subprocess. To kill it *while* a checkpoint is being written,
deterministically and without test hooks in ``rlrm``, it is started through a small wrapper
that wraps ``os.fsync`` (or ``os.unlink``, for the pruning of old checkpoints): when the call
concerns the file the test names, the wrapper leaves that file half written (the first half of
its bytes, as a crash in the middle of ``write`` would), drops a marker file and sleeps. The
test waits for the marker and sends SIGKILL, so the process dies with the half-written
temporary on disk, exactly as in a real crash.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import pytest

from rlrm.cli import main
from rlrm.policy.spec import read_obs_norm
from rlrm.train.callbacks import latest_snapshot, trim_jsonl_log
from tests.test_train import _tiny_config

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd (Linux)")

WORKTREE = Path(__file__).resolve().parents[1]
#: what the killed runs are resumed to
RESUME_TO = 384
#: a guard against a hung subprocess (the test fails, it never passes on time)
HANG_GUARD_S = 300.0

#: Runs ``rlrm`` with ``os.fsync`` or ``os.unlink`` wrapped: the first call on a path matching
#: ``$KILL_AT`` leaves the file half written (fsync, with ``$KILL_TRUNCATE``) or removed
#: (unlink), writes that path to ``$KILL_MARKER`` and sleeps until killed.
WRAPPER = r"""
import os, re, sys, time

kill_at = re.compile(os.environ["KILL_AT"])
marker = os.environ["KILL_MARKER"]
truncate = os.environ.get("KILL_TRUNCATE") == "1"

def _fd_path(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""

def _stop_here(path):
    tmp = marker + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(path)
    os.rename(tmp, marker)
    while True:
        time.sleep(3600)

if os.environ["KILL_ON"] == "fsync":
    real_fsync = os.fsync

    def fsync(fd):
        path = _fd_path(fd)
        if kill_at.search(path):
            if truncate:
                os.ftruncate(fd, os.fstat(fd).st_size // 2)
            real_fsync(fd)
            _stop_here(path)
        return real_fsync(fd)

    os.fsync = fsync
else:
    real_unlink = os.unlink

    def unlink(path, *, dir_fd=None):
        folder = _fd_path(dir_fd) if dir_fd is not None else os.path.dirname(os.path.abspath(path))
        full = os.path.join(folder, os.path.basename(path))
        real_unlink(path, dir_fd=dir_fd)
        if kill_at.search(full):
            _stop_here(full)

    os.unlink = unlink

from rlrm.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _start(args: list[str], log: Path, kill_on: Optional[str] = None, kill_at: str = "", truncate: bool = False,
           marker: Optional[Path] = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(WORKTREE)}
    if kill_on:
        env.update(KILL_ON=kill_on, KILL_AT=kill_at, KILL_MARKER=str(marker), KILL_TRUNCATE="1" if truncate else "0")
        cmd = [sys.executable, "-c", WRAPPER, *args]
    else:
        cmd = [sys.executable, "-m", "rlrm", *args]
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)


def _kill(proc: subprocess.Popen) -> int:
    os.kill(proc.pid, signal.SIGKILL)
    return proc.wait()


def _reap(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _wait_for(proc: subprocess.Popen, marker: Path, log: Path) -> None:
    deadline = time.monotonic() + HANG_GUARD_S
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(f"training ended (exit {proc.returncode}) before the kill point:\n{log.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"no kill point reached within {HANG_GUARD_S} s:\n{log.read_text()}")
        time.sleep(0.02)


def _snapshot_dirs(run: Path) -> list[Path]:
    """Every folder a reader could take for a snapshot: the run and its ``step_*`` checkpoints."""
    return [run, *sorted((run / "checkpoints").glob("step_*"))]


def _check_no_corrupt_snapshot(run: Path) -> None:
    """Every snapshot folder holding a ``COMPLETE`` marker loads entirely, at the step it names."""
    from sb3_contrib import MaskablePPO

    for folder in _snapshot_dirs(run):
        if not (folder / "COMPLETE").exists():
            continue
        missing = [f for f in ("model.zip", "obs_norm.npz") if not (folder / f).is_file()]
        assert not missing, f"{folder} is marked COMPLETE but lacks {missing}"
        steps = int((folder / "COMPLETE").read_text().strip())
        assert MaskablePPO.load(folder / "model.zip", device="cpu").num_timesteps == steps, folder
        read_obs_norm(folder / "obs_norm.npz")
        if folder != run:
            assert folder.name == f"step_{steps:09d}"


def _debris(run: Path) -> list[Path]:
    """Temporaries of interrupted writes: hidden entries at the run's top level or in checkpoints/."""
    return sorted(p for folder in (run, run / "checkpoints") if folder.is_dir()
                  for p in folder.iterdir() if p.name.startswith("."))


def _resume_in_process(run: Path, timesteps: int, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """``rlrm train --resume``; returns ``(num_timesteps, total_timesteps)`` at each ``learn`` call."""
    from sb3_contrib import MaskablePPO

    calls: list[tuple[int, int]] = []
    learn = MaskablePPO.learn

    def spy(self, total_timesteps, *args, **kwargs):  # noqa: ANN001, ANN202
        calls.append((self.num_timesteps, total_timesteps))
        return learn(self, total_timesteps, *args, **kwargs)

    monkeypatch.setattr(MaskablePPO, "learn", spy)
    assert main(["train", "--resume", str(run), "--timesteps", str(timesteps), "--no-progress"]) == 0
    return calls


def _check_resumed(run: Path, calls: list[tuple[int, int]], start: int, timesteps: int) -> None:
    from sb3_contrib import MaskablePPO

    assert calls == [(start, timesteps - start)], "resume did not continue from the last good checkpoint"
    assert (run / "COMPLETE").read_text().strip() == str(timesteps)
    assert MaskablePPO.load(run / "model.zip", device="cpu").num_timesteps == timesteps
    assert latest_snapshot(run) == run
    _check_no_corrupt_snapshot(run)
    assert _debris(run) == [], "resume left the crash's temporaries behind"
    # the evaluation log reads whole, each step once, in order: nothing half-written or repeated
    steps = [json.loads(line)["timesteps"] for line in (run / "eval" / "eval_log.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] <= timesteps


def test_trim_jsonl_log(tmp_path: Path) -> None:
    log = tmp_path / "eval_log.jsonl"
    log.write_text('{"timesteps": 64}\n{"timesteps": 128}\n{"timesteps": 192}\n{"timesteps": 2')
    assert trim_jsonl_log(log, 128) == 2
    assert log.read_text() == '{"timesteps": 64}\n{"timesteps": 128}\n'
    assert trim_jsonl_log(log, 128) == 0 and trim_jsonl_log(tmp_path / "none.jsonl", 0) == 0


#: the staging folder of the checkpoint at step 256
STAGING_256 = r"/checkpoints/\.step_000000256\.[^/]+/"
# (kill on, path regex, truncate, timesteps of the killed run, step resume must start from)
CASES = {
    # half of the checkpoint's model.zip written to its temporary file in the staging folder
    "checkpoint-model": ("fsync", STAGING_256 + r"\.model\.zip\.[^/]+\.tmp$", True, 384, 192),
    # model.zip complete in the staging folder, half of obs_norm.npz written
    "checkpoint-obs-norm": ("fsync", STAGING_256 + r"\.obs_norm\.npz\.[^/]+\.tmp$", True, 384, 192),
    # the staging folder complete, COMPLETE marker included, not yet renamed into place
    "checkpoint-publish": ("fsync", STAGING_256 + r"COMPLETE$", False, 384, 192),
    # the oldest checkpoint being pruned after step 256 was published: one file already gone
    "checkpoint-prune": ("unlink", r"/checkpoints/[^/]*step_000000064[^/]*/[^/]+$", False, 384, 256),
    # the final model.zip half written (the checkpoint of the same step is complete)
    "final-model": ("fsync", r"/r/\.model\.zip\.[^/]+\.tmp$", True, 256, 256),
}


@pytest.mark.parametrize("case", list(CASES))
def test_sigkill_during_checkpoint_write_then_resume(case: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    kill_on, kill_at, truncate, timesteps, good_step = CASES[case]
    cfg = _tiny_config(tmp_path)
    run, marker, log = tmp_path / "r", tmp_path / "killed-at", tmp_path / "train.log"
    proc = _start(["train", "--scenario", "mix", "--config", str(cfg), "--timesteps", str(timesteps), "--seed", "3",
                   "--logdir", str(tmp_path), "--name", "r", "--no-progress"], log, kill_on, kill_at, truncate, marker)
    try:
        _wait_for(proc, marker, log)
        assert _kill(proc) == -signal.SIGKILL
    finally:
        _reap(proc)

    # the kill really happened in the middle of the write: its temporary is on disk, cut short
    victim = Path(marker.read_text())
    assert re.search(kill_at, str(victim))
    if kill_on == "fsync":
        assert victim.exists()
        if truncate:
            assert victim.stat().st_size > 0 and victim.read_bytes()[:2] == b"PK"

    # nothing corrupt is taken for a snapshot; the last good checkpoint is the one to resume from
    assert not (run / "COMPLETE").exists(), "the killed run must not look finished"
    _check_no_corrupt_snapshot(run)
    assert _debris(run), "a write was interrupted, so its temporary must be left over"
    good = latest_snapshot(run)
    assert good == run / "checkpoints" / f"step_{good_step:09d}"
    assert (good / "COMPLETE").read_text().strip() == str(good_step)

    calls = _resume_in_process(run, RESUME_TO, monkeypatch)
    _check_resumed(run, calls, good_step, RESUME_TO)
    # the step whose checkpoint the crash interrupted is checkpointed again, cleanly
    if good_step < 256:
        redo = run / "checkpoints" / "step_000000256"
        assert (redo / "COMPLETE").read_text().strip() == "256"


def test_remove_temporaries_touches_nothing_else(tmp_path: Path) -> None:
    from rlrm.atomic import atomic_remove_dir, make_staging_dir, remove_temporaries

    keep = [tmp_path / n for n in ("step_000000064", "model.zip", ".hidden", "x.tmp", ".cache")]
    for p in keep:
        p.mkdir() if p.name.startswith("step_") else p.write_text("x")
    (keep[0] / "COMPLETE").write_text("64\n")
    staging = make_staging_dir(tmp_path / "step_000000128")
    (staging / "model.zip").write_text("half")
    junk = [staging, tmp_path / ".model.zip.abc123.tmp", tmp_path / ".step_000000000.old"]
    junk[1].write_text("half")
    junk[2].mkdir()
    assert sorted(remove_temporaries(tmp_path)) == sorted(junk)
    assert sorted(tmp_path.iterdir()) == sorted(keep)
    atomic_remove_dir(keep[0])
    atomic_remove_dir(keep[0])  # gone already: nothing to do
    assert sorted(tmp_path.iterdir()) == sorted(keep[1:])
    assert remove_temporaries(tmp_path / "missing") == []


def _new_staging(checkpoints: Path, seen: set[str]) -> Optional[str]:
    """The name of a checkpoint folder being written that was not in ``seen``, if any."""
    try:
        names = os.listdir(checkpoints)
    except FileNotFoundError:
        return None
    fresh = [n for n in names if n.startswith(".step_") and n.endswith(".tmp") and n not in seen]
    return fresh[0] if fresh else None


def test_sigkill_at_arbitrary_moments_then_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No patch: each round (a fresh run, then ``--resume`` in a subprocess) is killed a few
    milliseconds after a checkpoint write is seen to start; the invariants hold after every kill."""
    timesteps = 2048
    cfg = _tiny_config(tmp_path)
    run, checkpoints = tmp_path / "r", tmp_path / "r" / "checkpoints"
    kills = 0
    # (which new checkpoint write to wait for, then how long to wait before SIGKILL); the first
    # round waits for the second write, so one checkpoint is complete to resume from
    rounds = [(2, 0.0), (2, 0.001), (1, 0.003), (2, 0.006), (1, 0.012), (2, 0.025)]
    for i, (nth, delay) in enumerate(rounds):
        if i == 0:
            args = ["train", "--scenario", "mix", "--config", str(cfg), "--timesteps", str(timesteps), "--seed", "5",
                    "--logdir", str(tmp_path), "--name", "r", "--no-progress"]
        else:
            args = ["train", "--resume", str(run), "--timesteps", str(timesteps), "--no-progress"]
        log = tmp_path / f"round{i}.log"
        seen = set(os.listdir(checkpoints)) if checkpoints.is_dir() else set()
        proc = _start(args, log)
        try:
            deadline, count = time.monotonic() + HANG_GUARD_S, 0
            while count < nth and proc.poll() is None:
                name = _new_staging(checkpoints, seen)
                if name is None:
                    time.sleep(0.0005)
                    if time.monotonic() > deadline:
                        pytest.fail(f"round {i}: no checkpoint write seen within {HANG_GUARD_S} s:\n{log.read_text()}")
                    continue
                seen.add(name)
                count += 1
            if proc.poll() is None:
                time.sleep(delay)
                rc = _kill(proc)
            else:
                rc = proc.returncode
        finally:
            _reap(proc)
        if rc == 0:  # it got to the end before the kill: nothing left to interrupt
            break
        assert rc == -signal.SIGKILL, f"round {i}: exit {rc}:\n{log.read_text()}"
        kills += 1
        assert not (run / "COMPLETE").exists(), f"round {i}: the killed run must not look finished"
        _check_no_corrupt_snapshot(run)
        assert latest_snapshot(run) is not None, f"round {i}: a checkpoint write had started, an earlier one exists"
    assert kills >= 1, "no round was killed"

    good = latest_snapshot(run)
    start = int((good / "COMPLETE").read_text().strip())
    calls = _resume_in_process(run, timesteps, monkeypatch)
    _check_resumed(run, calls, start, timesteps)
