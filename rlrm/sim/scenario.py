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
from typing import Optional, Union

import numpy as np

from rlrm.errors import InputError
from rlrm.paths import SCENARIOS_DIR, list_names, resolve_named
from rlrm.validate import Fields, read_toml

SCHEMA = "rlrm-scenario/1"
BACKGROUND_KINDS = ("constant", "periodic", "markov", "replay")
INF = math.inf


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


def parse_scenario(data: dict, source: Union[str, Path]) -> Scenario:
    """Validate a parsed scenario (a dict) and build a :class:`Scenario`."""
    top = Fields(data, source)
    schema = top.str("schema")
    if schema != SCHEMA:
        raise top.error("schema", f"expected {SCHEMA!r}, got {schema!r}")
    name = top.str("name")
    description = top.str("description")
    period_s = float(top.number("period_s", 1.0, exclusive_minimum=0.0, maximum=3600.0))
    episode_steps = int(top.number("episode_steps", 200, integer=True, minimum=1))
    unit = top.str("unit", "gpu")

    apps = tuple(_parse_app(t) for t in top.tables("apps"))
    if not apps:
        raise top.error("apps", "a scenario needs at least one DNN application")
    names = [a.name for a in apps]
    if len(set(names)) != len(names):
        raise top.error("apps", "application names must be unique")
    if not any(a.controlled for a in apps):
        raise top.error("apps", "at least one application must have controlled = true")

    background = tuple(_parse_background(t, Path(source)) for t in top.tables("background", []))

    targets = tuple(sorted((_parse_target(t) for t in top.tables("targets")), key=lambda x: x.at_s))
    if not targets:
        raise top.error("targets", "at least one [[targets]] entry is required")
    if targets[0].at_s != 0.0:
        raise top.error("targets", "the first targets entry must have at_s = 0")

    modes = []
    for t in top.tables("power_modes", []):
        modes.append((float(t.number("at_s", minimum=0.0)), t.str("mode")))
        t.finish()
    modes.sort()
    top.finish()
    return Scenario(name=name, description=description, period_s=period_s, episode_steps=episode_steps,
                    unit=unit, apps=apps, background=background, targets=targets,
                    power_modes=tuple(modes), path=Path(source))


def _parse_app(t: Fields) -> AppSpec:
    controlled = t.bool("controlled", True)
    freq = t.raw("freq", "max")
    if isinstance(freq, bool) or not (isinstance(freq, int) or freq in ("max", "min")):
        raise t.error("freq", "expected 'max', 'min' or a frequency in kHz")
    start = float(t.number("start_s", 0.0, minimum=0.0))
    stop = float(t.number("stop_s", INF, exclusive_minimum=start)) if t.has("stop_s") else INF
    spec = AppSpec(
        name=t.str("name"), library=t.str("library", "dynamic-ofa-6"), controlled=controlled,
        fps=float(t.number("fps", 0.0, minimum=0.0)), start_s=start, stop_s=stop,
        subnet=int(t.number("subnet", -1, integer=True, minimum=-1)), unit=t.str("unit", "gpu"),
        cores=int(t.number("cores", 0, integer=True, minimum=0)), freq=str(freq),
    )
    t.finish()
    return spec


def _parse_background(t: Fields, source: Path) -> BackgroundSpec:
    kind = t.str("kind", choices=BACKGROUND_KINDS)
    unit = t.str("unit")
    cores = int(t.number("cores", 1, integer=True, minimum=1))
    activity = float(t.number("activity", 1.0, exclusive_minimum=0.0, maximum=1.0))
    start = float(t.number("start_s", 0.0, minimum=0.0))
    stop = float(t.number("stop_s", INF, exclusive_minimum=start)) if t.has("stop_s") else INF
    params: dict = {"jitter": float(t.number("jitter", 0.0, minimum=0.0, maximum=1.0))}
    if kind == "constant":
        params["level"] = float(t.number("level", minimum=0.0, maximum=1.0))
    elif kind == "periodic":
        params["low"] = float(t.number("low", minimum=0.0, maximum=1.0))
        params["high"] = float(t.number("high", minimum=0.0, maximum=1.0))
        params["period_s"] = float(t.number("period_s", exclusive_minimum=0.0))
        params["duty"] = float(t.number("duty", 0.5, minimum=0.0, maximum=1.0))
    elif kind == "markov":
        levels = t.numbers("levels", minimum=0.0)
        if any(v > 1.0 for v in levels):
            raise t.error("levels", "levels are utilisations in [0, 1]")
        dwell = t.numbers("dwell_s", exclusive_minimum=0.0)
        if len(dwell) != len(levels) or len(levels) < 2:
            raise t.error("dwell_s", "needs one mean dwell time per level, and at least two levels")
        params["levels"] = [float(v) for v in levels]
        params["dwell_s"] = [float(v) for v in dwell]
    else:  # replay
        params["sample_period_s"] = float(t.number("sample_period_s", 1.0, exclusive_minimum=0.0))
        file = t.str("file")
        path = (source.parent / file) if not Path(file).is_absolute() else Path(file)
        params["samples"] = _read_utilisation_csv(path)
        params["file"] = str(path)
    t.finish()
    return BackgroundSpec(kind=kind, unit=unit, cores=cores, activity=activity, start_s=start, stop_s=stop,
                          params=params)


def _read_utilisation_csv(path: Path) -> list[float]:
    """A recorded utilisation trace: one value in [0, 1] (or percent) per line; '#' comments
    and a non-numeric header line are skipped; with several columns the last is used."""
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise InputError(path, "<file>", f"cannot read utilisation trace: {err.strerror or err}") from None
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


def _parse_target(t: Fields) -> TargetSpec:
    def opt(key: str, **kw):  # noqa: ANN202
        return float(t.number(key, **kw)) if t.has(key) else None

    spec = TargetSpec(
        at_s=float(t.number("at_s", minimum=0.0)),
        latency_ms=opt("latency_ms", exclusive_minimum=0.0), latency_x=opt("latency_x", exclusive_minimum=0.0),
        power_w=opt("power_w", exclusive_minimum=0.0), power_x=opt("power_x", exclusive_minimum=0.0),
        energy_mj=opt("energy_mj", exclusive_minimum=0.0), energy_x=opt("energy_x", exclusive_minimum=0.0),
        accuracy=opt("accuracy", minimum=0.0, maximum=100.0),
        accuracy_level=int(t.number("accuracy_level", integer=True, minimum=0)) if t.has("accuracy_level") else None,
    )
    for a, b in (("latency_ms", "latency_x"), ("power_w", "power_x"), ("energy_mj", "energy_x"),
                 ("accuracy", "accuracy_level")):
        if getattr(spec, a) is not None and getattr(spec, b) is not None:
            raise t.error(b, f"give {a} or {b}, not both")
    t.finish()
    return spec


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
