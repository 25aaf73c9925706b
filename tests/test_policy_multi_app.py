"""A one-application checkpoint runs a two-application environment, one decision per app."""

from __future__ import annotations

import pytest

from rlrm.env import DynamicDNNEnv
from rlrm.errors import InputError
from rlrm.policy import load
from rlrm.policy.testing import cached_checkpoint, torch_threads


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    with torch_threads(1):
        yield cached_checkpoint(tmp_path_factory.getbasetemp() / "policy-runs", platform="jetson-xavier-nx",
                                scenario="steady")


def test_per_app_views_match_single_app_decisions(checkpoint) -> None:
    policy = load(checkpoint)
    agent = policy.as_env_policy()
    env = DynamicDNNEnv(scenario="two-models")
    obs, info = env.reset(seed=0)
    agent.reset(env)
    names = env.observation_names
    for _ in range(40):
        action = agent.act(env, obs, info)
        assert action.shape == (2,)
        masks = env.action_masks().reshape(2, -1)
        for k, app in enumerate(("first", "second")):
            # the single-app layout, built by hand from the names
            view = [names.index(n.replace("main.", app + ".")) for n in policy.observation_names]
            assert action[k] == policy.predict(obs[view], action_masks=masks[k])[0]
            assert masks[k][action[k]]
        obs, r, term, trunc, info = env.step(action)


def test_other_board_still_refused(checkpoint) -> None:
    agent = load(checkpoint).as_env_policy()
    with pytest.raises(InputError) as err:
        agent.reset(DynamicDNNEnv(platform="odroid-xu3", scenario="two-models"))
    assert err.value.field == "env.platform"
