"""Scenarios (``envs/scenarios/<name>.toml``, schema ``rlrm-scenario/1``).

A scenario says which DNN applications run (and when), what background load competes
with them, which targets apply (and when they change), and which power mode is in force.
Unit names may be a board's own (``a15``) or the portable ``cpu`` (the board's largest CPU
unit) and ``gpu``; targets may be absolute or relative to the board, so one scenario runs on
every board. See ``envs/scenarios/README.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from rlrm.errors import InputError
from rlrm.paths import SCENARIOS_DIR, list_names, resolve_named
from rlrm.validate import OMIT, REQUIRED, Any_, Bool, Float, Int, List, Spec, Str, Table, read_bytes, read_toml

SCHEMA = "rlrm-scenario/1"
BACKGROUND_KINDS = ("constant", "periodic", "markov", "replay")
INF = math.inf
#: plausible bounds: a typo (or 1e308) is refused rather than simulated
MAX_TIME_S = 1e9
MAX_FPS = 10_000.0
MAX_CORES = 256
MAX_LEVEL = 1000
MAX_FREQ_KHZ = 10_000_000


@dataclass(frozen=True)
class AppSpec:
    """A DNN application.

    :param name: application name
    :param library: subnetwork library (trace) it runs
    :param controlled: whether the agent chooses its operating point
    :param fps: requested frame rate; 0 means back to back (as the Dynamic-OFA demo runs)
    :param start_s: when it starts
    :param stop_s: when it stops (inf: never)
    :param subnet: fixed subnetwork level when not controlled (-1: the largest)
    :param unit: fixed unit when not controlled
    :param cores: fixed core count when not controlled (0: all online / GPU)
    :param freq: fixed frequency when not controlled: ``max``, ``min`` or kHz as a string
    :param queue: frames that may wait when ``fps`` > 0 (a bounded queue; more are dropped);
        0: no frame queue (the step runs ``min(fps, 1 / latency)`` inferences and late frames
        are simply not run, the model of the scenarios shipped before frame queues)
    """

    name: str
    library: str
    controlled: bool
    fps: float
    start_s: float
    stop_s: float
    subnet: int
    unit: str
    cores: int
    freq: str
    queue: int = 0


@dataclass(frozen=True)
class BackgroundSpec:
    """A background workload on one unit.

    :param kind: ``constant``, ``periodic``, ``markov`` or ``replay``
    :param unit: unit it loads
    :param cores: CPU threads it runs (ignored on a GPU)
    :param activity: activity factor of its busy time
    :param start_s: when it starts
    :param stop_s: when it stops
    :param params: kind-specific parameters (``level``; ``low``/``high``/``period_s``/``duty``;
        ``levels``/``dwell_s``; ``samples``/``sample_period_s``) and ``jitter``
    """

    kind: str
    unit: str
    cores: int
    activity: float
    start_s: float
    stop_s: float
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TargetSpec:
    """Targets in force from ``at_s`` on. Each is absolute or relative (``*_x``); None: none.

    :param at_s: time they take effect
    :param latency_ms: deadline per inference, ms
    :param latency_x: deadline as a multiple of the reference latency (largest subnet, scenario
        unit, max frequency, no load)
    :param power_w: board power budget, W
    :param power_x: budget as a fraction of the board's full-load power in the power mode
    :param energy_mj: energy budget per inference, mJ
    :param energy_x: budget as a multiple of the reference energy per inference
    :param accuracy: top-1 floor in percent
    :param accuracy_level: floor as the top-1 of this library level
    :param energy_window_j: energy budget of the board per window of ``dynamics.window_s``
        seconds, J (a battery or harvested-energy budget); once spent, the managed
        applications are suspended until the next window starts
    """

    at_s: float
    latency_ms: Optional[float] = None
    latency_x: Optional[float] = None
    power_w: Optional[float] = None
    power_x: Optional[float] = None
    energy_mj: Optional[float] = None
    energy_x: Optional[float] = None
    accuracy: Optional[float] = None
    accuracy_level: Optional[int] = None
    energy_window_j: Optional[float] = None


@dataclass(frozen=True)
class Dynamics:
    """Which of the board's dynamics a scenario models (all off: the model of the scenarios
    shipped before them, so their figures do not change).

    :param costs: charge the profile's subnetwork switch time, DVFS transition energy and the
        CPU time of GPU inferences (``subnet_switch_ms``, ``dvfs_energy_uj``, ``gpu_host_ms``)
    :param thermal: model every unit's temperature (its profile ``thermal`` table) and the
        kernel's throttling at the trip point
    :param cooling: ``fan`` (the profile's ``r_k_per_w``) or ``fanless`` (``r_fanless_k_per_w``)
    :param ambient_c: ambient temperature, deg C (None: the profile's ``ambient_c``)
    :param start_c: temperature of every zone at time 0 (None: ambient)
    :param window_s: length of an energy-budget window (targets' ``energy_window_j``), s
    """

    costs: bool = False
    thermal: bool = False
    cooling: str = "fan"
    ambient_c: Optional[float] = None
    start_c: Optional[float] = None
    window_s: float = 60.0


@dataclass(frozen=True)
class Scenario:
    """A workload scenario.

    :param name: scenario name
    :param description: what it models
    :param period_s: control period, s
    :param episode_steps: default episode length in control steps
    :param unit: the unit baselines run the DNN on (``gpu``, ``cpu`` or a unit name)
    :param apps: DNN applications
    :param background: background workloads
    :param targets: target schedule, sorted by time
    :param power_modes: ``(at_s, mode name)`` schedule; empty: the board's default
    :param path: file it was loaded from
    :param dynamics: the board dynamics it models (:class:`Dynamics`)
    """

    name: str
    description: str
    period_s: float
    episode_steps: int
    unit: str
    apps: tuple
    background: tuple
    targets: tuple
    power_modes: tuple
    path: Optional[Path] = None
    dynamics: Dynamics = Dynamics()

    @property
    def controlled_apps(self) -> list[AppSpec]:
        return [a for a in self.apps if a.controlled]


def available_scenarios() -> list[str]:
    """Names of the scenarios in ``envs/scenarios`` (shipped, then ``$RLRM_HOME``'s)."""
    return list_names(SCENARIOS_DIR, ".toml")


def load_scenario(name_or_path: Union[str, Path]) -> Scenario:
    """Load and validate a scenario by name (``steady``) or path."""
    path = resolve_named(name_or_path, SCENARIOS_DIR, ".toml")
    if not path.is_file():
        raise InputError(path, "<file>", f"no such scenario (known: {', '.join(available_scenarios()) or 'none'})")
    return parse_scenario(read_toml(path), path)


def _app_freq(value: Any, source: str, field: str) -> str:
    if isinstance(value, bool) or not (isinstance(value, int) and 0 < value <= MAX_FREQ_KHZ or value in ("max", "min")):
        raise InputError(source, field, "expected 'max', 'min' or a frequency in kHz")
    return str(value)


def _when(default: Any = 0.0) -> Float:
    return Float(default, minimum=0.0, maximum=MAX_TIME_S)


def _positive(maximum: float) -> Float:
    return Float(OMIT, exclusive_minimum=0.0, maximum=maximum)


APP_SPEC = Spec({
    "name": Str(), "library": Str("dynamic-ofa-6"), "controlled": Bool(True), "fps": Float(0.0, minimum=0.0, maximum=MAX_FPS),
    "start_s": _when(), "stop_s": _when(INF), "subnet": Int(-1, minimum=-1, maximum=MAX_LEVEL), "unit": Str("gpu"),
    "cores": Int(0, minimum=0, maximum=MAX_CORES), "freq": Any_("max", then=_app_freq),
    "queue": Int(0, minimum=0, maximum=100_000),
})
_LEVEL = Float(minimum=0.0, maximum=1.0)
BACKGROUND_SPEC = Spec({
    "kind": Str(choices=BACKGROUND_KINDS), "unit": Str(), "cores": Int(1, minimum=1, maximum=MAX_CORES),
    "activity": Float(1.0, exclusive_minimum=0.0, maximum=1.0), "start_s": _when(), "stop_s": _when(INF),
    "jitter": Float(0.0, minimum=0.0, maximum=1.0),
}, switch=("kind", {
    "constant": Spec({"level": _LEVEL}),
    "periodic": Spec({"low": _LEVEL, "high": _LEVEL, "period_s": Float(exclusive_minimum=0.0, maximum=MAX_TIME_S),
                      "duty": Float(0.5, minimum=0.0, maximum=1.0)}),
    "markov": Spec({"levels": List(_LEVEL), "dwell_s": List(Float(exclusive_minimum=0.0, maximum=MAX_TIME_S))}),
    "replay": Spec({"sample_period_s": Float(1.0, exclusive_minimum=0.0, maximum=MAX_TIME_S), "file": Str(nonempty=True)}),
}))
TARGET_SPEC = Spec({
    "at_s": _when(REQUIRED), "latency_ms": _positive(1e7), "latency_x": _positive(1e4), "power_w": _positive(1e4),
    "power_x": _positive(1e3), "energy_mj": _positive(1e9), "energy_x": _positive(1e4),
    "accuracy": Float(OMIT, minimum=0.0, maximum=100.0), "accuracy_level": Int(OMIT, minimum=0, maximum=MAX_LEVEL),
    "energy_window_j": _positive(1e9),
})
DYNAMICS_SPEC = Spec({
    "costs": Bool(False), "thermal": Bool(False), "cooling": Str("fan", choices=("fan", "fanless")),
    "ambient_c": Float(OMIT, minimum=-50.0, maximum=150.0), "start_c": Float(OMIT, minimum=-50.0, maximum=200.0),
    "window_s": Float(60.0, exclusive_minimum=0.0, maximum=MAX_TIME_S),
})
#: a scenario, ``rlrm-scenario/1``
SCENARIO_SPEC = Spec({
    "schema": Str(choices=(SCHEMA,)), "name": Str(), "description": Str(),
    "period_s": Float(1.0, exclusive_minimum=0.0, maximum=3600.0),
    "episode_steps": Int(200, minimum=1, maximum=10**9), "unit": Str("gpu"),
    "apps": List(Table(APP_SPEC)), "background": List(Table(BACKGROUND_SPEC), [], nonempty=False),
    "targets": List(Table(TARGET_SPEC)),
    "power_modes": List(Table(Spec({"at_s": _when(REQUIRED), "mode": Str()})), [], nonempty=False),
    "dynamics": Table(DYNAMICS_SPEC, OMIT),
})


def parse_scenario(data: dict, source: Union[str, Path]) -> Scenario:
    """Validate a parsed scenario (a dict) against :data:`SCENARIO_SPEC` and build a :class:`Scenario`."""
    d = SCENARIO_SPEC.check(data, source)
    src = str(source)
    apps = tuple(_app(a, src, f"apps[{i}]") for i, a in enumerate(d["apps"]))
    names = [a.name for a in apps]
    if len(set(names)) != len(names):
        raise InputError(src, "apps", "application names must be unique")
    if not any(a.controlled for a in apps):
        raise InputError(src, "apps", "at least one application must have controlled = true")
    background = tuple(_background(b, Path(source), f"background[{i}]") for i, b in enumerate(d["background"]))
    targets = tuple(sorted((_target(t, src, f"targets[{i}]") for i, t in enumerate(d["targets"])),
                           key=lambda x: x.at_s))
    if targets[0].at_s != 0.0:
        raise InputError(src, "targets", "the first targets entry must have at_s = 0")
    modes = sorted((m["at_s"], m["mode"]) for m in d["power_modes"])
    dyn = d.get("dynamics")
    dynamics = Dynamics() if dyn is None else Dynamics(
        costs=dyn["costs"], thermal=dyn["thermal"], cooling=dyn["cooling"], ambient_c=dyn.get("ambient_c"),
        start_c=dyn.get("start_c"), window_s=dyn["window_s"])
    return Scenario(name=d["name"], description=d["description"], period_s=d["period_s"],
                    episode_steps=d["episode_steps"], unit=d["unit"], apps=apps, background=background,
                    targets=targets, power_modes=tuple(modes), path=Path(source), dynamics=dynamics)


def _check_stop(t: dict, source: str, where: str) -> None:
    if t["stop_s"] <= t["start_s"]:
        raise InputError(source, f"{where}.stop_s", f"must be > start_s ({t['start_s']:g}), got {t['stop_s']:g}")


def _app(a: dict, source: str, where: str) -> AppSpec:
    _check_stop(a, source, where)
    return AppSpec(**a)


def _background(b: dict, source: Path, where: str) -> BackgroundSpec:
    _check_stop(b, str(source), where)
    kind = b["kind"]
    params = {k: v for k, v in b.items() if k not in ("kind", "unit", "cores", "activity", "start_s", "stop_s")}
    if kind == "markov" and (len(b["dwell_s"]) != len(b["levels"]) or len(b["levels"]) < 2):
        raise InputError(source, f"{where}.dwell_s", "needs one mean dwell time per level, and at least two levels")
    if kind == "replay":
        file = b["file"]
        path = (source.parent / file) if not Path(file).is_absolute() else Path(file)
        params["samples"] = _read_utilisation_csv(path)
        params["file"] = str(path)
    return BackgroundSpec(kind=kind, unit=b["unit"], cores=b["cores"], activity=b["activity"], start_s=b["start_s"],
                          stop_s=b["stop_s"], params=params)


def _read_utilisation_csv(path: Path) -> list[float]:
    """A recorded utilisation trace: one value in [0, 1] (or percent) per line; '#' comments
    and a non-numeric header line are skipped; with several columns the last is used."""
    try:
        lines = read_bytes(path, "a utilisation trace (CSV)").decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise InputError(path, "<file>", "not valid UTF-8 text") from None
    values: list[float] = []
    for i, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        cell = line.split(",")[-1].strip()
        try:
            v = float(cell)
        except ValueError:
            if not values and i == 1:
                continue  # header
            raise InputError(path, f"line {i}", f"not a number: {cell!r}") from None
        if not math.isfinite(v) or v < 0:
            raise InputError(path, f"line {i}", f"utilisation must be finite and >= 0, got {cell}")
        values.append(v)
    if not values:
        raise InputError(path, "<file>", "no utilisation samples")
    if max(values) > 1.0:
        if max(values) > 100.0:
            raise InputError(path, "<file>", "values above 100: expected a fraction or a percentage")
        values = [v / 100.0 for v in values]
    return values


def _target(t: dict, source: str, where: str) -> TargetSpec:
    for a, b in (("latency_ms", "latency_x"), ("power_w", "power_x"), ("energy_mj", "energy_x"),
                 ("accuracy", "accuracy_level")):
        if a in t and b in t:
            raise InputError(source, f"{where}.{b}", f"give {a} or {b}, not both")
    return TargetSpec(**t)


def sample_background(spec: BackgroundSpec, t_s: float, state: list, rng: np.random.Generator, period_s: float) -> float:
    """Utilisation of a background workload at time ``t_s`` (advances Markov ``state``)."""
    if t_s < spec.start_s or t_s >= spec.stop_s:
        return 0.0
    p = spec.params
    kind = spec.kind
    if kind == "constant":
        level = p["level"]
    elif kind == "periodic":
        phase = ((t_s - spec.start_s) % p["period_s"]) / p["period_s"]
        level = p["high"] if phase < p["duty"] else p["low"]
    elif kind == "markov":
        s = state[0]
        if rng.random() < 1.0 - math.exp(-period_s / p["dwell_s"][s]):
            n = len(p["levels"])
            s = (s + 1 + int(rng.integers(n - 1))) % n if n > 2 else 1 - s
            state[0] = s
        level = p["levels"][s]
    else:
        samples = p["samples"]
        level = samples[int((t_s - spec.start_s) / p["sample_period_s"]) % len(samples)]
    jitter = p["jitter"]
    if jitter:
        level = min(1.0, max(0.0, level + jitter * float(rng.standard_normal())))
    return level
