"""Strict JSON for rlrm's summaries: NaN as null, infinities as ``"inf"`` / ``"-inf"``."""

from __future__ import annotations

import math
from typing import Any


def jsonable(x: Any) -> Any:
    """``x`` with every non-finite float replaced (recursively through dicts and lists), as
    ``rlrm evaluate --json``, ``rlrm compare``'s ``summary.json`` and the experiments write them."""
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [jsonable(v) for v in x]
    return x
