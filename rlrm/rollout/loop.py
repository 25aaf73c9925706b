"""The one control loop: a policy drives an environment for seeded episodes, and everything
else (TensorBoard, time series, stopping) is a :class:`Callback`.

Shaped as stable-baselines3's ``collect_rollouts``: the loop asks the policy, steps the
environment, accounts the metrics and calls ``callback.on_step()``. ``rlrm evaluate``
(:func:`rlrm.evaluate.run_episodes`), ``rlrm compare`` (:func:`rlrm.compare.runner.run_compare`)
and ``rlrm run`` (:func:`rlrm.live.cli.run_live`) all run it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np

from rlrm.policy.base import Policy
from rlrm.env.dynamic_dnn import DynamicDNNEnv
from rlrm.sim.metrics import MetricsAccumulator
from rlrm.sim.result import StepResult

#: ``decide(obs, info) -> action``: how a step's action is chosen (default: ``policy.act``)
Decide = Callable[[np.ndarray, dict], Any]


@dataclass
class StepRecord:
    """One step of a rollout, as callbacks see it.

    :param episode: episode index (0-based)
    :param step: step index within the episode
    :param info: the environment's info (``info["result"]`` is the :class:`StepResult`)
    :param reward: the step's reward
    :param decision_us: time the decision took (microseconds)
    """

    episode: int
    step: int
    info: dict
    reward: float
    decision_us: float

    @property
    def result(self) -> StepResult:
        """The backend's step result."""
        return self.info["result"]


class Callback:
    """Base class of rollout callbacks: override the hooks you need (all do nothing here)."""

    def on_rollout_start(self, env: DynamicDNNEnv, policy: Policy) -> None:
        """Before the first episode."""

    def on_episode_start(self, episode: int, seed: int) -> None:
        """After ``env.reset`` and ``policy.reset`` of an episode."""

    def on_step(self, record: StepRecord) -> bool:
        """After every step; return False to stop the rollout after it."""
        return True

    def on_episode_end(self, episode: int, summary: dict) -> None:
        """After an episode, with its summary (``rlrm evaluate``'s keys and ``seed``)."""

    def on_rollout_end(self, summary: dict) -> None:
        """After the last episode, with the summary over all of them."""


class CallbackList(Callback):
    """Several callbacks called in order."""

    def __init__(self, callbacks: Sequence[Callback]) -> None:
        self.callbacks = list(callbacks)

    def on_rollout_start(self, env: DynamicDNNEnv, policy: Policy) -> None:
        for c in self.callbacks:
            c.on_rollout_start(env, policy)

    def on_episode_start(self, episode: int, seed: int) -> None:
        for c in self.callbacks:
            c.on_episode_start(episode, seed)

    def on_step(self, record: StepRecord) -> bool:
        go = True
        for c in self.callbacks:
            go = c.on_step(record) is not False and go
        return go

    def on_episode_end(self, episode: int, summary: dict) -> None:
        for c in self.callbacks:
            c.on_episode_end(episode, summary)

    def on_rollout_end(self, summary: dict) -> None:
        for c in self.callbacks:
            c.on_rollout_end(summary)


class StepHookCallback(Callback):
    """A plain function ``hook(episode, step, info, reward)`` called on every step."""

    def __init__(self, hook: Callable[[int, int, dict, float], None]) -> None:
        self.hook = hook

    def on_step(self, record: StepRecord) -> bool:
        self.hook(record.episode, record.step, record.info, record.reward)
        return True


@dataclass
class Rollout:
    """What :func:`rollout` returns.

    :param summary: the metrics over all episodes (``rlrm evaluate``'s keys)
    :param per_episode: one summary per episode, with its ``seed``
    :param decisions_us: every decision's time (microseconds)
    """

    summary: dict
    per_episode: list[dict] = field(default_factory=list)
    decisions_us: list[float] = field(default_factory=list)


def rollout(policy: Policy, env: DynamicDNNEnv, episodes: int, seed: int,
            callbacks: Sequence[Callback] = (), decide: Optional[Decide] = None) -> Rollout:
    """Run ``episodes`` episodes with seeds ``seed, seed + 1, ...``.

    :param policy: the policy (``reset`` per episode, ``act`` per step unless ``decide``,
        ``observe`` after every step)
    :param env: the environment (any backend)
    :param episodes: how many episodes
    :param seed: the first episode's seed
    :param callbacks: called at the start and end of the rollout and of every episode, and
        after every step (a step's ``on_step`` returning False ends the rollout)
    :param decide: ``decide(obs, info) -> action`` instead of ``policy.act(env, obs, info)``
        (``rlrm run``'s cached-mask decision); timed either way
    """
    callback = CallbackList(callbacks)
    total = MetricsAccumulator()
    out = Rollout(summary={})
    callback.on_rollout_start(env, policy)
    act = decide if decide is not None else (lambda o, i: policy.act(env, o, i))
    clock = time.perf_counter_ns
    going = True
    for ep in range(episodes):
        ep_seed = seed + ep
        obs, info = env.reset(seed=ep_seed)
        policy.reset(env, seed=ep_seed)
        callback.on_episode_start(ep, ep_seed)
        acc = MetricsAccumulator()
        step = 0
        while going:
            t0 = clock()
            action = act(obs, info)
            decision_us = (clock() - t0) / 1000.0
            out.decisions_us.append(decision_us)
            obs, reward, terminated, truncated, info = env.step(action)
            policy.observe(info)
            result = info["result"]
            acc.add(result, reward)
            total.add(result, reward)
            going = callback.on_step(StepRecord(ep, step, info, reward, decision_us))
            step += 1
            if terminated or truncated:
                break
        summary = {"seed": ep_seed, **acc.summary()}
        out.per_episode.append(summary)
        callback.on_episode_end(ep, summary)
        if not going:
            break
    out.summary = total.summary()
    callback.on_rollout_end(out.summary)
    return out
