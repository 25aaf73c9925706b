"""``rlrm run`` on a (fake) board with a malformed profile, scenario or model file: exit 2, one
line naming the file and the field, no traceback, and nothing written to the board (the
sysfs tree is byte-for-byte as before and no state file is left)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from rlrm.cli import main
from rlrm.hw import fake
from rlrm.paths import CHECKPOINTS_DIR, PLATFORMS_DIR, SCENARIOS_DIR

from tests.conftest import write_toml
from tests.hw_support import board_dir, state_dir, xavier  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]


def _profile_with_text_frequency(tmp: Path) -> tuple[list[str], str, str]:
    import tomllib

    data = tomllib.loads((PLATFORMS_DIR / "jetson-xavier-nx.toml").read_text())
    unit = next(iter(data["units"]))
    data["units"][unit]["freqs_khz"][3] = "fast"
    path = write_toml(tmp / "board.toml", data)
    return ["--platform", str(path)], str(path), "freqs_khz"


def _scenario_with_negative_load(tmp: Path) -> tuple[list[str], str, str]:
    import tomllib

    data = tomllib.loads((SCENARIOS_DIR / "steady.toml").read_text())
    data["background"][0]["level"] = -0.5
    path = write_toml(tmp / "scenario.toml", data)
    return ["--scenario", str(path)], str(path), "level"


def _model_with_bad_json(tmp: Path) -> tuple[list[str], str, str]:
    model = tmp / "model"
    shutil.copytree(CHECKPOINTS_DIR / "demo", model)
    meta = json.loads((model / "model.json").read_text())
    meta["n_classes"] = "ten"
    (model / "model.json").write_text(json.dumps(meta))
    return ["--model", f"ofa:{model}"], "model.json", "n_classes"


def _model_with_truncated_weights(tmp: Path) -> tuple[list[str], str, str]:
    model = tmp / "model"
    shutil.copytree(CHECKPOINTS_DIR / "demo", model)
    weights = model / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    return ["--model", f"ofa:{model}"], "weights.safetensors", ""


BAD: dict[str, Callable[[Path], tuple[list[str], str, str]]] = {
    "profile": _profile_with_text_frequency,
    "scenario": _scenario_with_negative_load,
    "model-json": _model_with_bad_json,
    "model-weights": _model_with_truncated_weights,
}


def _args(root: Path, tmp: Path, extra: list[str]) -> list[str]:
    args = ["run", "--policy", "performance", "--platform", "jetson-xavier-nx", "--scenario", "steady",
            "--duration", "0.2", "--period", "0.1", "--no-background", "--logdir", str(tmp / "runs"),
            "--sysfs-root", str(root)]
    for i in range(0, len(extra), 2):
        flag, value = extra[i], extra[i + 1]
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    return args


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_file_is_one_line_and_touches_nothing(case: str, xavier: Path, state_dir: Path,  # noqa: F811
                                                  tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    extra, name, field = BAD[case](tmp_path)
    before = fake.snapshot_tree(xavier)
    assert main(_args(xavier, tmp_path, extra)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rlrm: error:"), err
    assert name in err[0] and field in err[0]
    assert fake.snapshot_tree(xavier) == before
    assert list(state_dir.iterdir()) == []


def test_bad_model_in_a_real_process_has_no_traceback(xavier: Path, state_dir: Path,  # noqa: F811
                                                       tmp_path: Path) -> None:
    extra, name, _ = _model_with_truncated_weights(tmp_path)
    before = fake.snapshot_tree(xavier)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RLRM_STATE_DIR": str(state_dir)}
    proc = subprocess.run([sys.executable, "-m", "rlrm", *_args(xavier, tmp_path, extra)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and "Traceback" not in proc.stderr, proc.stderr
    assert fake.snapshot_tree(xavier) == before
    assert list(state_dir.iterdir()) == []
