"""``rlrm compare``: run several policies on identical seeded episodes, log every one to
TensorBoard under the same tags, and report a summary table and figures."""

from rlrm.compare.runner import NONFINITE, PolicySpec, parse_policies, run_compare

__all__ = ["NONFINITE", "PolicySpec", "parse_policies", "run_compare"]
