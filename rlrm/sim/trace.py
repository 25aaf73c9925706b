"""Workload traces (format ``rlrm-trace/1``, see ``envs/traces/FORMAT.md``).

A trace gives, per subnetwork of a library and per compute option of a board (CPU unit with
a core count, or GPU), the latency at the unit's maximum frequency and how it scales with
frequency, the unit's activity while it runs, and each subnetwork's accuracy.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np

from rlrm.atomic import atomic_write_bytes
from rlrm.errors import InputError
from rlrm.paths import TRACES_DIR, find_data
from rlrm.platform.profile import Platform
from rlrm.validate import OMIT, Float, Int, List, Nullable, Spec, Str, Table, read_json

FORMAT = "rlrm-trace/1"
PROVENANCE_KINDS = ("measured", "derived", "estimated")
#: z-score of the 90th percentile of a normal distribution
Z90 = 1.2815515655446004


@dataclass(frozen=True)
class SubnetInfo:
    """One subnetwork of a library.

    :param level: its level (index) in the library, 0 = smallest
    :param top1: top-1 accuracy in percent
    :param mflops: multiply-accumulates, millions
    :param mparams: parameters, millions
    :param resolution: input resolution, pixels
    """

    level: int
    top1: float
    mflops: float
    mparams: float
    resolution: int


@dataclass(frozen=True)
class TraceEntry:
    """Latency and activity of one subnetwork on one compute option.

    :param subnet: subnetwork level
    :param unit: compute-unit name
    :param cores: CPU cores used (0 for a GPU)
    :param latency_ms: median latency at the unit's maximum frequency, no other load
    :param latency_p90_ms: 90th-percentile latency, same conditions
    :param compute_fraction: share of the latency that scales with ``f_max / f``
    :param activity: unit activity factor while running
    :param points: optional measured ``(freq_khz, latency_ms, latency_p90_ms, power_w)`` points
    """

    subnet: int
    unit: str
    cores: int
    latency_ms: float
    latency_p90_ms: float
    compute_fraction: float
    activity: float
    points: tuple = ()

    @property
    def sigma(self) -> float:
        """Log-normal sigma of the latency noise implied by the median and p90."""
        return math.log(self.latency_p90_ms / self.latency_ms) / Z90

    def latency_at(self, freq_khz: float, f_max_khz: float) -> float:
        """Median latency in ms at ``freq_khz`` (no contention)."""
        if self.points:
            inv = np.array([1.0 / p[0] for p in self.points])
            lat = np.array([p[1] for p in self.points])
            order = np.argsort(inv)
            return float(np.interp(1.0 / freq_khz, inv[order], lat[order]))
        cf = self.compute_fraction
        return self.latency_ms * (cf * f_max_khz / freq_khz + (1.0 - cf))


@dataclass(frozen=True)
class Trace:
    """A workload trace for one board and one subnetwork library.

    :param platform: board-profile name it was made for
    :param library: subnetwork-library name
    :param provenance: ``kind`` (measured/derived/estimated), ``method``, ``sources``, ``created``
    :param subnets: the library's subnetworks, by level
    :param entries: latency entries keyed by ``(subnet, unit, cores)``
    :param path: the file it was loaded from
    """

    platform: str
    library: str
    provenance: dict
    subnets: tuple
    entries: dict
    path: Optional[Path] = None

    @property
    def n_subnets(self) -> int:
        return len(self.subnets)

    def options(self) -> list[tuple[str, int]]:
        """The compute options ``(unit, cores)`` every subnetwork has an entry for."""
        opts = sorted({(u, c) for (_, u, c) in self.entries})
        return [o for o in opts if all((s.level, o[0], o[1]) in self.entries for s in self.subnets)]

    def entry(self, subnet: int, unit: str, cores: int) -> TraceEntry:
        return self.entries[(subnet, unit, cores)]


def trace_path(platform: str, library: str) -> Path:
    """Where the trace of a board and library lives (shipped, else in ``$RLRM_HOME``)."""
    return find_data(TRACES_DIR, f"{platform}/{library}.json")


def trace_beside(platform: Platform, library: str) -> Optional[Path]:
    """Where a profile's own trace is stored: ``<envs>/traces/<name>/<library>.json`` next to
    the ``<envs>/platforms/<name>.toml`` it was loaded from (None for a profile not loaded
    from a file)."""
    if platform.path is None:
        return None
    return Path(platform.path).resolve().parent.parent / "traces" / platform.name / f"{library}.json"


def trace_for(platform: Platform, library: str) -> Path:
    """The trace to simulate a library on a board: the one stored beside the profile when it
    exists (a board's own measurements win, also when its name is a shipped one), else the
    shipped or ``$RLRM_HOME`` trace of that name (:func:`trace_path`)."""
    beside = trace_beside(platform, library)
    if beside is not None and beside.is_file():
        return beside
    return trace_path(platform.name, library)


def load_trace(path_or_platform: Union[str, Path], library: Optional[str] = None,
               platform: Optional[Platform] = None) -> Trace:
    """Load a trace from a path, or by board name and library name.

    When ``platform`` is given, units, core counts and frequencies are checked against it.
    """
    if library is not None and not str(path_or_platform).endswith(".json"):
        path = trace_path(str(path_or_platform), library)
    else:
        path = Path(path_or_platform)
    if not path.is_file():
        raise InputError(path, "<file>", "no such trace file")
    return parse_trace(read_json(path), path, platform)


#: plausible bounds: a typo (or 1e308) is refused rather than simulated
MAX_LATENCY_MS = 1e7
MAX_FREQ_KHZ = 10_000_000
MAX_CORES = 256

_LATENCY = Float(exclusive_minimum=0.0, maximum=MAX_LATENCY_MS)
POINT_SPEC = Spec({
    "freq_khz": Int(exclusive_minimum=0, maximum=MAX_FREQ_KHZ), "latency_ms": _LATENCY,
    "latency_p90_ms": Float(OMIT, exclusive_minimum=0.0, maximum=MAX_LATENCY_MS),
    "power_w": Nullable(Float(minimum=0.0, maximum=1000.0)),
})
ENTRY_SPEC = Spec({
    "subnet": Int(minimum=0, maximum=1000), "unit": Str(), "cores": Int(minimum=0, maximum=MAX_CORES),
    "latency_ms": _LATENCY, "latency_p90_ms": _LATENCY, "compute_fraction": Float(minimum=0.0, maximum=1.0),
    "activity": Float(exclusive_minimum=0.0, maximum=1.0), "points": List(Table(POINT_SPEC), [], nonempty=False),
})
SUBNET_SPEC = Spec({
    "level": Int(minimum=0, maximum=1000), "top1": Float(minimum=0.0, maximum=100.0),
    "mflops": Float(minimum=0.0, maximum=1e9), "mparams": Float(minimum=0.0, maximum=1e6),
    "resolution": Int(exclusive_minimum=0, maximum=100_000),
})
#: a workload trace, ``rlrm-trace/1``
TRACE_SPEC = Spec({
    "format": Str(choices=(FORMAT,)), "platform": Str(), "library": Str(),
    "provenance": Table(Spec({"kind": Str(choices=PROVENANCE_KINDS), "method": Str(),
                              "sources": List(Str(), nonempty=False), "created": Str("")})),
    "subnets": List(Table(SUBNET_SPEC)), "entries": List(Table(ENTRY_SPEC)),
})


def parse_trace(data: dict, source: Union[str, Path], platform: Optional[Platform] = None) -> Trace:
    """Validate a parsed trace (a dict) against :data:`TRACE_SPEC` and build a :class:`Trace`."""
    d = TRACE_SPEC.check(data, source)
    src = str(source)
    if platform is not None and d["platform"] != platform.name:
        raise InputError(src, "platform", f"trace is for {d['platform']!r}, not {platform.name!r}")
    subnets = []
    for i, s in enumerate(d["subnets"]):
        if s["level"] != i:
            raise InputError(src, f"subnets[{i}].level",
                             f"levels must be 0, 1, 2, ... in order; got {s['level']} at position {i}")
        subnets.append(SubnetInfo(**s))
    entries: dict = {}
    for i, e in enumerate(d["entries"]):
        entry = _entry(e, len(subnets), platform, src, f"entries[{i}]")
        key = (entry.subnet, entry.unit, entry.cores)
        if key in entries:
            raise InputError(src, f"entries[{i}].subnet",
                             f"duplicate entry for subnet {entry.subnet} on {entry.unit} with {entry.cores} cores")
        entries[key] = entry
    return Trace(platform=d["platform"], library=d["library"], provenance=d["provenance"], subnets=tuple(subnets),
                 entries=entries, path=Path(source))


def _entry(e: dict, n_subnets: int, platform: Optional[Platform], source: str, where: str) -> TraceEntry:
    """A :class:`TraceEntry` from its checked table, with the checks that span fields or need the board."""
    unit, cores = e["unit"], e["cores"]
    if e["subnet"] >= n_subnets:
        raise InputError(source, f"{where}.subnet", f"must be <= {n_subnets - 1}, got {e['subnet']}")
    if e["latency_p90_ms"] < e["latency_ms"]:
        raise InputError(source, f"{where}.latency_p90_ms", f"{e['latency_p90_ms']} is below latency_ms {e['latency_ms']}")
    if platform is not None:
        if unit not in platform.units:
            raise InputError(source, f"{where}.unit", f"{unit!r} is not a unit of {platform.name} ({', '.join(platform.units)})")
        u = platform.units[unit]
        if u.kind == "gpu" and cores != 0:
            raise InputError(source, f"{where}.cores", "GPU entries have cores = 0")
        if u.kind == "cpu" and not 1 <= cores <= u.cores:
            raise InputError(source, f"{where}.cores", f"must be 1..{u.cores} for {unit}, got {cores}")
    points = []
    last = 0
    for i, p in enumerate(e["points"]):
        at, f = f"{where}.points[{i}]", p["freq_khz"]
        if f <= last:
            raise InputError(source, f"{at}.freq_khz", "points must be strictly increasing in freq_khz")
        last = f
        if platform is not None and f not in platform.units[unit].freqs_khz:
            raise InputError(source, f"{at}.freq_khz", f"{f} kHz is not an operating point of {unit}")
        p90 = p.get("latency_p90_ms", p["latency_ms"])
        if p90 < p["latency_ms"]:
            raise InputError(source, f"{at}.latency_p90_ms", f"{p90} is below latency_ms {p['latency_ms']}")
        points.append((f, p["latency_ms"], p90, p["power_w"]))
    return TraceEntry(subnet=e["subnet"], unit=unit, cores=cores, latency_ms=e["latency_ms"],
                      latency_p90_ms=e["latency_p90_ms"], compute_fraction=e["compute_fraction"],
                      activity=e["activity"], points=tuple(points))


def trace_to_dict(trace: Trace) -> dict:
    """The JSON-ready dict of a trace (inverse of :func:`parse_trace`)."""
    entries = []
    for e in trace.entries.values():
        d = {"subnet": e.subnet, "unit": e.unit, "cores": e.cores, "latency_ms": e.latency_ms,
             "latency_p90_ms": e.latency_p90_ms, "compute_fraction": e.compute_fraction, "activity": e.activity}
        if e.points:
            d["points"] = [{"freq_khz": f, "latency_ms": l, "latency_p90_ms": p, "power_w": w}
                           for (f, l, p, w) in e.points]
        entries.append(d)
    return {
        "format": FORMAT, "platform": trace.platform, "library": trace.library,
        "provenance": dict(trace.provenance),
        "subnets": [{"level": s.level, "top1": s.top1, "mflops": s.mflops, "mparams": s.mparams,
                     "resolution": s.resolution} for s in trace.subnets],
        "entries": entries,
    }


def save_trace(trace: Trace, path: Union[str, Path]) -> Path:
    """Write a trace as JSON, atomically (what ``rlrm profile`` uses)."""
    return atomic_write_bytes(path, (json.dumps(trace_to_dict(trace), indent=1) + "\n").encode("utf-8"))
