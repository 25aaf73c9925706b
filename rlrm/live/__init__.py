"""The live backend: real inferences, real background load, the board's actuators and sensors.

:class:`LiveBoard` is the ``live`` :class:`rlrm.sim.Backend` of :class:`rlrm.env.DynamicDNNEnv`
(``backend="live"``): it shares the :class:`rlrm.sim.BoardModel` (options, schedule, targets)
with the simulator and returns the same :class:`rlrm.sim.StepResult`, but each step applies the
action through :class:`rlrm.hw.HardwareActuator`, runs the Dynamic-OFA model for one control
period and measures what happened.
"""

from rlrm.hw.background import BackgroundLoad
from rlrm.live.board import LiveBoard, LiveConfig
from rlrm.live.inference import InferenceRunner, parse_duration

__all__ = ["BackgroundLoad", "InferenceRunner", "LiveBoard", "LiveConfig", "parse_duration"]
