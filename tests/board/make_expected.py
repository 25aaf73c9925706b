"""Write ``tests/board/expected_actions.json``: observations, masks and the actions each shipped
policy chose for them on the workstation, which the board tests compare with under Python 3.8.

Run after retraining a shipped policy: ``python -m tests.board.make_expected``.
Observations are the policy's own normalisation mean plus 1.5 standard deviations of noise;
masks keep ~70 % of the actions (at least one per app). Rows whose best and second-best masked
logits are closer than ``MARGIN`` are left out, so a different NumPy or BLAS cannot flip them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rlrm.paths import CHECKPOINTS_DIR
from rlrm.policy import load

OUT = Path(__file__).with_name("expected_actions.json")
POLICIES = ("jetson-xavier-nx-ppo", "jetson-xavier-nx-ppo-2apps", "odroid-xu3-ppo", "odroid-xu3-ppo-2apps")
ROWS = 24
MARGIN = 1e-3


def expected_for(name: str, seed: int) -> dict:
    """Observations, masks and the deterministic actions of shipped policy ``name``."""
    policy = load(CHECKPOINTS_DIR / name)
    rng = np.random.default_rng(seed)
    k, n = policy.n_managed, policy.n_actions
    norm = policy.normalization
    mean = norm.mean if norm is not None else np.zeros(policy.obs_size)
    std = np.sqrt(norm.var) if norm is not None else np.ones(policy.obs_size)
    rows = []
    while len(rows) < ROWS:
        obs = (mean + 1.5 * std * rng.standard_normal(policy.obs_size)).astype(np.float32)
        mask = rng.random((k, n)) < 0.7
        mask[np.arange(k), rng.integers(n, size=k)] = True
        logits = policy.logits(obs).reshape(k, n).astype(np.float64)
        masked = np.sort(np.where(mask, logits, -np.inf), axis=1)
        if (masked[:, -1] - masked[:, -2] < MARGIN).any():  # -inf second: one valid action, no tie
            continue
        action = np.asarray(policy.predict(obs, action_masks=mask.reshape(-1))[0]).tolist()
        rows.append({"obs": [float(v) for v in obs], "mask": mask.reshape(-1).astype(int).tolist(),
                     "action": action})
    sha = json.loads((CHECKPOINTS_DIR / name / "policy.json").read_text())["weights"]["sha256"]
    return {"weights_sha256": sha, "rows": rows}


def main() -> None:
    data = {name: expected_for(name, seed) for seed, name in enumerate(POLICIES)}
    OUT.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({len(POLICIES)} policies x {ROWS} rows)")


if __name__ == "__main__":
    main()
