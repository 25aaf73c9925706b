"""Gymnasium environments of rlrm."""

from rlrm.env.dynamic_dnn import DynamicDNNEnv
from rlrm.env.reward import RewardWeights, step_reward

ENV_ID = "rlrm/DynamicDNN-v0"

__all__ = ["DynamicDNNEnv", "ENV_ID", "RewardWeights", "step_reward"]
