"""The trace-driven simulator of a heterogeneous board running dynamic DNNs."""

from rlrm.sim.scenario import Scenario, available_scenarios, load_scenario, parse_scenario
from rlrm.sim.backend import Backend, Plan, Snapshot, make_backend, register_backend
from rlrm.sim.model import BoardModel
from rlrm.sim.result import AppResult, OperatingPoint, StepResult, Targets
from rlrm.sim.simulator import BoardSimulator
from rlrm.sim.trace import Trace, TraceEntry, load_trace, parse_trace, save_trace, trace_to_dict

__all__ = [
    "AppResult", "Backend", "BoardModel", "BoardSimulator", "OperatingPoint", "Plan", "Scenario", "Snapshot", "StepResult",
    "Targets", "Trace", "TraceEntry", "make_backend", "register_backend",
    "available_scenarios", "load_scenario", "load_trace", "parse_scenario", "parse_trace",
    "save_trace", "trace_to_dict",
]
