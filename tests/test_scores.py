"""Normalised score, Pareto marking and matched energy (rlrm.scores)."""

from __future__ import annotations

import math

import pytest

from rlrm.agents.lut import LutPolicy
from rlrm.agents.registry import make_policy
from rlrm.env.dynamic_dnn import DynamicDNNEnv
from rlrm.evaluate import run_episodes
from rlrm.scores import (UNMATCHED, add_energy_vs_matched, add_normalized_scores, dominates, energy_vs_matched,
                         mark_pareto, mean_score, normalized_score)


def row(policy: str, energy: float, miss: float, top1: float, reward: float = 0.0, scenario: str = "s") -> dict:
    return {"policy": policy, "platform": "b", "scenario": scenario, "energy_per_inference_mj": energy,
            "deadline_miss_rate": miss, "accuracy_mean": top1, "reward_mean": reward}


def test_normalized_score_formula_and_undefined_cases() -> None:
    assert normalized_score(0.5, -1.0, 1.0) == 0.75
    assert normalized_score(2.0, -1.0, 1.0) == 1.5  # above the oracle is reported as it is
    assert math.isnan(normalized_score(0.5, 1.0, 1.0))  # oracle == random: no scale
    assert math.isnan(normalized_score(0.5, 1.0, 0.5))  # oracle below random
    assert math.isnan(normalized_score(float("nan"), 0.0, 1.0))
    assert math.isnan(normalized_score(0.5, None, 1.0))
    assert mean_score([0.5, float("nan"), 1.0]) == (0.75, 2, 1)


def test_normalized_score_is_0_for_random_and_1_for_the_oracle_on_the_same_seeds() -> None:
    env = DynamicDNNEnv(platform="jetson-xavier-nx", scenario="bursty", episode_steps=8, units=["gpu"])
    rows = []
    for name, policy in (("random", make_policy("random")), ("oracle", make_policy("oracle")),
                         ("lut", LutPolicy(margin=0.1))):
        summary, _ = run_episodes(policy, env, 2, 3)
        rows.append({"policy": name, "platform": "jetson-xavier-nx", "scenario": "bursty", **summary})
    add_normalized_scores(rows)
    scores = {r["policy"]: r["normalized_score"] for r in rows}
    assert scores["random"] == 0.0
    assert scores["oracle"] == 1.0
    assert 0.0 < scores["lut"] <= 1.0


def test_normalized_scores_are_per_group() -> None:
    rows = [row("random", 1, 0, 70, -1.0, "a"), row("oracle", 1, 0, 70, 1.0, "a"), row("p", 1, 0, 70, 0.0, "a"),
            row("random", 1, 0, 70, 0.0, "b"), row("oracle", 1, 0, 70, 2.0, "b"), row("p", 1, 0, 70, 0.0, "b")]
    add_normalized_scores(rows)
    assert [r["normalized_score"] for r in rows if r["policy"] == "p"] == [0.5, 0.0]


def test_normalized_scores_prefer_a_rows_own_references_unless_nan() -> None:
    rows = [row("random", 1, 0, 70, -1.0), row("oracle", 1, 0, 70, 1.0),
            {**row("p", 1, 0, 70, 0.0), "oracle_reward_mean": float("nan")},  # evaluate --no-oracle
            {**row("q", 1, 0, 70, 0.0), "random_reward_mean": -3.0, "oracle_reward_mean": 1.0}]
    add_normalized_scores(rows)
    assert [r["normalized_score"] for r in rows] == [0.0, 1.0, 0.5, 0.75]


def test_pareto_marking_on_a_hand_made_table() -> None:
    rows = [row("a", 10, 0.00, 78.0), row("b", 12, 0.00, 78.0),  # b: more energy, same rest -> dominated by a
            row("c", 8, 0.10, 78.0),  # cheaper but misses: not dominated
            row("d", 10, 0.00, 77.0),  # dominated by a (lower top-1)
            row("e", 9, 0.00, 76.0),  # cheapest at no misses: not dominated
            row("x", 1, 0.00, 80.0, scenario="other")]  # another scenario dominates nobody here
    mark_pareto(rows)
    marks = {r["policy"]: r["pareto_dominated"] for r in rows}
    assert marks == {"a": False, "b": True, "c": False, "d": True, "e": False, "x": False}
    assert rows[1]["dominated_by"] == ["a"]
    assert not dominates(rows[0], rows[0])  # equal is not dominance


def test_pareto_the_oracle_dominates_nobody() -> None:
    rows = [row("ppo", 10, 0.0, 78.0), row("oracle", 5, 0.0, 79.0)]
    mark_pareto(rows)
    assert [r["pareto_dominated"] for r in rows] == [False, False]


def test_pareto_static_points_dominate_but_are_not_marked() -> None:
    rows = [row("ppo", 10, 0.0, 78.0)]
    mark_pareto(rows, others=[row("fixed:subnet=4", 9, 0.0, 78.0)])
    assert rows[0]["dominated_by"] == ["fixed:subnet=4"]


def test_energy_vs_matched_on_a_hand_made_table() -> None:
    ppo = row("ppo", 8.0, 0.010, 78.0)
    others = [ppo,
              row("oracle", 5.0, 0.0, 79.0),  # never a match
              row("cheap-but-worse", 6.0, 0.0, 77.4),  # top-1 more than 0.5 points lower
              row("misses", 6.5, 0.016, 78.0),  # misses more than 0.005 higher
              row("match-2", 10.0, 0.0, 78.0),
              row("match-1", 9.0, 0.015, 77.5)]  # within both tolerances: the cheapest match
    saving, by = energy_vs_matched(ppo, others)
    assert by == "match-1"
    assert saving == pytest.approx(1 - 8.0 / 9.0)
    assert energy_vs_matched(row("best", 1.0, 0.0, 80.0), others) == (UNMATCHED, None)
    worse, by = energy_vs_matched(row("p", 12.0, 0.0, 78.0), others)
    assert by == "match-2" and worse == pytest.approx(-0.2)


def test_add_energy_vs_matched_uses_static_points_of_the_same_group() -> None:
    rows = [row("ppo", 8.0, 0.0, 78.0), row("lut", 9.0, 0.0, 78.0)]
    add_energy_vs_matched(rows, others=[row("fixed:a", 7.0, 0.0, 78.0), row("fixed:b", 1.0, 0.0, 78.0, scenario="z")])
    assert rows[0]["matched_by"] == "fixed:a"
    assert rows[1]["matched_by"] == "fixed:a"
    assert rows[0]["energy_vs_matched"] == pytest.approx(1 - 8 / 7)
