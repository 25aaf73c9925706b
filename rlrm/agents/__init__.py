"""Policies that pick subnetwork, compute unit and frequency: PPO checkpoints (through
:mod:`rlrm.policy`), the governor baselines, ``lut``, ``static-best``, the oracle.

The kernel governors themselves are one layer down, in :mod:`rlrm.governors`, so that the
simulator (whose CPU units run schedutil) and these policies share them without a cycle.
Submodules are imported on demand; this package imports nothing heavy.
"""
