"""The trace-driven simulator of a heterogeneous board running dynamic DNNs."""

from rlrm.sim.scenario import Scenario, available_scenarios, load_scenario, parse_scenario
from rlrm.sim.simulator import BoardSimulator, OperatingPoint, Targets
from rlrm.sim.trace import Trace, TraceEntry, load_trace, parse_trace, save_trace, trace_to_dict

__all__ = [
    "BoardSimulator", "OperatingPoint", "Scenario", "Targets", "Trace", "TraceEntry",
    "available_scenarios", "load_scenario", "load_trace", "parse_scenario", "parse_trace",
    "save_trace", "trace_to_dict",
]
