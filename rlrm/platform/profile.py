"""Board profiles: compute units, operating points, power model, power modes, sysfs paths.

A profile is data (``envs/platforms/<name>.toml``, schema ``rlrm-platform/1``); this module
loads and validates it into frozen dataclasses. See ``envs/platforms/README.md`` for the
format and the provenance of the shipped numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Tuple, Union

from rlrm.atomic import atomic_write_bytes
from rlrm.errors import InputError
from rlrm.paths import PLATFORMS_DIR, list_names, resolve_named
from rlrm.platform.contention import ContentionTable, contention_spec, parse_contention
from rlrm.validate import OMIT, REQUIRED, Float, Fraction, Int, List, MapOf, Spec, Str, Table, read_toml

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
class ThermalModel:
    """A first-order RC model of one unit's thermal zone and the kernel's throttling of it.

    ``C dT/dt = P - (T - T_ambient) / R``: with the unit's power ``P`` constant over a step of
    ``dt`` seconds, ``T`` moves towards ``T_ambient + P R`` with time constant ``tau = R C``.
    While the zone is at or above ``trip_c`` the kernel's step-wise governor lowers the unit's
    maximum frequency by one operating point per polling period; once it is below
    ``trip_c - hysteresis_c`` it raises it again by one (see :mod:`rlrm.sim.dynamics`).

    :param r_k_per_w: thermal resistance zone -> ambient with the board's normal cooling, K/W
    :param r_fanless_k_per_w: the same without a fan (a scenario's ``dynamics.cooling = "fanless"``)
    :param c_j_per_k: heat capacity of the zone (die, package and spreader share), J/K
    :param trip_c: the passive trip point at which the kernel throttles, deg C
    :param hysteresis_c: how far below the trip point the cap is raised again, K
    :param source: where the constants come from
    :param zones: the ``type`` of the kernel's thermal zones that measure the unit
        (``/sys/class/thermal/thermal_zone*/type``); the live backend reads the hottest of them
        (empty: the live backend does not measure the unit's temperature)
    """

    r_k_per_w: float
    r_fanless_k_per_w: float
    c_j_per_k: float
    trip_c: float
    hysteresis_c: float
    source: str
    zones: Tuple[str, ...] = ()


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
    :param dvfs_energy_uj: energy one frequency transition costs (PLL relock, voltage ramp), uJ;
        charged only in scenarios with ``dynamics.costs = true``
    :param dvfs_energy_source: where ``dvfs_energy_uj`` comes from
    :param thermal: the unit's :class:`ThermalModel` (None: not modelled); used only in
        scenarios with ``dynamics.thermal = true``
    :param contention: a CPU unit's measured :class:`~rlrm.platform.contention.ContentionTable`
        (``rlrm profile`` writes it; None: the simulator's analytical contention model)
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
    dvfs_energy_uj: float = 0.0
    dvfs_energy_source: str = ""
    thermal: Optional[ThermalModel] = None
    contention: Optional[ContentionTable] = None

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
    :param ambient_c: ambient temperature of the thermal models, deg C
    :param subnet_switch_ms: time a subnetwork switch costs the application (the in-process
        switch plus the first inference's extra time after it), ms; charged only in scenarios
        with ``dynamics.costs = true``
    :param gpu_host_ms: CPU time one GPU inference needs on a core of the largest CPU unit
        (pre-processing, kernel launches, synchronisation), ms; it competes with CPU
        background, so CPU contention stretches GPU latency (``dynamics.costs = true`` only)
    :param costs_source: where ``subnet_switch_ms``, ``gpu_host_ms`` and ``ambient_c`` come from
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
    ambient_c: float = 25.0
    subnet_switch_ms: float = 0.0
    gpu_host_ms: float = 0.0
    costs_source: str = ""

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


#: plausible bounds of a board's numbers: a typo (or 1e308, which makes energy infinite) is refused
MAX_POWER_W = 1000.0
MAX_CORES = 256
MAX_FREQ_KHZ = 10_000_000  # 10 GHz
MAX_VOLT_MV = 5000.0
MAX_CEFF = 100.0  # W / (V^2 GHz)
MAX_DVFS_LATENCY_US = 1_000_000.0  # 1 s


def _strings(default=REQUIRED) -> List:  # noqa: ANN001
    return List(Str(), default, nonempty=False)


THERMAL_SPEC = Spec({
    "r_k_per_w": Float(exclusive_minimum=0.0, maximum=1000.0), "r_fanless_k_per_w": Float(OMIT, exclusive_minimum=0.0, maximum=1000.0),
    "c_j_per_k": Float(exclusive_minimum=0.0, maximum=1e6), "trip_c": Float(minimum=-50.0, maximum=200.0),
    "hysteresis_c": Float(2.0, minimum=0.0, maximum=100.0), "source": Str(),
    "zones": _strings(OMIT),
})
POWER_SPEC = Spec({
    "ceff": Float(minimum=0.0, maximum=MAX_CEFF), "static_w": Float(minimum=0.0, maximum=MAX_POWER_W),
    "idle_activity": Fraction(), "source": Str(),
})
SYSFS_SPEC = Spec({
    "cpufreq_policies": _strings(OMIT), "cpus": List(Int(minimum=0, maximum=65535), OMIT, nonempty=False),
    "devfreq": _strings(OMIT),
})
#: sysfs keys each unit kind may have
SYSFS_KEYS = {"cpu": ("cpufreq_policies", "cpus"), "gpu": ("devfreq",)}
UNIT_SPEC = Spec({
    "kind": Str(choices=UNIT_KINDS), "cores": Int(1, minimum=1, maximum=MAX_CORES), "core_type": Str(),
    "freqs_khz": List(Int(exclusive_minimum=0, maximum=MAX_FREQ_KHZ), increasing=True),
    "volts_mv": List(Float(exclusive_minimum=0.0, maximum=MAX_VOLT_MV)),
    "freq_source": Str(), "volt_source": Str(),
    "dvfs_latency_us": Float(minimum=0.0, maximum=MAX_DVFS_LATENCY_US),
    "power": Table(POWER_SPEC), "sysfs": Table(SYSFS_SPEC, {}), "governor": Str(""),
    "dvfs_energy_uj": Float(0.0, minimum=0.0, maximum=1e6), "dvfs_energy_source": Str(""),
    "thermal": Table(THERMAL_SPEC, OMIT), "contention": Table(contention_spec(MAX_CORES), OMIT),
})
MODE_SPEC = Spec({
    "id": Int(minimum=0, maximum=65535), "name": Str(), "budget_w": Float(0.0, minimum=0.0, maximum=MAX_POWER_W),
    "online_cores": MapOf(Int(minimum=1, maximum=MAX_CORES), {}),
    "max_freq_khz": MapOf(Int(exclusive_minimum=0, maximum=MAX_FREQ_KHZ), {}),
})
SENSOR_SPEC = Spec({
    "name": Str(), "kind": Str(choices=SENSOR_KINDS), "path": Str(), "channel": Int(0, minimum=0, maximum=64),
    "measures": _strings(),
})
#: a board profile, ``rlrm-platform/1``
PLATFORM_SPEC = Spec({
    "schema": Str(choices=(SCHEMA,)), "name": Str(), "description": Str(), "sources": _strings(),
    "board": Table(Spec({
        "base_power_w": Float(minimum=0.0, maximum=MAX_POWER_W), "base_power_source": Str(),
        "default_power_mode": Str(), "ambient_c": Float(25.0, minimum=-50.0, maximum=150.0),
        "subnet_switch_ms": Float(0.0, minimum=0.0, maximum=1e5), "gpu_host_ms": Float(0.0, minimum=0.0, maximum=1e5),
        "costs_source": Str(""),
    })),
    "units": MapOf(Table(UNIT_SPEC), nonempty=True),
    "power_modes": List(Table(MODE_SPEC)),
    "sensors": List(Table(SENSOR_SPEC), [], nonempty=False),
})


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
    """Validate a parsed profile (a dict) against :data:`PLATFORM_SPEC` and build a :class:`Platform`."""
    d = PLATFORM_SPEC.check(data, source)
    src = str(source)
    units = {name: _unit(name, u, src) for name, u in d["units"].items()}
    modes: dict = {}
    for i, m in enumerate(d["power_modes"]):
        mode = _mode(m, units, src, f"power_modes[{i}]")
        if mode.name in modes:
            raise InputError(src, f"power_modes[{i}].name", f"duplicate power mode {mode.name!r}")
        modes[mode.name] = mode
    board = d["board"]
    if board["default_power_mode"] not in modes:
        raise InputError(src, "board.default_power_mode",
                         f"{board['default_power_mode']!r} is not one of the power_modes")
    sensors = tuple(_sensor(s, units, src, f"sensors[{i}]") for i, s in enumerate(d["sensors"]))
    return Platform(
        name=d["name"], description=d["description"], sources=tuple(d["sources"]),
        base_power_w=board["base_power_w"], base_power_source=board["base_power_source"], units=units,
        power_modes=modes, default_power_mode=board["default_power_mode"], sensors=sensors, path=Path(source),
        ambient_c=board["ambient_c"], subnet_switch_ms=board["subnet_switch_ms"], gpu_host_ms=board["gpu_host_ms"],
        costs_source=board["costs_source"],
    )


def _unit(name: str, u: dict, source: str) -> ComputeUnit:
    """A :class:`ComputeUnit` from its checked table, with the checks that span fields."""
    where = f"units.{name}"
    if u["kind"] == "gpu" and u["cores"] != 1:
        raise InputError(source, f"{where}.cores", "a GPU unit has cores = 1")
    if len(u["volts_mv"]) != len(u["freqs_khz"]):
        raise InputError(source, f"{where}.volts_mv",
                         f"has {len(u['volts_mv'])} values for {len(u['freqs_khz'])} frequencies")
    for key in u["sysfs"]:
        if key not in SYSFS_KEYS[u["kind"]]:
            raise InputError(source, f"{where}.sysfs.{key}", f"not a sysfs key of a {u['kind']} unit")
    p = u["power"]
    thermal = None
    if "thermal" in u:
        t = u["thermal"]
        thermal = ThermalModel(r_k_per_w=t["r_k_per_w"], r_fanless_k_per_w=t.get("r_fanless_k_per_w", t["r_k_per_w"]),
                               c_j_per_k=t["c_j_per_k"], trip_c=t["trip_c"], hysteresis_c=t["hysteresis_c"],
                               source=t["source"], zones=tuple(t.get("zones", ())))
    contention = None
    if "contention" in u:
        if u["kind"] != "cpu":
            raise InputError(source, f"{where}.contention", "only a CPU unit has a contention table")
        contention = parse_contention(u["contention"], u["cores"], source, f"{where}.contention")
    return ComputeUnit(
        name=name, kind=u["kind"], cores=u["cores"], core_type=u["core_type"], freqs_khz=tuple(u["freqs_khz"]),
        volts_mv=tuple(u["volts_mv"]), freq_source=u["freq_source"], volt_source=u["volt_source"],
        dvfs_latency_us=u["dvfs_latency_us"],
        power=PowerModel(ceff=p["ceff"], static_w=p["static_w"], idle_activity=p["idle_activity"], source=p["source"]),
        sysfs=dict(u["sysfs"]), governor=u["governor"], dvfs_energy_uj=u["dvfs_energy_uj"],
        dvfs_energy_source=u["dvfs_energy_source"], thermal=thermal, contention=contention,
    )


def _mode(m: dict, units: dict, source: str, where: str) -> PowerMode:
    """A :class:`PowerMode`; the units it names must be the board's."""
    for name, n in m["online_cores"].items():
        if name not in units or units[name].kind != "cpu":
            raise InputError(source, f"{where}.online_cores.{name}", "not a CPU unit of this board")
        if n > units[name].cores:
            raise InputError(source, f"{where}.online_cores.{name}", f"must be <= {units[name].cores}, got {n}")
    for name, cap in m["max_freq_khz"].items():
        if name not in units:
            raise InputError(source, f"{where}.max_freq_khz.{name}", "not a unit of this board")
        if cap < units[name].f_min_khz:
            raise InputError(source, f"{where}.max_freq_khz.{name}", f"cap {cap} kHz is below the unit's lowest frequency")
    return PowerMode(id=m["id"], name=m["name"], budget_w=m["budget_w"], online_cores=dict(m["online_cores"]),
                     max_freq_khz=dict(m["max_freq_khz"]))


def _sensor(s: dict, units: dict, source: str, where: str) -> Sensor:
    for i, m in enumerate(s["measures"]):
        if m != "board" and m not in units:
            raise InputError(source, f"{where}.measures[{i}]", f"{m!r} is neither 'board' nor a unit")
    return Sensor(name=s["name"], kind=s["kind"], path=s["path"], channel=s["channel"], measures=tuple(s["measures"]))


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
        if u.dvfs_energy_uj or u.dvfs_energy_source:
            d["dvfs_energy_uj"] = u.dvfs_energy_uj
            d["dvfs_energy_source"] = u.dvfs_energy_source
        if u.thermal is not None:
            t = u.thermal
            d["thermal"] = {"r_k_per_w": t.r_k_per_w, "r_fanless_k_per_w": t.r_fanless_k_per_w,
                            "c_j_per_k": t.c_j_per_k, "trip_c": t.trip_c, "hysteresis_c": t.hysteresis_c,
                            "source": t.source}
            if t.zones:
                d["thermal"]["zones"] = list(t.zones)
        if u.contention is not None:
            d["contention"] = u.contention.to_dict()
        units[u.name] = d
    out = {
        "schema": SCHEMA, "name": p.name, "description": p.description, "sources": list(p.sources),
        "board": {"base_power_w": p.base_power_w, "base_power_source": p.base_power_source,
                  "default_power_mode": p.default_power_mode, "ambient_c": p.ambient_c,
                  "subnet_switch_ms": p.subnet_switch_ms, "gpu_host_ms": p.gpu_host_ms,
                  "costs_source": p.costs_source},
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
    """Write a profile as TOML, atomically (what ``rlrm profile`` uses for a measured board)."""
    import tomli_w  # only to write: not needed on the board

    return atomic_write_bytes(path, tomli_w.dumps(platform_to_dict(p)).encode("utf-8"))


