"""Terminal tables (issue 17, item 2): at most 100 columns by default, one number of decimals
per column, ``--wide`` for everything, ``--json`` for machines; new summary keys fit in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlrm.cli import main
from rlrm.paths import CHECKPOINTS_DIR
from rlrm.table import MAX_WIDTH, column_decimals, default_keys, render


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


def test_evaluate_prints_no_line_over_100_columns(capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", "--policy", "schedutil", "--episodes", "1", "--episode-steps", "5", "--no-oracle"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in _lines(out)) <= MAX_WIDTH
    assert "mJ/inf" in out


def test_evaluate_wide_and_json(capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", "--policy", "schedutil", "--episodes", "1", "--episode-steps", "5", "--no-oracle",
                 "--wide"]) == 0
    assert "E viol" in capsys.readouterr().out
    assert main(["evaluate", "--policy", "schedutil", "--episodes", "1", "--episode-steps", "5", "--no-oracle",
                 "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["policy"] == "schedutil"


def test_compare_prints_no_line_over_100_columns(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    policies = f"schedutil,performance,schedutil+dofa,ppo:{CHECKPOINTS_DIR / 'jetson-xavier-nx-ppo'}"
    assert main(["compare", "--policies", policies, "--seeds", "1", "--episode-steps", "5", "--no-oracle",
                 "--logdir", "cmp"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in _lines(out)) <= MAX_WIDTH, out


def test_platforms_and_policy_info_fit(capsys: pytest.CaptureFixture) -> None:
    assert main(["platforms"]) == 0
    assert main(["policy", "info", str(CHECKPOINTS_DIR / "jetson-xavier-nx-ppo")]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in _lines(out)) <= MAX_WIDTH
    assert "source run   jetson-xavier-nx-ppo" in out
    assert not any(part.startswith("/") for line in _lines(out) for part in line.split() if "source" in line)


def test_one_number_of_decimals_per_column() -> None:
    rows = [{"policy": "a", "energy_per_inference_mj": 1234.5678, "deadline_miss_rate": 0.1},
            {"policy": "b", "energy_per_inference_mj": 2.0, "deadline_miss_rate": 0.25}]
    text = render(rows, ["energy_per_inference_mj", "deadline_miss_rate"])
    body = _lines(text)[2:]
    assert [line.split()[1] for line in body] == ["1234.6", "2.0"]
    assert [line.split()[2] for line in body] == ["0.1000", "0.2500"]
    assert column_decimals([1, 2, 3]) == 0


def test_unknown_keys_fit_in_and_columns_drop_to_fit() -> None:
    rows = [{"policy": "p" * 30, "normalized_score": 0.5, "brand_new_metric": 1.0,
             **{f"metric_{i}": float(i) for i in range(30)}}]
    assert "normalized_score" in default_keys(rows)
    keys = ["normalized_score", "brand_new_metric"] + [f"metric_{i}" for i in range(30)]
    text = render(rows, keys)
    assert max(len(line) for line in text.splitlines()) <= MAX_WIDTH
    assert "score" in text and "brand_new_metric" in text
    wide = render(rows, keys, max_width=None)
    assert "metric_29" in wide
