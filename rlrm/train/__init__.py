"""PPO training: configs, callbacks and the training run (``train(...) -> TrainResult``)."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:  # torch and stable-baselines3 load only when training
    if name in ("train", "TrainResult", "Evaluation"):
        from rlrm.train import api

        return getattr(api, name)
    raise AttributeError(name)
