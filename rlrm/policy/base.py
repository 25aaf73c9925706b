"""The interface every rlrm policy follows in the environment."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

if TYPE_CHECKING:  # the board side loads policies without gymnasium
    from rlrm.env.dynamic_dnn import DynamicDNNEnv


class Policy(ABC):
    """A policy for ``rlrm/DynamicDNN-v0``: governors, Dynamic-OFA's manager, the oracle, PPO.

    ``reset(env)`` is called after each ``env.reset()``; ``act(env, obs, info)`` returns an
    action of ``env.action_space`` and is called once per control step. ``env`` is the
    unwrapped :class:`rlrm.env.DynamicDNNEnv` (policies that need no more than the
    observation ignore it). ``observe(info)`` hands back the step's info afterwards.

    :param name: the name reported in tables, JSON and TensorBoard
    """

    name: str = "policy"

    def reset(self, env: DynamicDNNEnv, seed: Optional[int] = None) -> None:  # noqa: B027 - optional hook
        """Start of an episode."""

    @abstractmethod
    def act(self, env: DynamicDNNEnv, obs: np.ndarray, info: dict) -> Any:
        """The action for this step."""

    def observe(self, info: dict) -> None:  # noqa: B027 - optional hook
        """The info of the step just taken."""
