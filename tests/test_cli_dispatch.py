"""``rlrm COMMAND`` imports the module of that command only; the table saying which module adds
which command is complete."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

from rlrm.cli import COMMAND_MODULES, COMMANDS
from rlrm.hw import fake

ROOT = Path(__file__).resolve().parents[1]


def test_commands_table_matches_what_the_modules_add() -> None:
    added = {}
    for name in COMMAND_MODULES:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(name).add_parser(sub)
        added.update({command: name for command in sub.choices})
    assert added == COMMANDS
    assert set(COMMANDS.values()) == set(COMMAND_MODULES)


def test_board_commands_import_no_gymnasium_or_torch_even_when_installed(tmp_path: Path) -> None:
    root = fake.make_fake_xavier_nx(tmp_path / "xavier")
    code = f"""
import json, sys
from rlrm.cli import main
codes = [main(["hw", "status", "--sysfs-root", {str(root)!r}]),
         main(["hw", "pin", "--sysfs-root", {str(root)!r}, "--cpu", "0=652800", "--seconds", "0"]),
         main(["policy", "info", {str(ROOT / "checkpoints" / "jetson-xavier-nx-ppo")!r}])]
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & {{"gymnasium", "torch", "stable_baselines3", "sb3_contrib"}})
print(json.dumps({{"codes": codes, "heavy": heavy}}))
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RLRM_STATE_DIR": str(tmp_path / "state")}
    (tmp_path / "state").mkdir()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == {"codes": [0, 0, 0], "heavy": []}
