"""rlrm sweep: search spaces (fast, no Ray), and a sweep on a local Ray that is interrupted mid-way
and resumed (finished trials are not rerun, the interrupted one continues from its checkpoint)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from rlrm.errors import InputError
from rlrm.sweep.space import load_search

ROOT = Path(__file__).resolve().parents[1]
#: a tiny agent config: a trial of 1600 steps takes seconds
TINY = {"default": {"n_envs": 2, "n_steps": 32, "batch_size": 64, "n_epochs": 1, "eval_freq": 320,
                    "n_eval_episodes": 1, "checkpoint_freq": 320, "episode_steps": 20,
                    "policy_kwargs": {"net_arch": {"pi": [16], "vf": [16]}, "activation_fn": "tanh"}}}


def _write(path: Path, data) -> Path:  # noqa: ANN001
    path.write_text(yaml.safe_dump(data))
    return path


def test_search_space_file_is_checked(tmp_path) -> None:
    good = load_search(ROOT / "agents" / "sweep.yaml")
    assert "learning_rate" in good["hyperparameters"]
    cases = {
        "hyperparameters: {gamma: {uniform: [0.5, 1.5]}}": r"hyperparameters\.gamma: must be <= 1",
        "hyperparameters: {learning_rate: {loguniform: [0.0, 1.0e-3]}}": r"learning_rate\.loguniform: needs low > 0",
        "hyperparameters: {n_epochs: {choice: []}}": r"n_epochs\.choice: expected a non-empty list",
        "hyperparameters: {warp: {choice: [1]}}": r"hyperparameters\.warp: unknown hyperparameter",
        "seed: {grid: [0, -1]}": r"seed: expected an integer",
        "platform: {uniform: [0, 1]}": r"platform\.uniform: only choice or grid here",
        "boards: [a]": r"boards: unknown key",
        "hyperparameters: {gamma: {uniform: [0.5, 0.1]}}": r"gamma\.uniform: expected \[low, high\] with low < high",
    }
    for text, message in cases.items():
        path = tmp_path / "s.yaml"
        path.write_text(text)
        with pytest.raises(InputError, match=message):
            load_search(path)


def test_param_space_grids_boards() -> None:
    pytest.importorskip("ray.tune")
    from rlrm.sweep.space import param_space

    space = param_space({"seed": {"grid": [1, 2]}, "hyperparameters": {"gamma": {"uniform": [0.1, 0.9]}, "n_epochs": 3}},
                        ["jetson-xavier-nx", "odroid-xu3"], "steady")
    assert space["platform"] == {"grid_search": ["jetson-xavier-nx", "odroid-xu3"]}
    assert space["seed"] == {"grid_search": [1, 2]} and space["scenario"] == "steady"
    assert space["hyperparameters"]["n_epochs"] == 3 and hasattr(space["hyperparameters"]["gamma"], "sample")


def _sweep(*args: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "rlrm", "sweep", *args], cwd=ROOT, env=env,
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def _trial_runs(root: Path) -> dict:
    """n_epochs -> run folder of each trial."""
    runs = {}
    for cfg in (root / "sweep").glob("trial_*/run/config.yaml"):
        runs[yaml.safe_load(cfg.read_text())["hyperparameters"]["n_epochs"]] = cfg.parent
    return runs


def test_interrupted_sweep_resumes_without_rerunning_finished_trials(tmp_path) -> None:
    pytest.importorskip("ray.tune")
    config = _write(tmp_path / "tiny.yaml", TINY)
    # a grid in this order on one CPU: the quick trial (1 epoch) runs first, then the slow one
    search = _write(tmp_path / "search.yaml", {"seed": 5, "hyperparameters": {"n_epochs": {"grid": [1, 60]}}})
    root, log = tmp_path / "sweep", tmp_path / "sweep.log"
    proc = _sweep("--scenario", "steady", "--config", str(config), "--search", str(search), "--timesteps", "1600",
                  "--num-cpus", "1", "--logdir", str(root), log=log)
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            runs = _trial_runs(root)
            slow_checkpoints = list(runs[60].parent.glob("checkpoint_*")) if 60 in runs else []
            if 1 in runs and (runs[1] / "COMPLETE").exists() and slow_checkpoints:
                break
            time.sleep(0.1)
        assert proc.poll() is None, f"the sweep ended before it could be interrupted:\n{log.read_text()[-3000:]}"
        proc.send_signal(signal.SIGINT)  # Ctrl-C: Tune saves its state and stops
        assert proc.wait(timeout=300) == 1, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "rlrm sweep --resume" in log.read_text()
    runs = _trial_runs(root)
    quick_log = (runs[1] / "train_log.jsonl").read_text()
    assert not (runs[60] / "COMPLETE").exists()
    rows = {r["hyperparameters"]["n_epochs"]: r for r in json.loads((root / "summary.json").read_text())["trials"]}
    assert rows[1]["status"] == "finished" and rows[60]["status"] == "interrupted"

    proc = _sweep("--resume", str(root), "--num-cpus", "1", log=log)
    assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]
    assert (runs[1] / "train_log.jsonl").read_text() == quick_log  # the finished trial did not train again
    slow = [json.loads(line) for line in (runs[60] / "train_log.jsonl").read_text().splitlines()]
    assert [e["resumed"] for e in slow] == [True] and slow[-1]["timesteps"] == 1600  # continued, not restarted
    rows = {r["hyperparameters"]["n_epochs"]: r for r in json.loads((root / "summary.json").read_text())["trials"]}
    assert {r["status"] for r in rows.values()} == {"finished"} and all(r["final_reward"] is not None
                                                                         for r in rows.values())
    assert "| finished |" in (root / "summary.md").read_text()


def test_bad_board_or_scenario_is_one_line_before_ray_starts(tmp_path, capsys) -> None:
    from rlrm.cli import main

    search = _write(tmp_path / "search.yaml", {"hyperparameters": {"n_epochs": {"choice": [1, 2]}}})
    assert main(["sweep", "--platform", "jetson-xavier-nx,no-such-board", "--search", str(search),
                 "--timesteps", "64", "--logdir", str(tmp_path / "d")]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not (tmp_path / "d").exists()
    assert main(["sweep", "--scenario", "no-such-scenario", "--search", str(search), "--timesteps", "64",
                 "--logdir", str(tmp_path / "d")]) == 2
    assert "no-such-scenario" in capsys.readouterr().err and not (tmp_path / "d").exists()
    assert main(["sweep", "--resume", str(tmp_path / "nothing")]) == 2
    assert "sweep.json" in capsys.readouterr().err


def test_asha_scheduler_counts_steps() -> None:
    pytest.importorskip("ray.tune")
    from ray.tune.schedulers import ASHAScheduler

    from rlrm.sweep.runner import _scheduler, make_settings

    settings = make_settings(["jetson-xavier-nx"], "steady", "ppo", {}, 2, 80_000, "asha")
    scheduler = _scheduler(settings)
    assert isinstance(scheduler, ASHAScheduler) and scheduler._time_attr == "step" and scheduler._max_t == 80_000
    assert _scheduler({**settings, "scheduler": "fifo"}) is None
    with pytest.raises(InputError, match="--num-samples: num_samples: must be >= 1"):
        make_settings(["jetson-xavier-nx"], "steady", "ppo", {}, 0, 100, "fifo")
