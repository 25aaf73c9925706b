"""The device path: loading a checkpoint and deciding needs NumPy only (no torch, sb3, pickle)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from rlrm.policy import load
from rlrm.policy.testing import cached_checkpoint, sample_observations

PLATFORM = "jetson-xavier-nx"
ROOT = Path(__file__).resolve().parents[1]

BLOCKER = """
import importlib.abc, sys
BLOCKED = {blocked!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is blocked on the device")
        return None
sys.meta_path.insert(0, Block())
for name in list(sys.modules):
    if name.split(".")[0] in BLOCKED:
        del sys.modules[name]
"""






def run_blocked(code: str, blocked: tuple[str, ...], tmp_path: Path) -> str:
    script = tmp_path / "device.py"
    script.write_text(BLOCKER.format(blocked=blocked) + textwrap.dedent(code))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_load_and_predict_without_torch_sb3_gymnasium_or_safetensors(runs: Path, tmp_path: Path) -> None:
    cks = {"steady": cached_checkpoint(runs, platform=PLATFORM, scenario="steady"),
           "two-models": cached_checkpoint(runs, "npz", platform=PLATFORM, scenario="two-models")}
    expected = {}
    for scenario, ck in cks.items():
        obs, masks = sample_observations(PLATFORM, scenario, 200, 200, seed=3)
        np.savez(tmp_path / f"{scenario}.npz", obs=obs, masks=masks)
        expected[scenario] = np.asarray(load(ck).predict(obs, action_masks=masks)[0]).tolist()
    code = f"""
        import json, sys
        import numpy as np
        import rlrm.policy
        from rlrm.policy import load
        out = {{}}
        for scenario, ck in {json.dumps({k: str(v) for k, v in cks.items()})}.items():
            policy = load(ck, expected_platform="{PLATFORM}")
            with np.load(r"{tmp_path}/" + scenario + ".npz", allow_pickle=False) as data:
                out[scenario] = np.asarray(policy.predict(data["obs"], action_masks=data["masks"])[0]).tolist()
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in
                       ("torch", "stable_baselines3", "sb3_contrib", "gymnasium", "safetensors"))
        try:
            import torch  # noqa: F401
            blocked = False
        except ImportError:
            blocked = True
        print(json.dumps({{"actions": out, "heavy": heavy, "torch_blocked": blocked}}))
    """
    result = json.loads(run_blocked(code, ("torch", "stable_baselines3", "sb3_contrib", "gymnasium",
                                           "safetensors"), tmp_path))
    assert result["actions"] == expected
    assert result["heavy"] == [] and result["torch_blocked"]


def test_env_policy_drives_the_env_without_torch(runs: Path, tmp_path: Path) -> None:
    ck = cached_checkpoint(runs, platform=PLATFORM, scenario="steady")
    code = f"""
        import json
        from rlrm.env import DynamicDNNEnv
        from rlrm.evaluate import resolve_policy, run_episodes
        env = DynamicDNNEnv(platform="{PLATFORM}", scenario="steady", episode_steps=25)
        summary, _ = run_episodes(resolve_policy(r"{ck}"), env, episodes=1, seed=0)
        print(json.dumps({{"reward_mean": summary["reward_mean"]}}))
    """
    out = json.loads(run_blocked(code, ("torch", "stable_baselines3", "sb3_contrib", "safetensors"), tmp_path))
    assert np.isfinite(out["reward_mean"])
