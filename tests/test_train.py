"""rlrm train: a short run end to end, resume, configs, atomic checkpoints."""

from __future__ import annotations

import json

import pytest
import yaml

from rlrm.cli import main
from rlrm.errors import InputError
from rlrm.train.callbacks import latest_snapshot
from rlrm.train.config import load_config


def _tiny_config(tmp_path, **extra):
    cfg = {"default": {"n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 1, "eval_freq": 64,
                       "n_eval_episodes": 1, "checkpoint_freq": 64, "episode_steps": 20,
                       "policy_kwargs": {"net_arch": {"pi": [16], "vf": [16]}, "activation_fn": "tanh"}, **extra},
           "rlrm/DynamicDNN-v0": {"train_scenarios": ["steady", "bursty"], "eval_scenarios": ["second-app"],
                                  "randomization": {"latency_scale": [0.9, 1.1], "freq_dropout": 0.1}}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _readme_recipe_matches_export(run, out) -> None:
    """README.txt's code, run as written from the run folder, acts as the exported NumPy policy does."""
    import os

    from rlrm.env import DynamicDNNEnv
    from rlrm.policy import load
    from rlrm.policy.export import export_run

    code = [line[4:] for line in (run / "README.txt").read_text().splitlines() if line.startswith("    ")]
    assert len(code) == 4 and "obs_norm.npz" in code[1] and "norm.apply(obs)" in code[2]
    env = DynamicDNNEnv(platform="jetson-xavier-nx", scenario="steady")
    obs, _ = env.reset(seed=3)
    scope = {"env": env, "obs": obs}
    here = os.getcwd()
    os.chdir(run)
    try:
        exec("\n".join(code[:3]), scope)  # noqa: S102 - the README's recipe, as a user would paste it
    finally:
        os.chdir(here)
    export_run(run, out)
    ours, _ = load(out).predict(obs, action_masks=env.action_masks())
    assert int(scope["action"]) == int(ours)


def test_short_run_then_resume(tmp_path) -> None:
    from sb3_contrib import MaskablePPO
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = _tiny_config(tmp_path)
    assert main(["train", "--scenario", "mix", "--config", str(cfg), "--timesteps", "128", "--seed", "1",
                 "--logdir", str(tmp_path), "--name", "run", "--no-progress"]) == 0
    run = tmp_path / "run"
    for f in ("config.yaml", "env.json", "model.zip", "obs_norm.npz", "COMPLETE"):
        assert (run / f).exists(), f
    snap = yaml.safe_load((run / "config.yaml").read_text())
    assert snap["seed"] == 1 and snap["train_scenarios"] == ["steady", "bursty"] and "torch" in snap["versions"]
    env_json = json.loads((run / "env.json").read_text())
    assert len(env_json["action_table"]) == 990 and len(env_json["observation_names"]) == 28
    model = MaskablePPO.load(run / "model.zip", device="cpu")
    assert model.num_timesteps == 128
    _readme_recipe_matches_export(run, tmp_path / "exported")
    assert latest_snapshot(run) == run
    # resume: the step count continues and the same TensorBoard run gets the new points
    assert main(["train", "--resume", str(run), "--timesteps", "256", "--no-progress"]) == 0
    assert MaskablePPO.load(run / "model.zip", device="cpu").num_timesteps == 256
    tb = sorted((run / "tb").iterdir())
    assert [p.name for p in tb] == ["PPO_1"]
    acc = EventAccumulator(str(tb[0]))
    acc.Reload()
    steps = [e.step for e in acc.Scalars("time/fps")]
    assert max(steps) > 128 and "rlrm/energy_per_inference_mj" in acc.Tags()["scalars"]


def test_resume_falls_back_to_last_complete_checkpoint(tmp_path, capsys) -> None:
    cfg = _tiny_config(tmp_path)
    assert main(["train", "--scenario", "steady", "--config", str(cfg), "--timesteps", "192", "--logdir", str(tmp_path),
                 "--name", "r", "--no-progress"]) == 0
    run = tmp_path / "r"
    # a crash while writing the final model: the marker is gone, a half file is left
    (run / "COMPLETE").unlink()
    (run / "model.zip").write_bytes(b"PK\x03\x04 truncated")
    snap = latest_snapshot(run)
    assert snap is not None and snap.parent.name == "checkpoints"
    # export refuses the unfinished pair, and takes the last checkpoint instead
    assert main(["export", str(run), "-o", str(tmp_path / "ck")]) == 2
    assert "COMPLETE: marker missing" in capsys.readouterr().err
    assert main(["export", str(snap), "-o", str(tmp_path / "ck")]) == 0
    # the evaluation log got an entry after that checkpoint, then half a line
    eval_log = run / "eval" / "eval_log.jsonl"
    with open(eval_log, "a") as fh:
        fh.write('{"timesteps": 224, "reward_mean": 0.5}\n{"timesteps": 2')
    assert main(["train", "--resume", str(run), "--timesteps", "256", "--no-progress"]) == 0
    assert (run / "COMPLETE").read_text().strip() == "256"
    steps = [json.loads(line)["timesteps"] for line in eval_log.read_text().splitlines()]
    assert steps == sorted(set(steps)) and 224 not in steps and steps[-1] == 256


def test_config_validation(tmp_path) -> None:
    cfg = load_config("ppo", "rlrm/DynamicDNN-v0")
    assert cfg["n_envs"] >= 1 and "train_scenarios" in cfg
    bad = tmp_path / "bad.yaml"
    for text, field in (("default: {learnin_rate: 0.1}", "default.learnin_rate"),
                        ("default: {gamma: -1}", "default.gamma"),
                        ("default: {n_envs: 0}", "default.n_envs"),
                        ("default: {policy_kwargs: {activation_fn: gelu}}", "default.policy_kwargs.activation_fn"),
                        ("default: [1, 2", "<yaml>")):
        bad.write_text(text)
        with pytest.raises(InputError) as err:
            load_config(bad, "rlrm/DynamicDNN-v0")
        assert err.value.field == field
    assert main(["train", "--config", str(bad), "--timesteps", "10", "--logdir", str(tmp_path)]) == 2


def test_existing_run_is_not_overwritten(tmp_path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "config.yaml").write_text("{}")
    with pytest.raises(InputError):
        from rlrm.train.api import train

        train(scenario="steady", config=_tiny_config(tmp_path), timesteps=10, logdir=tmp_path, run_name="x")
