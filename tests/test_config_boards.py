"""Per-board overrides in an agent config (``boards:`` in an entry of ``agents/*.yaml``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rlrm.env import ENV_ID
from rlrm.errors import InputError
from rlrm.paths import AGENTS_DIR
from rlrm.train.api import resolve_hyperparameters
from rlrm.train.config import load_config

SHIPPED = yaml.safe_load((AGENTS_DIR / "ppo.yaml").read_text())


def write(tmp_path: Path, boards: dict, where: str = ENV_ID) -> Path:
    doc = {"default": dict(SHIPPED["default"]), ENV_ID: {k: v for k, v in SHIPPED[ENV_ID].items() if k != "boards"}}
    doc[where]["boards"] = boards
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_the_override_applies_to_its_board_only(tmp_path: Path) -> None:
    path = write(tmp_path, {"odroid-xu3": {"train_scenarios": ["steady", "bursty"], "gamma": 0.9}})
    odroid = load_config(path, ENV_ID, platform="odroid-xu3")
    xavier = load_config(path, ENV_ID, platform="jetson-xavier-nx")
    anywhere = load_config(path, ENV_ID)
    assert odroid["train_scenarios"] == ["steady", "bursty"] and odroid["gamma"] == 0.9
    assert xavier["train_scenarios"] == SHIPPED[ENV_ID]["train_scenarios"] == anywhere["train_scenarios"]
    assert xavier["gamma"] == SHIPPED["default"]["gamma"]
    assert "boards" not in odroid and "boards" not in anywhere  # the run's config.yaml holds the merged entry


def test_an_entry_override_beats_a_default_override(tmp_path: Path) -> None:
    path = write(tmp_path, {"odroid-xu3": {"gamma": 0.7, "n_epochs": 3}}, where="default")
    doc = yaml.safe_load(path.read_text())
    doc[ENV_ID]["boards"] = {"odroid-xu3": {"gamma": 0.8}}
    path.write_text(yaml.safe_dump(doc))
    cfg = load_config(path, ENV_ID, platform="odroid-xu3")
    assert cfg["gamma"] == 0.8 and cfg["n_epochs"] == 3


@pytest.mark.parametrize("boards, field", [
    ({"no-such-board": {"gamma": 0.9}}, f"{ENV_ID}.boards.no-such-board"),
    ({"odroid-xu3": {"gamma": 2.0}}, f"{ENV_ID}.boards.odroid-xu3.gamma"),
    ({"odroid-xu3": {"warp": 1}}, f"{ENV_ID}.boards.odroid-xu3.warp"),
    ({"odroid-xu3": {"train_scenarios": ["nowhere"]}}, f"{ENV_ID}.boards.odroid-xu3.train_scenarios[0]"),
    # the test set must stay unseen on every board, whichever board the config is loaded for
    ({"odroid-xu3": {"train_scenarios": ["steady", "mixed"]}}, f"{ENV_ID}.test_scenarios"),
    ({"odroid-xu3": {"n_steps": 100000000}}, f"{ENV_ID}.boards.odroid-xu3.n_steps"),
])
def test_a_bad_override_is_refused_on_any_board(tmp_path: Path, boards: dict, field: str) -> None:
    path = write(tmp_path, boards)
    for platform in ("jetson-xavier-nx", None):
        with pytest.raises(InputError) as err:
            load_config(path, ENV_ID, platform=platform)
        assert err.value.field == field and err.value.source == str(path), str(err.value)
        assert "\n" not in str(err.value)


def test_the_shipped_odroid_trains_on_the_scenarios_it_can_meet() -> None:
    odroid = load_config("ppo", ENV_ID, platform="odroid-xu3")
    xavier = load_config("ppo", ENV_ID, platform="jetson-xavier-nx")
    assert set(odroid["train_scenarios"]) < set(xavier["train_scenarios"])
    assert odroid["test_scenarios"] == xavier["test_scenarios"]
    assert not set(odroid["train_scenarios"]) & set(odroid["test_scenarios"])
    # what rlrm train --platform odroid-xu3 --scenario mix resolves
    assert resolve_hyperparameters("ppo", None, "odroid-xu3")["train_scenarios"] == odroid["train_scenarios"]
