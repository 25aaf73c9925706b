"""Agents that pick subnetwork, compute unit and frequency: PPO, the Linux governors, oracles.

Submodules are imported on demand; this package imports nothing heavy, so the governors
(``rlrm.agents.governors``) work on the device without torch or stable-baselines3.
"""

from __future__ import annotations

from rlrm.agents import governors

__all__ = ["governors"]
