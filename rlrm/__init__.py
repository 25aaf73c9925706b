"""rlrm: a runtime resource manager for dynamic DNNs on heterogeneous CPU-GPU boards."""

from __future__ import annotations

__version__ = "0.1.0"
