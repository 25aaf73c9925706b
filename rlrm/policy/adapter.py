"""Binding an exported policy to an environment: the checks that it was trained for this one
(board, observation layout, action table, compute options, frequency tables, managed apps)
and :class:`CheckpointPolicy`, the policy behind :class:`rlrm.policy.base.Policy`, which reads
the environment's action masks and, for a one-application policy in an environment that
manages several, gives each application its own view of the observation.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np

from rlrm.policy.base import Policy
from rlrm.errors import InputError
from rlrm.policy.spec import EnvSpec, env_spec_of

if TYPE_CHECKING:  # the policy imports this module; at run time only its attributes are read
    from rlrm.policy.numpy_policy import NumpyPolicy


def check_compatible(policy: EnvSpec, env: EnvSpec, source: Union[str, Path] = "policy") -> None:
    """Refuse an environment whose description differs from the one a policy was trained for.

    :param policy: what the policy was trained for (its sidecar's ``env`` table)
    :param env: the environment's description (:func:`rlrm.policy.spec.env_spec_of`)
    :param source: the policy's ``policy.json``, named in the error
    :raise InputError: naming ``source`` and the field that differs (``env.platform``,
        ``env.observation_names``, ``env.action_table``, ``env.options``,
        ``env.unit_freqs_khz.<unit>``, ``env.n_managed``)
    """
    if env.platform != policy.platform:
        raise InputError(source, "env.platform", f"the policy was trained for {policy.platform!r}, "
                                                 f"the environment runs {env.platform!r}")
    names, want = list(env.observation_names), list(policy.observation_names)
    if names != want:
        diff = next((i for i, (a, b) in enumerate(zip(names, want)) if a != b), min(len(names), len(want)))
        raise InputError(source, "env.observation_names",
                         f"the environment's observation differs from the policy's at element {diff} "
                         f"({len(names)} elements vs {len(want)})")
    table = env.action_table
    if table.shape != policy.action_table.shape or not np.array_equal(table, policy.action_table):
        raise InputError(source, "env.action_table", f"the environment has {len(table)} actions, the policy "
                                                     f"{policy.n_actions}" + (" (same count, different rows)"
                                                                              if len(table) == policy.n_actions else ""))
    if list(env.options) != list(policy.options):
        raise InputError(source, "env.options", f"the environment's compute options {list(env.options)} differ from "
                                                f"the policy's {list(policy.options)}")
    for unit in sorted(set(env.unit_freqs_khz) | set(policy.unit_freqs_khz)):
        have, want_f = env.unit_freqs_khz.get(unit), policy.unit_freqs_khz.get(unit)
        if have != want_f:
            raise InputError(source, f"env.unit_freqs_khz.{unit}", table_difference(want_f, have))
    if env.n_managed != policy.n_managed:
        raise InputError(source, "env.n_managed", f"the environment manages {env.n_managed} application(s), "
                                                  f"the policy {policy.n_managed}")


def check_env(policy: "NumpyPolicy", env: Any) -> None:
    """Refuse an environment (wrappers are unwrapped) the policy was not trained for.

    :raise InputError: naming the policy's ``policy.json`` and the field that differs
    """
    check_compatible(policy.spec, env_spec_of(env), policy.sidecar_path or "policy")


def table_difference(policy: Optional[list[int]], board: Optional[list[int]]) -> str:
    """Why a unit's frequency table in the sidecar is not the board's, in a few words."""
    if board is None:
        return "the environment's board has no such unit"
    if policy is None:
        return "the policy has no frequency table for this unit of the environment's board"
    i = next((i for i, (a, b) in enumerate(zip(policy, board)) if a != b), min(len(policy), len(board)))
    return (f"the policy's table ({len(policy)} frequencies) differs from the board's ({len(board)}) at index {i}: "
            f"{policy[i] if i < len(policy) else 'none'} vs {board[i] if i < len(board) else 'none'} kHz")


def per_app_views(policy: "NumpyPolicy", env: Any) -> list[np.ndarray]:
    """Index arrays mapping an environment's observation to a one-application policy's layout,
    one per managed application (the shared elements, then that application's block).

    :raise InputError: the board differs, the policy's application block cannot be told, the
        environment lacks an element, or (per application) anything :func:`check_compatible` checks
    """
    env = getattr(env, "unwrapped", env)
    names = list(policy.observation_names)
    mine = [n[: -len(".active")] for n in names if n.endswith(".active")]
    src = policy.sidecar_path or "policy"
    have = env_spec_of(env)
    if have.platform != policy.platform:
        raise InputError(src, "env.platform", f"the policy was trained for {policy.platform!r}, "
                                              f"the environment runs {have.platform!r}")
    if len(mine) != 1:
        raise InputError(src, "env.observation_names", "cannot tell the application block of a one-app policy")
    prefix = mine[0] + "."
    position = {n: i for i, n in enumerate(have.observation_names)}
    apps = [n[: -len(".active")] for n in have.observation_names if n.endswith(".active")]
    views = []
    for app in apps:
        wanted = [app + "." + n[len(prefix):] if n.startswith(prefix) else n for n in names]
        missing = [w for w in wanted if w not in position]
        if missing:
            raise InputError(src, "env.observation_names", f"the environment has no element {missing[0]!r}")
        views.append(np.asarray([position[w] for w in wanted]))
    check_compatible(policy.spec, dataclasses.replace(have, observation_names=names, n_managed=1), src)
    return views


#: suffixes of the observation elements the scenarios' dynamics append (rlrm.env.DynamicDNNEnv)
DYNAMICS_SUFFIXES = (".headroom", ".queue", "budget.left", "budget.time_left")


def dynamics_prefix(policy: "NumpyPolicy", env: Any) -> bool:
    """Whether the environment's observation is the policy's followed only by elements of the
    scenarios' dynamics (which a policy trained without them ignores)."""
    want = list(policy.observation_names)
    have = list(getattr(env, "observation_names", []))
    extra = have[len(want):]
    return len(have) > len(want) and have[:len(want)] == want and all(n.endswith(DYNAMICS_SUFFIXES) for n in extra)


class CheckpointPolicy(Policy):
    """A :class:`rlrm.policy.numpy_policy.NumpyPolicy` behind the :class:`rlrm.policy.base.Policy`
    interface.

    ``reset(env)`` refuses an environment with another board, observation layout or action
    table (:class:`InputError`); ``act`` reads ``env.action_masks()`` every step. A policy
    trained for one managed application also runs an environment that manages several:
    each application decides on its own view of the observation (the shared elements plus
    its own block, in the single-application layout) with its own mask
    (:attr:`splits_apps`).

    :param policy: the loaded checkpoint
    :param name: the name in tables (default ``ppo:<checkpoint folder>``)
    """

    def __init__(self, policy: "NumpyPolicy", name: Optional[str] = None) -> None:
        self.policy = policy
        self.name = name or f"ppo:{policy.path.name if policy.path else 'checkpoint'}"
        self._checked: Optional[int] = None
        self._views: Optional[list[np.ndarray]] = None
        self._prefix: Optional[int] = None  # observation elements the policy reads (None: all)

    @property
    def splits_apps(self) -> bool:
        """True when a one-application policy decides for each application of the environment
        it was last reset on, on its own view of the observation."""
        return self._views is not None

    def reset(self, env: Any, seed: Optional[int] = None) -> None:
        base = getattr(env, "unwrapped", env)
        self._views = None
        self._prefix = None
        if self.policy.n_managed == 1 and len(getattr(base, "managed", [])) > 1:
            self._views = per_app_views(self.policy, base)
        elif dynamics_prefix(self.policy, base):
            # an environment with dynamics appends elements the policy was not trained with:
            # it decides on the prefix it knows (everything else is checked as usual)
            names = list(self.policy.observation_names)
            check_compatible(self.policy.spec, dataclasses.replace(env_spec_of(base), observation_names=names),
                             self.policy.sidecar_path or "policy")
            self._prefix = len(names)
        else:
            check_env(self.policy, base)
        self._checked = id(base)

    def act(self, env: Any, obs: np.ndarray, info: dict) -> Any:
        base = getattr(env, "unwrapped", env)
        if self._checked != id(base):
            self.reset(env)
        masks = base.action_masks()
        if self._views is None:
            if self._prefix is not None:
                obs = np.asarray(obs)[..., :self._prefix]
            action, _ = self.policy.predict(obs, action_masks=masks, deterministic=True)
            return int(action) if action.ndim == 0 else action
        per_app = masks.reshape(len(self._views), -1)
        obs = np.asarray(obs)
        return np.asarray([int(self.policy.predict(obs[view], action_masks=per_app[k], deterministic=True)[0])
                           for k, view in enumerate(self._views)])
