"""The shipped demo model: a trained narrow supernet whose per-level accuracy is measured."""

from __future__ import annotations

import json

import pytest

from rlrm.cli import main
from rlrm.dnn.demo import DEMO_DIR, accuracy, load_demo, load_digits_data, train_demo

pytestmark = pytest.mark.skipif(not (DEMO_DIR / "weights.safetensors").is_file(), reason="demo checkpoint not present")




def test_checkpoint_is_small_weights_only_and_complete() -> None:
    files = {p.name for p in DEMO_DIR.iterdir()}
    assert {"weights.safetensors", "bn_stats.safetensors", "library.json", "model.json", "README.md"} <= files
    assert not any(name.endswith((".pt", ".pth", ".pkl", ".pickle")) for name in files)
    size = sum(p.stat().st_size for p in DEMO_DIR.iterdir())
    assert size < 5 * 2**20


def test_levels_accuracy_is_measured_and_ordered() -> None:
    model = load_demo()
    lib = model.library
    assert len(lib) >= 3 and all(s.top1 is not None for s in lib.levels)
    top1 = [s.top1 for s in lib.levels]
    macs = [lib.cost(i).macs for i in range(len(lib))]
    assert macs == sorted(macs)
    assert top1[-1] - top1[0] >= 5.0  # clearly more accurate
    assert top1[0] > 40.0  # well above the 10 % chance level
    assert all(model.is_calibrated(i) for i in range(len(lib)))


def test_stored_accuracy_reproduces() -> None:
    model = load_demo()
    info = json.loads((DEMO_DIR / "model.json").read_text())
    data = load_digits_data(info["split_seed"])
    for level in (0, model.n_levels - 1):
        model.switch(level)
        assert accuracy(model, data.test_x, data.test_y) == pytest.approx(model.library[level].top1, abs=0.5)


def test_cli_eval_demo(capsys) -> None:
    assert main(["dnn", "eval", "--model", "demo", "--repeats", "3", "--warmup", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    lib = load_demo().library
    assert [r["level"] for r in out["levels"]] == list(range(len(lib)))
    for r in out["levels"]:
        assert r["top1_source"] == "measured" and r["latency_ms"] > 0
        assert r["top1"] == pytest.approx(lib[r["level"]].top1, abs=0.5)


@pytest.mark.slow
def test_retraining_runs_end_to_end(tmp_path) -> None:
    rows = train_demo(tmp_path / "demo", epoch_scale=0.04, n_levels=3, log=lambda _m: None)
    assert 2 <= len(rows) <= 3
    again = load_demo(tmp_path / "demo")
    assert again.n_levels == len(rows)
