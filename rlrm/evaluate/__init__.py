"""Run a policy for seeded episodes and report the metrics every rlrm tool uses (``rlrm evaluate``)."""

from rlrm.evaluate.episodes import (SUMMARY_KEYS, StepHook, checkpoint_env_kwargs, evaluate, format_table,
                                    format_value, resolve_policy, reward_fraction, run_episodes)

__all__ = ["SUMMARY_KEYS", "StepHook", "checkpoint_env_kwargs", "evaluate", "format_table", "format_value",
           "resolve_policy", "reward_fraction", "run_episodes"]
