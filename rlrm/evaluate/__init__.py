"""Run a policy for seeded episodes and report the metrics every rlrm tool uses (``rlrm evaluate``)."""

from rlrm.evaluate.episodes import (REFERENCES, SUMMARY_KEYS, StepHook, checkpoint_env_kwargs, evaluate, format_table,
                                    format_value, policy_choice, reference_rewards, resolve_policy,
                                    run_episodes)

__all__ = ["REFERENCES", "SUMMARY_KEYS", "StepHook", "checkpoint_env_kwargs", "evaluate", "format_table", "format_value",
           "policy_choice", "reference_rewards", "resolve_policy", "run_episodes"]
