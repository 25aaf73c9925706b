"""Dynamic-OFA's reactive manager and the governor baselines in the environment."""

from __future__ import annotations

import json

from rlrm.agents.baselines import DofaManager
from rlrm.agents.registry import make_policy
from rlrm.cli import main
from rlrm.env import DynamicDNNEnv
from rlrm.evaluate import run_episodes


def test_dofa_manager_steps_down_on_latency_and_up_on_accuracy() -> None:
    m = DofaManager(6, window=20)
    assert m.level == 5
    assert m.update(70.0, 10, 79.0, 60.0, 0.0) == 5  # 10 inferences: window not full yet
    assert m.update(70.0, 10, 79.0, 60.0, 0.0) == 4  # 20 inferences, mean 70 > 60: down
    assert m.update(50.0, 25, 78.0, 60.0, 0.0) == 4  # mean 50: stay
    assert m.update(50.0, 25, 76.0, 60.0, 77.0) == 5  # accuracy below floor: up


def test_dofa_holds_the_deadline_after_second_app_starts() -> None:
    """As in the Dynamic-OFA demo: the second app slows the GPU and the manager steps down."""
    env = DynamicDNNEnv(scenario="second-app", episode_steps=120)
    pol = make_policy("performance+dofa")
    obs, info = env.reset(seed=0)
    pol.reset(env, seed=0)
    levels = []
    for _ in range(120):
        obs, r, term, trunc, info = env.step(pol.act(env, obs, info))
        pol.observe(info)
        levels.append(info["subnet"])
    assert max(levels[70:]) < max(levels[:59])
    fixed = run_episodes(make_policy("performance"), env, 1, seed=0)[0]
    dofa = run_episodes(make_policy("performance+dofa"), env, 1, seed=0)[0]
    assert dofa["deadline_miss_rate"] < fixed["deadline_miss_rate"] / 3


def test_powersave_is_slowest_and_performance_fastest() -> None:
    env = DynamicDNNEnv(scenario="steady", episode_steps=30)
    lat = {n: run_episodes(make_policy(n), env, 1, seed=0)[0]["latency_mean_ms"]
           for n in ("performance", "powersave", "schedutil")}
    assert lat["powersave"] > lat["schedutil"] >= lat["performance"]


def test_evaluate_cli_writes_json(tmp_path, capsys) -> None:
    out = tmp_path / "r.json"
    assert main(["evaluate", "--policy", "schedutil+dofa", "--scenario", "second-app", "--episodes", "2",
                 "--seed", "3", "--episode-steps", "30", "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    for key in ("energy_per_inference_mj", "latency_mean_ms", "latency_p95_ms", "deadline_miss_rate",
                "accuracy_mean", "power_violation_rate", "reward_mean", "normalized_score",
                "policy", "platform", "scenario", "episodes", "seed"):
        assert key in d
    assert d["policy"] == "schedutil+dofa" and d["episodes"] == 2 and d["seed"] == 3
    assert d["normalized_score"] == ((d["reward_mean"] - d["random_reward_mean"])
                                     / (d["oracle_reward_mean"] - d["random_reward_mean"]))
    assert d["reward_mean"] <= d["oracle_reward_mean"]
    assert "schedutil+dofa" in capsys.readouterr().out
    assert main(["evaluate", "--policy", "nope"]) == 2


def test_evaluate_lut_json_has_normalized_score_and_margin(tmp_path) -> None:
    out = tmp_path / "lut.json"
    assert main(["evaluate", "--policy", "lut", "--scenario", "steady", "--episodes", "1", "--seed", "0",
                 "--episode-steps", "8", "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    assert isinstance(d["normalized_score"], float) and "oracle_reward_fraction" not in d
    assert d["choice"]["margin"] is not None and all(s >= 10000 for s in d["choice"]["seeds"])


def test_evaluate_scores_random_0_and_oracle_1_on_the_same_seeds() -> None:
    from rlrm.evaluate import evaluate

    kw = {"episode_steps": 10, "units": ["gpu"]}
    rnd = evaluate("random", "jetson-xavier-nx", "bursty", 2, 5, env_kwargs=kw)
    orc = evaluate("oracle", "jetson-xavier-nx", "bursty", 2, 5, env_kwargs=kw)
    gov = evaluate("schedutil", "jetson-xavier-nx", "bursty", 2, 5, env_kwargs=kw)
    assert rnd["normalized_score"] == 0.0 and orc["normalized_score"] == 1.0
    assert rnd["reward_mean"] == orc["random_reward_mean"] == gov["random_reward_mean"]
    assert orc["reward_mean"] == rnd["oracle_reward_mean"] == gov["oracle_reward_mean"]
    assert gov["normalized_score"] < 1.0
