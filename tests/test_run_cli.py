"""``rlrm run``: a short live run against a fake Xavier NX, its TensorBoard tags, restore and clean-up."""

from __future__ import annotations

import errno
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from rlrm.cli import main
from rlrm.compare.runner import EPISODE_KEYS, STEP_KEYS
from rlrm.hw import fake
from rlrm.paths import CHECKPOINTS_DIR

from tests.hw_support import board_dir, inject, state_dir, xavier  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE}


def _tags(run_dir: Path) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    return set(acc.Tags()["scalars"])


def test_short_run_logs_compare_tags_and_restores_the_tree(xavier: Path, tmp_path: Path,  # noqa: F811
                                                           capsys: pytest.CaptureFixture) -> None:
    before_tree = fake.snapshot_tree(xavier)
    before = _children()
    code = main(["run", "--platform", "jetson-xavier-nx", "--policy", str(CHECKPOINTS_DIR / "jetson-xavier-nx-ppo"),
                 "--model", "demo", "--input", "synthetic", "--scenario", "steady", "--duration", "0.6s",
                 "--period", "0.15", "--logdir", str(tmp_path / "runs"), "--run-name", "live",
                 "--sysfs-root", str(xavier)])
    out = capsys.readouterr().out
    assert code == 0
    assert "mJ/inf" in out and "miss" in out and "decision_us_median:" in out
    tags = _tags(tmp_path / "runs" / "live")
    assert {f"step/{k}" for k in STEP_KEYS} <= tags
    assert {"step/freq_khz/carmel", "step/freq_khz/gpu"} <= tags
    assert {f"episode/{k}" for k in EPISODE_KEYS} <= tags
    assert fake.snapshot_tree(xavier) == before_tree  # restored byte for byte
    assert _children() - before == set()  # no background worker left


def test_governor_observe_only_on_missing_tree_warns_once(tmp_path: Path, state_dir: Path,  # noqa: F811
                                                          capsys: pytest.CaptureFixture,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    code = main(["run", "--policy", "schedutil+dofa", "--scenario", "steady", "--duration", "0.3",
                 "--period", "0.1", "--logdir", str(tmp_path / "runs"), "--run-name", "gov",
                 "--sysfs-root", str(tmp_path / "missing"), "--no-background"])
    out = capsys.readouterr().out
    assert code == 0
    assert "energy estimated" in out
    assert len([r for r in caplog.records if "observe-only" in r.getMessage()]) == 1


@pytest.mark.parametrize("bad", [["--duration", "soon"], ["--duration", "-1"], ["--period", "0"],
                                 ["--model", "ofa:/nonexistent"], ["--input", "/nonexistent-dir"],
                                 ["--policy", "oracle"], ["--policy", "nosuchpolicy"]])
def test_bad_input_is_one_line_exit_2(bad: list[str], tmp_path: Path, state_dir: Path,  # noqa: F811
                                      capsys: pytest.CaptureFixture) -> None:
    args = ["run", "--policy", "schedutil", "--duration", "0.2", "--period", "0.1", "--no-background",
            "--logdir", str(tmp_path), "--sysfs-root", str(tmp_path / "missing")]
    i = args.index(bad[0]) if bad[0] in args else None
    if i is not None:
        args[i + 1] = bad[1]
    else:
        args += bad
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rlrm: error:")


def _start_run(root: Path, tmp_path: Path, state_dir: Path) -> tuple[subprocess.Popen, list[psutil.Process]]:
    """A real ``rlrm run`` (60 s, performance, steady background) on the fake board ``root``, in
    its own process group (as in a terminal), once its workers run and it has written a
    frequency; returns the process (stderr piped) and its workers."""
    before = fake.snapshot_tree(root)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RLRM_STATE_DIR": str(state_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "rlrm", "run", "--policy", "performance", "--scenario", "steady",
                             "--duration", "60s", "--period", "0.2", "--logdir", str(tmp_path / "runs"),
                             "--sysfs-root", str(root)], env=env, cwd=str(ROOT), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    workers: list[psutil.Process] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (workers and fake.snapshot_tree(root) != before):
        time.sleep(0.2)
        workers = psutil.Process(proc.pid).children()
    if not workers or fake.snapshot_tree(root) == before:
        proc.kill()
        proc.communicate()
        pytest.fail("the run never started its workers or never wrote a frequency")
    return proc, workers


def _gone(workers: list[psutil.Process]) -> None:
    """The workers exit (killed here if they do not, so a failure leaves nothing burning CPU)."""
    _, alive = psutil.wait_procs(workers, timeout=20)
    for orphan in alive:
        orphan.kill()
    assert alive == [], f"workers still burning CPU: {alive}"


@pytest.mark.parametrize("sig,group", [(signal.SIGTERM, False), (signal.SIGTERM, True), (signal.SIGINT, True)],
                         ids=["SIGTERM", "SIGTERM to the group", "Ctrl-C (SIGINT to the group)"])
