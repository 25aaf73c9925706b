"""What a backend step is made of: the operating point asked for, the targets in force, and the
typed result of one control period (:class:`StepResult`), the same for every backend."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Iterator, Mapping, Optional

INF = math.inf
MEASURED = "measured"
MODELLED = "modelled"


@dataclass(frozen=True)
class OperatingPoint:
    """What one application runs in a step.

    :param subnet: subnetwork level
    :param option: index into :attr:`rlrm.sim.BoardModel.options` (a ``(unit, cores)`` pair)
    :param freq_index: index into that unit's frequency table
    """

    subnet: int
    option: int
    freq_index: int


@dataclass
class Targets:
    """Targets in force (inf / 0 where a target is not set); ``energy_window_j``: the board's
    energy budget per window of the scenario's ``dynamics.window_s``."""

    latency_ms: float
    power_w: float
    energy_mj: float
    accuracy: float
    energy_window_j: float = INF


class _ReadAsMapping:
    """Read access by key (``result["power_w"]``, ``"sensor_fault" in result``, ``set(result)``)
    for code written when step results were dicts. Fields that are None (a backend does not
    have them) are absent."""

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        value = getattr(self, key, None) if isinstance(key, str) else None
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = getattr(self, key, None) if isinstance(key, str) else None
        return default if value is None else value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and getattr(self, key, None) is not None

    def keys(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())


@dataclass
class AppResult(_ReadAsMapping):
    """One active application's step (never mutated after the step).

    :param controlled: whether the manager controls it (only these count as its inferences)
    :param latency_ms: mean latency per inference
    :param latency_median_ms: median latency
    :param inferences: inferences run in the period (fractional in the simulator)
    :param deadline_miss: fraction of inferences over the deadline
    :param accuracy: top-1 (%) of the subnetwork run
    :param subnet: subnetwork level
    :param unit: compute unit name
    :param cores: CPU cores used (0 on a GPU)
    :param freq_khz: the unit's frequency
    :param dropped: frames dropped by its bounded queue in the period (None: no frame queue)
    :param queue: frames waiting at the end of the period (None: no frame queue)
    """

    controlled: bool
    latency_ms: float
    latency_median_ms: float
    inferences: float
    deadline_miss: float
    accuracy: float
    subnet: int
    unit: str
    cores: int
    freq_khz: int
    dropped: Optional[float] = None
    queue: Optional[float] = None


@dataclass
class StepResult(_ReadAsMapping):
    """One control period's metrics, the same for every backend (see ``envs/README.md``).

    Inferences and energy per inference count the managed (controlled) apps only; the energy is
    the whole board's. ``apps`` has one entry per scenario application (None while inactive);
    per-unit lists follow the board's unit order. The live-only fields are None in simulation.

    :param temperature_c: per unit, the temperature at the end of the step: modelled in
        simulation (None where not modelled: scenarios without ``dynamics.thermal``), read from
        the unit's thermal zones live (None where the profile names none)
    :param thermal_fault: live: a unit's thermal zone did not read this step (its temperature
        is its last one, tagged modelled); ``sensor_fault`` stays the power sensors' flag
    :param energy_window_left_j: the energy-budget window's budget left at the end of the step,
        J (None: no window budget)
    :param provenance: where a field's value came from, ``{field: "measured" | "modelled"}``;
        a field not named is modelled (everything in simulation). See :meth:`source`.

    Never mutated after the step (not frozen only because a frozen dataclass is slower to
    build, and the simulator builds tens of thousands a second; no ``slots=True``, which the
    board's Python 3.8 lacks), so ``copy.deepcopy`` (which vectorised
    environments apply to every info) returns it as is.
    """

    step: int
    time_s: float
    apps: list
    power_w: float
    energy_mj: float
    inferences: float
    energy_per_inference_mj: float
    unit_power_w: list
    utilisation: list
    freq_index: list
    freq_khz: list
    background: list
    targets: Targets
    power_mode: str
    energy_estimated: Optional[bool] = None
    sensor_fault: Optional[bool] = None
    freq_applied: Optional[bool] = None
    backend: Optional[str] = None
    temperature_c: Optional[list] = None
    energy_window_left_j: Optional[float] = None
    provenance: Mapping[str, str] = field(default_factory=dict)
    thermal_fault: Optional[bool] = None

    def source(self, name: str) -> str:
        """``measured`` or ``modelled``: where field ``name``'s value came from."""
        return self.provenance.get(name, MODELLED)

    def __deepcopy__(self, memo: dict) -> "StepResult":
        return self

    def __copy__(self) -> "StepResult":
        return self
