"""The policy's modules and their public seams: the controller's fast decision (agrees with
``predict``, refuses what ``predict`` refuses), the mask cache, binding a policy to an env."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from rlrm.env import DynamicDNNEnv
from rlrm.errors import InputError
from rlrm.live.controller import FastDecider, MaskCache
from rlrm.policy import load
from rlrm.policy.adapter import check_compatible
from rlrm.policy.spec import env_spec_of

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "checkpoints" / "jetson-xavier-nx-ppo"
PLATFORM = "jetson-xavier-nx"


@pytest.fixture(scope="module")
def policy():
    return load(SHIPPED)


def test_fast_decider_agrees_with_predict_and_refuses_the_same(policy) -> None:
    env = DynamicDNNEnv(PLATFORM, "bursty", **policy.env_kwargs)
    obs, _ = env.reset(seed=0)
    decider = FastDecider(policy)
    for _ in range(60):
        mask = env.action_masks()
        action = decider.decide(obs, mask)
        assert action == policy.predict(obs, action_masks=mask)[0]
        assert decider.decide(obs) == policy.predict(obs)[0]
        obs, *_ = env.step(action)
    rng = np.random.default_rng(0)
    for scale in (1.0, 10.0, 1e4):  # inside and far outside the normalisation's clip range
        for _ in range(100):
            x = (rng.uniform(0.0, scale, policy.obs_size)).astype(np.float32)
            mask = rng.random(policy.n_actions) < 0.5
            assert decider.decide(x, mask) == policy.predict(x, action_masks=mask)[0]
    for bad in (np.nan, np.inf, -np.inf):
        x = obs.copy()
        x[3] = bad
        with pytest.raises(ValueError, match=rf"^observation: element 3 \({policy.observation_names[3]}\) is "):
            decider.decide(x, env.action_masks())
        with pytest.raises(ValueError, match=r"^observation: element 3 "):
            policy.predict(x, action_masks=env.action_masks())
    with pytest.raises(ValueError, match=r"^observation: shape"):
        decider.decide(obs[:-1], env.action_masks())
    with pytest.raises(ValueError, match=rf"^action_masks: shape \({policy.n_actions + 1},\)"):
        decider.decide(obs, np.ones(policy.n_actions + 1, bool))
    with pytest.raises(ValueError, match=rf"^action_masks: shape \({policy.n_actions + 1},\)"):
        policy.predict(obs, action_masks=np.ones(policy.n_actions + 1, bool))


def test_mask_cache_follows_dropped_frequencies(policy) -> None:
    env = DynamicDNNEnv(PLATFORM, "steady")
    env.reset(seed=0)
    assert env.actions_dropped is False
    cache = MaskCache(env)
    assert np.array_equal(cache.get(), env.action_masks()) and cache.get() is cache.get()  # cached per mode
    dropping = DynamicDNNEnv(PLATFORM, "steady", randomization={"freq_dropout": 0.5})
    dropping.reset(seed=0)
    assert dropping.actions_dropped is True
    assert not dropping.action_masks().all()
    cache = MaskCache(dropping)
    assert np.array_equal(cache.get(), dropping.action_masks()) and cache.get() is not cache.get()  # not cached


def test_check_compatible_names_the_field(policy) -> None:
    env = DynamicDNNEnv(PLATFORM, "steady", **policy.env_kwargs)
    spec = env_spec_of(env)
    check_compatible(policy.spec, spec)
    cases = {
        "env.platform": dataclasses.replace(spec, platform="odroid-xu3"),
        "env.observation_names": dataclasses.replace(spec, observation_names=spec.observation_names[:-1]),
        "env.action_table": dataclasses.replace(spec, action_table=spec.action_table[:-1]),
        "env.options": dataclasses.replace(spec, options=spec.options[::-1]),
        "env.n_managed": dataclasses.replace(spec, n_managed=2),
    }
    unit = sorted(spec.unit_freqs_khz)[0]
    cases[f"env.unit_freqs_khz.{unit}"] = dataclasses.replace(
        spec, unit_freqs_khz={**spec.unit_freqs_khz, unit: spec.unit_freqs_khz[unit][:-1]})
    for field, other in cases.items():
        with pytest.raises(InputError) as err:
            check_compatible(policy.spec, other, "policy.json")
        assert err.value.field == field and str(err.value).startswith("policy.json: ")


def test_env_policy_splits_apps_only_for_a_one_app_policy_on_several(policy) -> None:
    agent = policy.as_env_policy()
    agent.reset(DynamicDNNEnv(PLATFORM, "steady", **policy.env_kwargs))
    assert agent.splits_apps is False
    agent.reset(DynamicDNNEnv(PLATFORM, "two-models", **policy.env_kwargs))
    assert agent.splits_apps is True


def test_policy_modules_small_and_no_foreign_private_names() -> None:
    """rlrm/policy and the controller: no module over 600 lines, no ``obj._name`` of another module's
    object (``self._x`` and names defined in the same module are fine)."""
    files = sorted((ROOT / "rlrm" / "policy").glob("*.py")) + [ROOT / "rlrm" / "live" / "controller.py"]
    for path in files:
        text = path.read_text()
        assert len(text.splitlines()) <= 600, path
        tree = ast.parse(text)
        own = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        own |= {t.attr for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets
                if isinstance(t, ast.Attribute)}
        outside = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
                   if not a.name.startswith("rlrm")}  # other libraries' private names are their business
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                base = node.value
                if not (isinstance(base, ast.Name) and base.id in ("self", "cls", *outside)) and node.attr not in own:
                    pytest.fail(f"{path.name}:{node.lineno}: {node.attr} of another module")
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    assert not alias.name.startswith("_"), f"{path.name}: imports {alias.name}"
