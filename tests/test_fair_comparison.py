"""The headline arithmetic of ``experiments/fair_comparison.py`` (issue 13's done-when figures)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[1] / "experiments" / "fair_comparison.py"
spec = importlib.util.spec_from_file_location("fair_comparison", PATH)
fc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fc)  # type: ignore[union-attr]


def row(policy: str, scenario: str, score: float, saving: object = "n/a") -> dict:
    return {"platform": "b", "policy": policy, "scenario": scenario, "normalized_score": score,
            "energy_vs_baselines": saving}


def test_headline_means_lowest_and_dynamic_energy_mean() -> None:
    test, train = ["mixed", "fanless-heat", "energy-minute"], ["steady"]
    rows = [row("ppo", "mixed", 0.9, 0.10), row("ppo", "fanless-heat", 0.7, 0.50), row("ppo", "energy-minute", 0.8, 0.02),
            row("ppo", "steady", 1.0, 0.0), row("lut", "mixed", 0.95), row("lut", "fanless-heat", 0.85),
            row("lut", "energy-minute", 0.75), row("static-best", "mixed", 0.6), row("static-best", "fanless-heat", 0.6),
            row("static-best", "energy-minute", 0.6), row("ppo", "mixed", 0.0, 0.9) | {"platform": "other"}]
    h = fc.headline(rows, "b", test, train)
    assert h["ppo"] == pytest.approx(0.8) and h["ppo_min"] == pytest.approx(0.7) and h["ppo_train"] == 1.0
    assert h["lut"] == pytest.approx(0.85) and h["ppo_minus_lut"] == pytest.approx(-0.05)
    assert "fanless-heat" in fc.STEADY  # so its 50 % is reported apart, not averaged
    assert h["energy_dynamic_mean"] == pytest.approx(0.06) and h["unmatched"] == []


def test_headline_lists_unmatched_scenarios_and_skips_undefined_scores() -> None:
    rows = [row("ppo", "mixed", math.nan, "unmatched"), row("ppo", "energy-minute", 0.9, 0.2),
            row("lut", "mixed", 0.5), row("lut", "energy-minute", 0.7)]
    h = fc.headline(rows, "b", ["mixed", "energy-minute"], [])
    assert h["unmatched"] == ["mixed"] and h["energy_dynamic_mean"] == pytest.approx(0.2)
    assert h["ppo"] == pytest.approx(0.9) and h["ppo_min"] == pytest.approx(0.9)
    lines = "\n".join(fc.headline_lines([h], ["mixed", "energy-minute"], {"b": []}))
    assert "no baseline matches PPO on mixed" in lines


def test_the_sets_come_from_the_shipped_configs_and_do_not_overlap() -> None:
    sets = fc.scenario_sets()
    assert sets["test"] and sets["train"] and not set(sets["test"]) & set(sets["train"])
    assert fc.set_of(sets["test"][0], sets) == "test" and fc.set_of("nowhere", sets) == "other"
    assert fc.SCENARIOS[: len(sets["test"])] == sets["test"]


def test_each_board_reports_its_own_training_set() -> None:
    xavier, odroid = fc.scenario_sets("jetson-xavier-nx"), fc.scenario_sets("odroid-xu3")
    assert xavier["test"] == odroid["test"] and set(odroid["train"]) < set(xavier["train"])
    assert set(xavier["train"]) <= set(fc.SCENARIOS) and set(xavier["test"]) <= set(fc.SCENARIOS)
    h = fc.headline([row("ppo", "mixed", 0.9, 0.1), row("lut", "mixed", 0.8)], "b", ["mixed"], [])
    one = "\n".join(fc.headline_lines([h], ["mixed"], {"a": ["steady"], "b": ["steady"]}))
    two = "\n".join(fc.headline_lines([h], ["mixed"], {"a": ["steady", "bursty"], "b": ["steady"]}))
    assert "Training set: steady." in one
    assert "Training sets: a: steady, bursty; b: steady." in two
