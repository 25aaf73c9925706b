"""rlrm.train.train(): hyperparameters as a dict, a callback per evaluation, TrainResult, hparams
record, evaluation on the training scenario unless a held-out set is configured."""

from __future__ import annotations

import pytest
import yaml

from rlrm.errors import InputError
from rlrm.train import TrainResult, train
from rlrm.train.api import choose_scenarios

TINY = {"n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 1, "eval_freq": 64, "n_eval_episodes": 1,
        "checkpoint_freq": 64, "episode_steps": 20, "policy_kwargs": {"net_arch": {"pi": [16], "vf": [16]}}}


def test_train_api_reports_every_evaluation(tmp_path) -> None:
    seen = []
    result = train("jetson-xavier-nx", "steady", hyperparameters={**TINY, "learning_rate": 1.0e-3, "eval_freq": 128},
                   timesteps=192,
                   seed=3, logdir=tmp_path, callbacks=[seen.append])
    assert isinstance(result, TrainResult)
    # evaluations every 128 steps, and one more at the last step
    assert [e.step for e in seen] == [128, 192] and result.curve == seen
    assert result.final_reward == seen[-1].mean_reward
    assert result.best_reward == max(e.mean_reward for e in seen)
    assert {"energy_per_inference_mj", "latency_mean_ms", "deadline_miss_rate"} <= set(seen[-1].metrics)
    run = result.run_dir
    assert run == tmp_path / "jetson-xavier-nx-steady-s3" and (run / "COMPLETE").read_text().strip() == "192"
    snap = yaml.safe_load((run / "config.yaml").read_text())
    # a named scenario is evaluated on itself, not on the config's held-out set, and the run says so
    assert snap["eval_scenarios"] == ["steady"] and snap["evaluated_on"] == "training" == result.evaluated_on
    assert snap["hyperparameters"]["learning_rate"] == 1.0e-3 and snap["seed"] == 3
    events = b"".join(p.read_bytes() for p in (run / "tb").rglob("events.out.tfevents*"))
    assert b"hparams" in events and b"learning_rate" in events  # TensorBoard's HPARAMS tab


def test_callback_can_stop_training(tmp_path) -> None:
    result = train("jetson-xavier-nx", "steady", hyperparameters=TINY, timesteps=640, logdir=tmp_path,
                   callbacks=[lambda e: e.step < 128])
    assert result.stopped_early and [e.step for e in result.curve] == [64, 128] and result.timesteps < 640


def test_bad_hyperparameter_is_one_line(tmp_path) -> None:
    with pytest.raises(InputError, match=r"hyperparameters: gamma: must be <= 1"):
        train("jetson-xavier-nx", "steady", hyperparameters={"gamma": 2.0}, timesteps=64, logdir=tmp_path)
    with pytest.raises(InputError, match=r"hyperparameters: warp: unknown hyperparameter"):
        train("jetson-xavier-nx", "steady", hyperparameters={"warp": 9}, timesteps=64, logdir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_evaluation_scenarios() -> None:
    cfg = {"train_scenarios": ["steady", "bursty"], "eval_scenarios": ["mixed"], "source": "ppo.yaml"}
    assert choose_scenarios("mix", cfg) == (["steady", "bursty"], ["mixed"], "held-out")
    assert choose_scenarios("my/board/scen.toml", cfg) == (["my/board/scen.toml"], ["my/board/scen.toml"], "training")
    assert choose_scenarios("steady", cfg, ["power-cap"]) == (["steady"], ["power-cap"], "held-out")
    assert choose_scenarios("mix", {**cfg, "eval_scenarios": None}) == (["steady", "bursty"], ["steady", "bursty"],
                                                                         "training")
