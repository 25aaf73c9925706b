"""The one control loop (:func:`rollout`) and its callbacks; TensorBoard logging is in
:mod:`rlrm.rollout.tensorboard` (torch imported only when a writer is opened)."""

from rlrm.rollout.loop import Callback, CallbackList, Decide, Rollout, StepHookCallback, StepRecord, rollout

__all__ = ["Callback", "CallbackList", "Decide", "Rollout", "StepHookCallback", "StepRecord", "rollout"]