def test_signal_stops_workers_and_restores(xavier: Path, tmp_path: Path, state_dir: Path,  # noqa: F811
                                           sig: int, group: bool) -> None:
    """The controller stops after the current step, writes its summary and TensorBoard episode
    and hparam tags, restores the board and exits 130 with one line; workers that got the
    signal too (Ctrl-C reaches the whole group) go quietly: no traceback from anyone."""
    before_tree = fake.snapshot_tree(xavier)
    proc, workers = _start_run(xavier, tmp_path, state_dir)
    try:
        os.killpg(proc.pid, sig) if group else proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("rlrm: interrupted ("), err
    assert "summary and TensorBoard tags written" in err
    _gone(workers)
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and {"episode/reward_mean", "hparam/reward_mean"} <= _tags(runs[0])
    assert fake.snapshot_tree(xavier) == before_tree
    assert list(state_dir.iterdir()) == []


def test_sigkill_leaves_no_worker_and_rlrm_restore_recovers(xavier: Path, tmp_path: Path,  # noqa: F811
                                                             state_dir: Path) -> None:  # noqa: F811
    """SIGKILL runs no handler: the board keeps rlrm's settings and the state file stays, the
    background workers exit by themselves, and ``rlrm restore`` puts the board back."""
    before_tree = fake.snapshot_tree(xavier)
    proc, workers = _start_run(xavier, tmp_path, state_dir)
    proc.kill()
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    _gone(workers)  # they notice their parent is gone: no one else would ever stop them
    statefiles = sorted(state_dir.glob("rlrm-hw-state-*.json"))
    assert [f.name for f in statefiles] == [f"rlrm-hw-state-{proc.pid}.json"]
    assert main(["restore", str(statefiles[0]), "--sysfs-root", str(xavier)]) == 0
    assert fake.snapshot_tree(xavier) == before_tree and not statefiles[0].exists()


def test_compare_live_backend_on_a_fake_board(xavier: Path, tmp_path: Path,  # noqa: F811
                                              capsys: pytest.CaptureFixture) -> None:
    """rlrm compare --backend live: real demo inferences, one TensorBoard run per policy with
    the compare tags, no normalised score (no oracle live), the fake board restored and no worker left."""
    before_tree = fake.snapshot_tree(xavier)
    before = _children()
    logdir = tmp_path / "cmp"
    code = main(["compare", "--backend", "live", "--platform", "jetson-xavier-nx", "--scenario", "steady",
                 "--policies", f"ppo:{CHECKPOINTS_DIR / 'jetson-xavier-nx-ppo'},schedutil+dofa", "--seeds", "1",
                 "--episode-steps", "3", "--period", "0.15", "--sysfs-root", str(xavier), "--logdir", str(logdir)])
    out = capsys.readouterr().out
    assert code == 0 and "schedutil+dofa" in out
    runs = sorted(p.name for p in logdir.iterdir() if p.is_dir())
    assert len(runs) == 2 and runs[0].startswith("ppo_") and "dofa" in runs[1]
    for run in runs:
        assert {f"step/{k}" for k in STEP_KEYS} <= _tags(logdir / run)
    assert (logdir / "summary.md").exists()
    assert fake.snapshot_tree(xavier) == before_tree
    assert _children() - before == set()


@pytest.mark.parametrize("command", ["run", "compare"])
def test_a_setting_the_kernel_will_not_restore_fails_the_run_and_rlrm_restore_finishes(
        command: str, xavier: Path, tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        capsys: pytest.CaptureFixture) -> None:
    """EBUSY on the GPU's max_freq from the second write on: the pin of a fixed mid frequency
    (one max_freq write, whatever the measured latencies) goes through, putting it back does
    not, so the run exits 1 with one line naming the kept state file; once the file is free,
    ``rlrm restore`` finishes the job. (A PPO policy here made the test depend on the machine's
    load: a policy that picks the maximum never writes max_freq.)"""
    before = fake.snapshot_tree(xavier)
    inject(monkeypatch, "/max_freq", errno.EBUSY, after=1)
    common = ["--platform", "jetson-xavier-nx", "--scenario", "bursty", "--period", "0.1",
              "--sysfs-root", str(xavier)]
    policy = "fixed:subnet=0,unit=gpu,freq=599250"
    if command == "run":
        args = ["run", "--policy", policy, "--duration", "1s", "--no-background", "--logdir", str(tmp_path / "runs"), *common]
    else:
        args = ["compare", "--backend", "live", "--policies", policy, "--seeds", "1", "--episode-steps", "5",
                "--logdir", str(tmp_path / "cmp"), *common]
    code = main(args)
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert code == 1, captured.out + captured.err
    statefiles = sorted(state_dir.glob("rlrm-hw-state-*.json"))
    assert len(statefiles) == 1
    assert err[-1].startswith("rlrm: the board is NOT fully restored: ") and "EBUSY" in err[-1]
    assert err[-1].endswith(f"run `rlrm restore {statefiles[0]}`")
    assert fake.snapshot_tree(xavier) != before
    monkeypatch.undo()  # the device is free again
    assert main(["restore", str(statefiles[0]), "--force", "--sysfs-root", str(xavier)]) == 0
    assert fake.snapshot_tree(xavier) == before and not statefiles[0].exists()
