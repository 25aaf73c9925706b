"""PPO training: configs, callbacks and the training run (``train(...) -> TrainResult``).

torch and stable-baselines3 load only when a run starts (:func:`rlrm.train.api.train`).
"""

from __future__ import annotations

from rlrm.train.api import Evaluation, TrainResult, train

__all__ = ["Evaluation", "TrainResult", "train"]
