"""Board profiles: compute units, operating points, power model, power modes, sysfs paths.

A profile is data (``envs/platforms/<name>.toml``, schema ``rlrm-platform/1``); this module
loads and validates it into frozen dataclasses. See ``envs/platforms/README.md`` for the
format and the provenance of the shipped numbers.
"""

from __future__ import annotations


from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union


from rlrm.errors import InputError
from rlrm.paths import PLATFORMS_DIR, list_names, resolve_named
from rlrm.validate import Fields, read_toml

SCHEMA = "rlrm-platform/1"
UNIT_KINDS = ("cpu", "gpu")
SENSOR_KINDS = ("ina3221-iio", "ina3221-hwmon", "ina231", "rapl", "hwmon")


@dataclass(frozen=True)
class PowerModel:
    """Power of one compute unit: ``P = static_w * V / V_max + ceff * V^2 * f_GHz * activity``.

    For a CPU cluster the dynamic part is summed over its cores (``ceff`` is per core) and
    the static part is scaled by the share of cores online; for a GPU ``ceff`` is the whole
    unit's.

    :param ceff: effective switched capacitance in W / (V^2 GHz) (per core for a CPU)
    :param static_w: static (leakage) power of the whole unit at its highest voltage, W
    :param idle_activity: activity factor of an idle but clocked core / GPU (clock-gating residue)
    :param source: how the numbers were obtained or fitted
    """

    ceff: float
    static_w: float
    idle_activity: float
    source: str


@dataclass(frozen=True)
class ComputeUnit:
    """A CPU cluster or a GPU with its DVFS operating points.

    :param name: unit name used by traces, scenarios and actions (e.g. ``a15``, ``gpu``)
    :param kind: ``cpu`` or ``gpu``
    :param cores: number of cores (1 for a GPU)
    :param core_type: e.g. ``Cortex-A15``
    :param freqs_khz: operating-point frequencies, strictly increasing, kHz
    :param volts_mv: voltage at each operating point, mV
    :param freq_source: where the frequency table comes from
    :param volt_source: where the voltages come from (published, or how they were fitted)
    :param dvfs_latency_us: frequency-transition latency, microseconds
    :param power: the unit's :class:`PowerModel`
    :param sysfs: sysfs locations for live use (cpufreq policies, devfreq node)
    :param governor: the kernel governor the board runs on this unit by default (GPU:
        ``nvhost_podgov`` on Jetson, ``simple_ondemand`` on Mali); "" when not stated
    """

    name: str
    kind: str
    cores: int
    core_type: str
    freqs_khz: tuple[int, ...]
    volts_mv: tuple[float, ...]
    freq_source: str
    volt_source: str
    dvfs_latency_us: float
    power: PowerModel
    sysfs: dict = field(default_factory=dict)
    governor: str = ""

    @property
    def f_max_khz(self) -> int:
        return self.freqs_khz[-1]

    @property
    def f_min_khz(self) -> int:
        return self.freqs_khz[0]

    @property
    def n_freqs(self) -> int:
        return len(self.freqs_khz)

    def freq_index(self, khz: int) -> int:
        """Index of an exact operating-point frequency (ValueError if it is not one)."""
        return self.freqs_khz.index(int(khz))

    def power_w(self, freq_index: int, busy_cores: float, activity: float, online_cores: Optional[int] = None) -> float:
        """Power of this unit at an operating point.

        :param freq_index: index into ``freqs_khz``
        :param busy_cores: CPU: cores' worth of busy time (0..online); GPU: busy fraction (0..1)
        :param activity: activity factor of the busy part
        :param online_cores: CPU cores online (default: all)
        """
        v = self.volts_mv[freq_index] / 1000.0
        v_max = max(self.volts_mv) / 1000.0
        f_ghz = self.freqs_khz[freq_index] / 1e6
        online = self.cores if online_cores is None else online_cores
        slots = online if self.kind == "cpu" else 1
        busy = min(max(busy_cores, 0.0), float(slots))
        static = self.power.static_w * (v / v_max) * (online / self.cores if self.kind == "cpu" else 1.0)
        act = busy * activity + (slots - busy) * self.power.idle_activity
        return static + self.power.ceff * v * v * f_ghz * act


