"""Dynamic-OFA model: an OFA-compatible elastic MobileNetV3 supernet with in-process
sub-network switching, its FLOPs and look-up-table latency models, and a small trained demo.

Modules, one job each:

- :mod:`~rlrm.dnn.arch` the supernet's skeleton as numbers (no torch)
- :mod:`~rlrm.dnn.layers`, :mod:`~rlrm.dnn.dynamic_layers` static and elastic operators
- :mod:`~rlrm.dnn.supernet` :class:`OFAMobileNetV3`; :mod:`~rlrm.dnn.static` the extracted sub-network
- :mod:`~rlrm.dnn.library` sub-network libraries (no torch)
- :mod:`~rlrm.dnn.dynamic_ofa` :class:`DynamicOFA`: per-level BatchNorm statistics and ``switch()``
- :mod:`~rlrm.dnn.flops` MACs/parameters, :mod:`~rlrm.dnn.lut` look-up-table latency (no torch)
- :mod:`~rlrm.dnn.checkpoint` weights-only loading with one-line errors
- :mod:`~rlrm.dnn.demo` the digits demo; :mod:`~rlrm.dnn.profile`, :mod:`~rlrm.dnn.hostinfo` ``rlrm profile``

Names are imported lazily, so ``import rlrm.dnn.lut`` does not pull in torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "OFAMobileNetV3": "rlrm.dnn.supernet",
    "MobileNetV3": "rlrm.dnn.static",
    "DynamicOFA": "rlrm.dnn.dynamic_ofa",
    "SubnetLibrary": "rlrm.dnn.library",
    "SubnetSpec": "rlrm.dnn.library",
    "load_library": "rlrm.dnn.library",
    "count_subnet": "rlrm.dnn.flops",
    "predict_latency": "rlrm.dnn.lut",
    "load_weights": "rlrm.dnn.checkpoint",
    "save_weights": "rlrm.dnn.checkpoint",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rlrm.dnn' has no attribute {name!r}")
