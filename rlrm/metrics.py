"""The metrics every part of rlrm reports, under the same names (see :mod:`rlrm.sim.metrics`,
where they are computed beside the step result they summarise)."""

from rlrm.sim.metrics import MetricsAccumulator

__all__ = ["MetricsAccumulator"]