@dataclass(frozen=True)
class PowerMode:
    """A power mode such as an nvpmodel mode: which cores are online and frequency caps.

    :param id: mode number (nvpmodel id)
    :param name: mode name
    :param budget_w: nominal power budget of the mode, W (0 if none)
    :param online_cores: cores online per CPU unit (units not named: all)
    :param max_freq_khz: frequency cap per unit (units not named: uncapped)
    """

    id: int
    name: str
    budget_w: float
    online_cores: dict
    max_freq_khz: dict

    def cores_online(self, unit: ComputeUnit) -> int:
        return int(self.online_cores.get(unit.name, unit.cores))

    def freq_cap_khz(self, unit: ComputeUnit) -> int:
        return int(self.max_freq_khz.get(unit.name, unit.f_max_khz))


@dataclass(frozen=True)
class Sensor:
    """A power sensor for live use.

    :param name: rail name (e.g. ``VDD_IN``)
    :param kind: one of ``ina3221-iio``, ``ina3221-hwmon``, ``ina231``, ``rapl``, ``hwmon``
    :param path: sysfs directory of the sensor (candidates separated by ``|`` allowed)
    :param channel: channel number where the chip has several
    :param measures: what the rail covers: ``board`` or unit names
    """

    name: str
    kind: str
    path: str
    channel: int
    measures: tuple[str, ...]


@dataclass(frozen=True)
class Platform:
    """A board profile.

    :param name: profile name
    :param description: one-line summary
    :param sources: where the profile's facts come from
    :param base_power_w: power of the rest of the board (memory, SoC, regulators) with all
        modelled units idle, W
    :param base_power_source: how ``base_power_w`` was obtained
    :param units: compute units by name, in file order
    :param power_modes: power modes by name
    :param default_power_mode: name of the mode in force unless a scenario says otherwise
    :param sensors: power sensors for live use
    :param path: the file it was loaded from
    """

    name: str
    description: str
    sources: tuple[str, ...]
    base_power_w: float
    base_power_source: str
    units: dict
    power_modes: dict
    default_power_mode: str
    sensors: tuple[Sensor, ...]
    path: Optional[Path] = None

    @property
    def unit_names(self) -> list[str]:
        return list(self.units)

    def unit(self, name: str) -> ComputeUnit:
        try:
            return self.units[name]
        except KeyError:
            raise KeyError(f"{self.name} has no unit {name!r} (has {', '.join(self.units)})") from None

    def power_mode(self, name: Optional[str] = None) -> PowerMode:
        return self.power_modes[name or self.default_power_mode]

    def summary(self) -> str:
        """One line: units, operating points and power modes."""
        parts = []
        for u in self.units.values():
            cores = f"{u.cores}x " if u.kind == "cpu" else ""
            parts.append(f"{u.name} ({cores}{u.core_type}, {u.n_freqs} OPPs "
                         f"{u.f_min_khz / 1000:g}-{u.f_max_khz / 1000:g} MHz)")
        return f"{'; '.join(parts)}; {len(self.power_modes)} power modes"


def load_platform(name_or_path: Union[str, Path]) -> Platform:
    """Load and validate a board profile by name (``jetson-xavier-nx``) or path."""
    path = resolve_named(name_or_path, PLATFORMS_DIR, ".toml")
    if not path.is_file():
        known = ", ".join(available_platforms()) or "none"
        raise InputError(path, "<file>", f"no such board profile (known: {known})")
    return parse_platform(read_toml(path), path)


def available_platforms() -> list[str]:
    """Names of the board profiles in ``envs/platforms`` (shipped, then ``$RLRM_HOME``'s)."""
    return list_names(PLATFORMS_DIR, ".toml")


