"""The live backend: real inferences, real background load, the board's actuators and sensors.

:class:`LiveBoard` stands in for :class:`rlrm.sim.BoardSimulator` in
:class:`rlrm.env.DynamicDNNEnv` (``backend="live"``): same options, schedule, targets and
result dict, but each step applies the action through :class:`rlrm.hw.HardwareActuator`,
runs the Dynamic-OFA model for one control period and measures what happened.
"""

from rlrm.live.background import BackgroundLoad
from rlrm.live.board import LiveBoard, LiveConfig
from rlrm.live.inference import InferenceRunner, parse_duration

__all__ = ["BackgroundLoad", "InferenceRunner", "LiveBoard", "LiveConfig", "parse_duration"]
