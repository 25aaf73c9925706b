"""The NumPy policy picks exactly the action sb3-contrib's MaskablePPO.predict picks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rlrm.policy import load
from rlrm.policy.testing import cached_checkpoint, cached_run_dir, sample_observations

PLATFORM = "jetson-xavier-nx"






def _parity(runs: Path, scenario: str, n_env: int, n_random: int, weights_format: str = "safetensors",
            **run_kwargs: object) -> tuple[int, int]:
    from sb3_contrib import MaskablePPO

    run = cached_run_dir(runs, platform=PLATFORM, scenario=scenario, **run_kwargs)
    policy = load(cached_checkpoint(runs, weights_format, platform=PLATFORM, scenario=scenario, **run_kwargs))
    model = MaskablePPO.load(run / "model.zip", device="cpu")
    obs, masks = sample_observations(PLATFORM, scenario, n_env, n_random, seed=1)
    ours, _ = policy.predict(obs, action_masks=masks, deterministic=True)
    theirs, _ = model.predict(policy.normalize(obs), action_masks=masks, deterministic=True)
    assert ours.shape == theirs.shape
    # every chosen action is valid under its mask (rows with no valid action excepted)
    k = policy.n_managed
    chosen = np.asarray(ours).reshape(len(obs), k)
    m = masks.reshape(len(obs), k, policy.n_actions)
    any_valid = m.any(axis=2)
    picked = np.take_along_axis(m, chosen[:, :, None], axis=2)[:, :, 0]
    assert np.all(picked | ~any_valid)
    assert np.all(chosen[~any_valid] == 0)  # all -1e8: the first index, as torch's argmax
    return int(np.sum(np.asarray(ours).reshape(len(obs), -1) == np.asarray(theirs).reshape(len(obs), -1))), ours.size


def test_parity_discrete_steady(runs: Path) -> None:
    same, total = _parity(runs, "steady", 5000, 5000)
    assert total == 10_000
    assert same == total


def test_parity_multidiscrete_two_models(runs: Path) -> None:
    same, total = _parity(runs, "two-models", 5000, 5000, weights_format="npz")
    assert total == 20_000  # 10,000 observations x 2 managed apps
    assert same == total


def test_parity_relu_with_large_logits(runs: Path) -> None:
    """ReLU and noisy weights: logits spread over tens of units, so masks change the answer often."""
    same, total = _parity(runs, "steady", 1000, 1000, activation="relu", weight_noise=0.5, train_steps=0)
    assert same == total


def test_unmasked_predict_matches(runs: Path) -> None:
    from sb3_contrib import MaskablePPO

    run = cached_run_dir(runs, platform=PLATFORM, scenario="steady")
    policy = load(cached_checkpoint(runs, platform=PLATFORM, scenario="steady"))
    model = MaskablePPO.load(run / "model.zip", device="cpu")
    obs, _ = sample_observations(PLATFORM, "steady", 200, 200, seed=2)
    assert np.array_equal(policy.predict(obs)[0], model.predict(policy.normalize(obs), deterministic=True)[0])
    single, _ = model.predict(policy.normalize(obs[0]), deterministic=True)
    ours_single, state = policy.predict(obs[0])
    assert ours_single.shape == single.shape == () and ours_single == single and state is None