def parse_platform(data: dict, source: Union[str, Path]) -> Platform:
    """Validate a parsed profile (a dict) and build a :class:`Platform`."""
    top = Fields(data, source)
    schema = top.str("schema")
    if schema != SCHEMA:
        raise top.error("schema", f"expected {SCHEMA!r}, got {schema!r}")
    name = top.str("name")
    description = top.str("description")
    sources = tuple(_strings(top, "sources"))

    board = top.table("board")
    base_power_w = board.number("base_power_w", minimum=0.0)
    base_power_source = board.str("base_power_source")
    default_mode = board.str("default_power_mode")
    board.finish()

    units_tbl = top.table("units")
    if not units_tbl.data:
        raise top.error("units", "a board needs at least one compute unit")
    units = {}
    for unit_name in units_tbl.data:
        units[unit_name] = _parse_unit(units_tbl.table(unit_name), unit_name)
    units_tbl.finish()

    modes = {}
    for mode_tbl in top.tables("power_modes"):
        mode = _parse_mode(mode_tbl, units)
        if mode.name in modes:
            raise mode_tbl.error("name", f"duplicate power mode {mode.name!r}")
        modes[mode.name] = mode
    if not modes:
        raise top.error("power_modes", "at least one power mode is required")
    if default_mode not in modes:
        raise board.error("default_power_mode", f"{default_mode!r} is not one of the power_modes")

    sensors = tuple(_parse_sensor(t, units) for t in top.tables("sensors", []))
    top.finish()
    return Platform(
        name=name, description=description, sources=sources, base_power_w=float(base_power_w),
        base_power_source=base_power_source, units=units, power_modes=modes,
        default_power_mode=default_mode, sensors=sensors, path=Path(source),
    )


def _parse_unit(t: Fields, unit_name: str) -> ComputeUnit:
    kind = t.str("kind", choices=UNIT_KINDS)
    cores = t.number("cores", 1, integer=True, minimum=1)
    if kind == "gpu" and cores != 1:
        raise t.error("cores", "a GPU unit has cores = 1")
    core_type = t.str("core_type")
    freqs = t.numbers("freqs_khz", integer=True, exclusive_minimum=0, increasing=True)
    volts = t.numbers("volts_mv", exclusive_minimum=0)
    if len(volts) != len(freqs):
        raise t.error("volts_mv", f"has {len(volts)} values for {len(freqs)} frequencies")
    freq_source = t.str("freq_source")
    volt_source = t.str("volt_source")
    dvfs_latency_us = t.number("dvfs_latency_us", minimum=0.0)
    p = t.table("power")
    power = PowerModel(
        ceff=float(p.number("ceff", minimum=0.0)),
        static_w=float(p.number("static_w", minimum=0.0)),
        idle_activity=float(p.number("idle_activity", minimum=0.0, maximum=1.0)),
        source=p.str("source"),
    )
    p.finish()
    sysfs = _parse_sysfs(t.table("sysfs", {}), kind)
    governor = t.str("governor", "")
    t.finish()
    return ComputeUnit(
        name=unit_name, kind=kind, cores=int(cores), core_type=core_type,
        freqs_khz=tuple(int(f) for f in freqs), volts_mv=tuple(float(v) for v in volts),
        freq_source=freq_source, volt_source=volt_source, dvfs_latency_us=float(dvfs_latency_us),
        power=power, sysfs=sysfs, governor=governor,
    )


def _parse_sysfs(t: Fields, kind: str) -> dict:
    out: dict = {}
    if kind == "cpu":
        if t.has("cpufreq_policies"):
            out["cpufreq_policies"] = _strings(t, "cpufreq_policies")
        if t.has("cpus"):
            out["cpus"] = [int(c) for c in t.numbers("cpus", integer=True, minimum=0)]
    else:
        if t.has("devfreq"):
            out["devfreq"] = _strings(t, "devfreq")
    t.finish()
    return out


