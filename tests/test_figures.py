"""Comparison figures (issue 17, item 8): events marked, every app drawn, error bars, live label."""

from __future__ import annotations

from pathlib import Path

from rlrm.compare.report import _live_tag, scenario_events, write_report
from rlrm.compare.runner import parse_policies, run_compare


def test_scenario_events_from_a_series() -> None:
    a = {"latency_ms": 1.0, "subnet": 0, "unit": "gpu", "freq_khz": 1}
    series = [
        {"step": 0, "target_latency_ms": 50.0, "power_budget_w": 10.0, "apps": [a, None]},
        {"step": 1, "target_latency_ms": 50.0, "power_budget_w": 10.0, "apps": [a, a]},
        {"step": 2, "target_latency_ms": 40.0, "power_budget_w": 8.0, "apps": [a, a]},
        {"step": 3, "target_latency_ms": 40.0, "power_budget_w": 8.0, "apps": [a, None]},
    ]
    assert scenario_events(series) == [(1, "app 1 starts"), (2, "deadline changes"), (2, "power budget changes"),
                                       (3, "app 1 stops")]


def test_live_runs_are_labelled() -> None:
    assert _live_tag({"backend": "live"}) == " (live)" and _live_tag({"backend": "sim"}) == ""


def test_two_app_comparison_keeps_every_app_in_the_series(tmp_path: Path) -> None:
    result = run_compare(parse_policies("schedutil,random"), "jetson-xavier-nx", "second-app", 2, 0, tmp_path,
                         episode_steps=80, oracle=False)
    series = result["rows"][0]["timeseries"]
    assert all(len(s["apps"]) == 2 for s in series)
    assert any(label == "app 1 starts" for _, label in scenario_events(series))
    for f in write_report(result, tmp_path):
        assert f.is_file() and f.stat().st_size > 0
