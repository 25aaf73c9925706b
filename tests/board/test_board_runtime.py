"""The board runtime as on a Jetson with JetPack 5 (Python 3.8, the default install): a shipped
policy loads and decides as on the workstation, ``rlrm hw status`` / ``hw pin`` and ``rlrm restore``
work on a fake Xavier NX, and none of it imports Gymnasium, torch or stable-baselines3.

NumPy only: ``.ci/run`` runs this folder under Python 3.8 and 3.10 too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

from rlrm.cli import main
from rlrm.extras import is_board_runtime
from rlrm.hw import fake
from rlrm.paths import CHECKPOINTS_DIR
from rlrm.policy import load
from tests.hw_support import CPU, XAVIER_GPU, board_dir, state_dir, text, xavier  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = json.loads(Path(__file__).with_name("expected_actions.json").read_text())
#: what rlrm hw / restore / policy must never import (a board's install may lack every one)
HEAVY = ("torch", "stable_baselines3", "sb3_contrib", "gymnasium", "safetensors", "tomli_w", "yaml",
         "tensorboard", "matplotlib", "onnxruntime", "ray", "sklearn")

#: makes importing ``HEAVY`` fail as if not installed, in a child process
BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError("No module named " + repr(name), name=name)
        return None
sys.meta_path.insert(0, Block())
"""


def _env() -> Dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _rlrm(args: List[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rlrm", *args], capture_output=True, text=True, env=_env(),
                          cwd=str(ROOT), timeout=60)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_policy_decides_as_on_the_workstation(name: str) -> None:
    expected = EXPECTED[name]
    sidecar = json.loads((CHECKPOINTS_DIR / name / "policy.json").read_text())
    assert sidecar["weights"]["sha256"] == expected["weights_sha256"], \
        f"{name} changed: regenerate the expected actions with `python -m tests.board.make_expected`"
    policy = load(CHECKPOINTS_DIR / name)
    rows = expected["rows"]
    obs = np.asarray([r["obs"] for r in rows], dtype=np.float32)
    masks = np.asarray([r["mask"] for r in rows], dtype=bool)
    actions, _ = policy.predict(obs, action_masks=masks)
    assert np.asarray(actions).tolist() == [r["action"] for r in rows]
    # one observation at a time, as the controller decides on the board
    for i in (0, len(rows) - 1):
        assert np.asarray(policy.predict(obs[i], action_masks=masks[i])[0]).tolist() == rows[i]["action"]


def test_policy_info(capsys: pytest.CaptureFixture) -> None:
    assert main(["policy", "info", str(CHECKPOINTS_DIR / "jetson-xavier-nx-ppo"), "--platform", "jetson-xavier-nx"]) == 0
    out = capsys.readouterr().out
    assert "network      28 -> 128 -> 128 -> 90 (tanh)" in out  # the observation with the dynamics (issue 13)


def test_hw_status_on_a_fake_xavier_nx(xavier: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["hw", "status", "--sysfs-root", str(xavier)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"sysfs root: {xavier}"
    assert "CPUs online: 0-5" in out
    assert "nvpmodel: mode 2 (MODE_15W_6CORE)" in out
    assert "control: CPU frequency can be set; GPU frequency can be set" in out[-1]
    assert main(["hw", "status", "--sysfs-root", str(xavier), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["sysfs_root"] == str(xavier) and status["cpus_online"] == [0, 1, 2, 3, 4, 5]


def test_hw_pin_then_everything_put_back(xavier: Path, capsys: pytest.CaptureFixture) -> None:
    before = fake.snapshot_tree(xavier)
    assert main(["hw", "pin", "--sysfs-root", str(xavier), "--cpu", "0=652800", "--gpu", "510000",
                 "--seconds", "0"]) == 0
    assert "holding policy0 " in capsys.readouterr().out
    assert fake.snapshot_tree(xavier) == before


def test_hw_pin_killed_then_rlrm_restore(xavier: Path, tmp_path: Path) -> None:
    before = fake.snapshot_tree(xavier)
    statefile = tmp_path / "state.json"
    proc = subprocess.Popen([sys.executable, "-m", "rlrm", "hw", "pin", "--sysfs-root", str(xavier),
                             "--statefile", str(statefile), "--cpu", "1=115200", "--gpu", "1109250"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=str(ROOT))
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # printed once every setting is written
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=30)
    assert line.startswith("holding policy2 "), line + err
    assert proc.returncode == -signal.SIGKILL
    assert text(xavier, f"{CPU}/policy2/scaling_max_freq") == "115200\n"
    assert text(xavier, f"{XAVIER_GPU}/min_freq") == "1109250000\n" and statefile.exists()
    done = _rlrm(["restore", str(statefile), "--sysfs-root", str(xavier)])
    assert done.returncode == 0, done.stderr
    assert "restored" in done.stdout
    assert fake.snapshot_tree(xavier) == before and not statefile.exists()


def test_numpy_only_and_only_board_runtime_modules(xavier: Path, tmp_path: Path) -> None:
    """With every heavy package made unimportable: the board commands work, import nothing
    outside :data:`rlrm.extras.BOARD_RUNTIME`, and a command that needs a missing package says
    which in one line."""
    code = BLOCKER.format(blocked=HEAVY) + textwrap.dedent(f"""
        import json, sys
        import numpy as np
        from rlrm.cli import main
        codes = [main(["hw", "status", "--sysfs-root", {str(xavier)!r}]),
                 main(["hw", "pin", "--sysfs-root", {str(xavier)!r}, "--cpu", "2=652800", "--seconds", "0"]),
                 main(["policy", "info", {str(CHECKPOINTS_DIR / "odroid-xu3-ppo-2apps")!r}]),
                 main(["platforms"])]
        from rlrm.policy import load
        policy = load({str(CHECKPOINTS_DIR / "jetson-xavier-nx-ppo")!r}, expected_platform="jetson-xavier-nx")
        action = int(policy.predict(np.zeros(policy.obs_size, np.float32))[0])
        print(json.dumps({{"codes": codes, "action": action,
                          "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("rlrm",) + {HEAVY!r})}}))
        sys.exit(main(["evaluate", "--policy", "schedutil"]))
    """)
    script = tmp_path / "board.py"
    script.write_text(code)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=_env(), cwd=str(tmp_path),
                          timeout=120)
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["codes"] == [0, 0, 0, 0], proc.stderr
    assert 0 <= result["action"] < 90
    assert [m for m in result["modules"] if not is_board_runtime(m)] == []
    # the evaluation needs Gymnasium (default install): one line saying so, exit 2
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == ("rlrm: error: rlrm evaluate needs gymnasium, which is not "
                                                    "installed: pip install rlrm (the default install has it)")


def test_help_lists_commands_whose_packages_are_missing(tmp_path: Path) -> None:
    script = tmp_path / "help.py"
    script.write_text(BLOCKER.format(blocked=HEAVY) + "from rlrm.cli import main\nmain(['--help'])\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "(not installed here: needs gymnasium)" in proc.stdout
    listed = {line.split()[0] for line in proc.stdout.splitlines() if line.startswith("    ") and line.strip()}
    assert {"hw", "restore", "policy", "platforms", "evaluate", "train"} <= listed
