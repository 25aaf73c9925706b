"""The interface every rlrm policy follows in the environment."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Optional

import numpy as np


class Policy(ABC):
    """A policy for ``rlrm/DynamicDNN-v0``: governors, Dynamic-OFA's manager, the oracle, PPO.

    ``reset(env)`` is called after each ``env.reset()``; ``act(env, obs, info)`` returns an
    action of ``env.action_space`` and is called once per control step. ``env`` is the
    unwrapped :class:`rlrm.env.DynamicDNNEnv` (policies that need no more than the
    observation ignore it). ``observe(info)`` hands back the step's info afterwards.

    :param name: the name reported in tables, JSON and TensorBoard
    """

    name: str = "policy"

    def reset(self, env: Any, seed: Optional[int] = None) -> None:  # noqa: B027 - optional hook
        """Start of an episode."""

    @abstractmethod
    def act(self, env: Any, obs: np.ndarray, info: dict) -> Any:
        """The action for this step."""

    def observe(self, info: dict) -> None:  # noqa: B027 - optional hook
        """The info of the step just taken."""