def _parse_mode(t: Fields, units: dict) -> PowerMode:
    mode_id = t.number("id", integer=True, minimum=0)
    name = t.str("name")
    budget = t.number("budget_w", 0.0, minimum=0.0)
    online_tbl = t.table("online_cores", {})
    online = {}
    for unit_name in online_tbl.data:
        if unit_name not in units or units[unit_name].kind != "cpu":
            raise online_tbl.error(unit_name, "not a CPU unit of this board")
        online[unit_name] = online_tbl.number(unit_name, integer=True, minimum=1,
                                              maximum=units[unit_name].cores)
    online_tbl.finish()
    caps_tbl = t.table("max_freq_khz", {})
    caps = {}
    for unit_name in caps_tbl.data:
        if unit_name not in units:
            raise caps_tbl.error(unit_name, "not a unit of this board")
        cap = caps_tbl.number(unit_name, integer=True, exclusive_minimum=0)
        if cap < units[unit_name].f_min_khz:
            raise caps_tbl.error(unit_name, f"cap {cap} kHz is below the unit's lowest frequency")
        caps[unit_name] = cap
    caps_tbl.finish()
    t.finish()
    return PowerMode(id=int(mode_id), name=name, budget_w=float(budget), online_cores=online, max_freq_khz=caps)


def _parse_sensor(t: Fields, units: dict) -> Sensor:
    name = t.str("name")
    kind = t.str("kind", choices=SENSOR_KINDS)
    path = t.str("path")
    channel = t.number("channel", 0, integer=True, minimum=0)
    measures = _strings(t, "measures")
    for i, m in enumerate(measures):
        if m != "board" and m not in units:
            raise InputError(t.source, f"{t.name('measures')}[{i}]", f"{m!r} is neither 'board' nor a unit")
    t.finish()
    return Sensor(name=name, kind=kind, path=path, channel=int(channel), measures=tuple(measures))


def _strings(t: Fields, key: str) -> list[str]:
    value = t.raw(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise t.error(key, "expected a list of strings")
    return list(value)


def platform_to_dict(p: Platform) -> dict:
    """The TOML-ready dict of a profile (inverse of :func:`parse_platform`)."""
    units = {}
    for u in p.units.values():
        d = {
            "kind": u.kind, "cores": u.cores, "core_type": u.core_type,
            "freqs_khz": list(u.freqs_khz), "volts_mv": list(u.volts_mv),
            "freq_source": u.freq_source, "volt_source": u.volt_source,
            "dvfs_latency_us": u.dvfs_latency_us,
            "power": {"ceff": u.power.ceff, "static_w": u.power.static_w,
                      "idle_activity": u.power.idle_activity, "source": u.power.source},
        }
        if u.sysfs:
            d["sysfs"] = dict(u.sysfs)
        if u.governor:
            d["governor"] = u.governor
        units[u.name] = d
    out = {
        "schema": SCHEMA, "name": p.name, "description": p.description, "sources": list(p.sources),
        "board": {"base_power_w": p.base_power_w, "base_power_source": p.base_power_source,
                  "default_power_mode": p.default_power_mode},
        "units": units,
        "power_modes": [
            {"id": m.id, "name": m.name, "budget_w": m.budget_w,
             "online_cores": dict(m.online_cores), "max_freq_khz": dict(m.max_freq_khz)}
            for m in p.power_modes.values()
        ],
    }
    if p.sensors:
        out["sensors"] = [
            {"name": s.name, "kind": s.kind, "path": s.path, "channel": s.channel, "measures": list(s.measures)}
            for s in p.sensors
        ]
    return out


def save_platform(p: Platform, path: Union[str, Path]) -> Path:
    """Write a profile as TOML (what ``rlrm profile`` uses for a measured board)."""
    import tomli_w

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(tomli_w.dumps(platform_to_dict(p)).encode("utf-8"))
    tmp.replace(path)
    return path


