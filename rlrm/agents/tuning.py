"""Design-time tuning on seeds disjoint from the evaluation seeds (``static-best``, ``lut``).

The seed split is defined here and nowhere else:

* **tuning seeds** are ``TUNING_SEED_BASE + k`` for ``k = 0, 1, ...`` (10000, 10001, ...);
* **evaluation seeds** are everything below ``TUNING_SEED_BASE`` (``rlrm evaluate`` and
  ``rlrm compare`` start at seed 0 by default).

A tuned policy refuses to start an evaluation episode on a seed in the tuning range
(:func:`check_evaluation_seed`), so a design-time choice can never be made on the seeds it
is reported on. Tuning runs in a simulator copy of the evaluation environment
(:func:`tuning_env`), so the evaluation environment's state and random generator are untouched.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from rlrm.env.dynamic_dnn import DynamicDNNEnv
from rlrm.errors import InputError
from rlrm.rollout import rollout

#: first tuning seed; evaluation seeds are below it
TUNING_SEED_BASE = 10_000


def tuning_seeds(n: int) -> list[int]:
    """The ``n`` tuning seeds, ``TUNING_SEED_BASE + k``."""
    return [TUNING_SEED_BASE + k for k in range(n)]


def describe_seeds(n: int) -> str:
    """The tuning seeds as text, e.g. ``10000-10002``."""
    return f"{TUNING_SEED_BASE}-{TUNING_SEED_BASE + n - 1}" if n > 1 else str(TUNING_SEED_BASE)


def is_tuning_seed(seed: Optional[int]) -> bool:
    return seed is not None and int(seed) >= TUNING_SEED_BASE


def check_evaluation_seed(seed: Optional[int]) -> None:
    """Refuse to evaluate a tuned policy on a tuning seed.

    :raise InputError: ``seed`` is in the tuning range
    """
    if is_tuning_seed(seed):
        raise InputError("--seed", "seed", f"seed {seed} is a tuning seed (>= {TUNING_SEED_BASE}); "
                                           f"evaluate tuned policies (static-best, lut) on seeds below it")


def env_key(env: Any) -> tuple:
    """What a tuned choice depends on: board, scenarios, units, episode length, period."""
    return (env.platform.name, "+".join(s.name for s in env.scenarios), tuple(env.units), env.episode_steps,
            env.sim.period_s, tuple(sorted(env.randomization.items())))


def tuning_env(env: Any) -> Any:
    """A fresh environment made like ``env`` on the trace simulator (the one place tuning builds
    one): a design-time choice is made on the simulator of the same board and scenario, also
    when ``env`` drives the live board."""
    return DynamicDNNEnv(platform=env.platform, scenario=list(env.scenarios), reward_weights=env.weights,
                         period_s=env.sim.period_s, episode_steps=env.episode_steps, traces=dict(env.sim.traces),
                         randomization=dict(env.randomization) or None, units=list(env.units))


def rollout_reward(policy: Any, env: Any, seeds: list[int]) -> float:
    """Mean per-step reward of ``policy`` on ``env`` over episodes with the given (contiguous) seeds.

    The one place tuning runs episodes (through :func:`rlrm.rollout.rollout`).
    """
    for s in seeds:
        if not is_tuning_seed(s):
            raise ValueError(f"tuning on seed {s}, which is not a tuning seed")
    return float(rollout(policy, env, len(seeds), seeds[0]).summary["reward_mean"])


def tuning_reward(make: Callable[[], Any], env: Any, episodes: int) -> float:
    """Mean reward of a freshly made policy on the tuning seeds, in a copy of ``env``."""
    return rollout_reward(make(), tuning_env(env), tuning_seeds(episodes))
