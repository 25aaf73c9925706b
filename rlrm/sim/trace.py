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

from rlrm.errors import InputError
from rlrm.paths import TRACES_DIR, find_data
from rlrm.platform.profile import Platform
from rlrm.validate import Fields, read_json

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


def parse_trace(data: dict, source: Union[str, Path], platform: Optional[Platform] = None) -> Trace:
    """Validate a parsed trace (a dict) and build a :class:`Trace`."""
    top = Fields(data, source)
    fmt = top.str("format")
    if fmt != FORMAT:
        raise top.error("format", f"expected {FORMAT!r}, got {fmt!r}")
    plat_name = top.str("platform")
    library = top.str("library")
    prov = top.table("provenance")
    provenance = {
        "kind": prov.str("kind", choices=PROVENANCE_KINDS),
        "method": prov.str("method"),
        "sources": prov.raw("sources"),
        "created": prov.str("created", ""),
    }
    if not isinstance(provenance["sources"], list) or not all(isinstance(s, str) for s in provenance["sources"]):
        raise prov.error("sources", "expected a list of strings")
    prov.finish()
    if platform is not None and plat_name != platform.name:
        raise top.error("platform", f"trace is for {plat_name!r}, not {platform.name!r}")

    subnets = []
    for i, t in enumerate(top.tables("subnets")):
        level = t.number("level", integer=True, minimum=0)
        if level != i:
            raise t.error("level", f"levels must be 0, 1, 2, ... in order; got {level} at position {i}")
        subnets.append(SubnetInfo(
            level=level, top1=float(t.number("top1", minimum=0.0, maximum=100.0)),
            mflops=float(t.number("mflops", minimum=0.0)), mparams=float(t.number("mparams", minimum=0.0)),
            resolution=int(t.number("resolution", integer=True, exclusive_minimum=0)),
        ))
        t.finish()
    if not subnets:
        raise top.error("subnets", "must not be empty")

    entries: dict = {}
    for t in top.tables("entries"):
        e = _parse_entry(t, len(subnets), platform)
        key = (e.subnet, e.unit, e.cores)
        if key in entries:
            raise t.error("subnet", f"duplicate entry for subnet {e.subnet} on {e.unit} with {e.cores} cores")
        entries[key] = e
    if not entries:
        raise top.error("entries", "must not be empty")
    top.finish()
    return Trace(platform=plat_name, library=library, provenance=provenance, subnets=tuple(subnets),
                 entries=entries, path=Path(source))


def _parse_entry(t: Fields, n_subnets: int, platform: Optional[Platform]) -> TraceEntry:
    subnet = t.number("subnet", integer=True, minimum=0, maximum=n_subnets - 1)
    unit = t.str("unit")
    cores = t.number("cores", integer=True, minimum=0)
    lat = t.number("latency_ms", exclusive_minimum=0.0)
    p90 = t.number("latency_p90_ms", exclusive_minimum=0.0)
    if p90 < lat:
        raise t.error("latency_p90_ms", f"{p90} is below latency_ms {lat}")
    cf = t.number("compute_fraction", minimum=0.0, maximum=1.0)
    act = t.number("activity", exclusive_minimum=0.0, maximum=1.0)
    if platform is not None:
        if unit not in platform.units:
            raise t.error("unit", f"{unit!r} is not a unit of {platform.name} ({', '.join(platform.units)})")
        u = platform.units[unit]
        if u.kind == "gpu" and cores != 0:
            raise t.error("cores", "GPU entries have cores = 0")
        if u.kind == "cpu" and not 1 <= cores <= u.cores:
            raise t.error("cores", f"must be 1..{u.cores} for {unit}, got {cores}")
    points = []
    last = 0
    for p in t.tables("points", []):
        f = p.number("freq_khz", integer=True, exclusive_minimum=0)
        if f <= last:
            raise p.error("freq_khz", "points must be strictly increasing in freq_khz")
        last = f
        if platform is not None and unit in platform.units and f not in platform.units[unit].freqs_khz:
            raise p.error("freq_khz", f"{f} kHz is not an operating point of {unit}")
        pl = p.number("latency_ms", exclusive_minimum=0.0)
        pp = p.number("latency_p90_ms", pl, exclusive_minimum=0.0)
        if pp < pl:
            raise p.error("latency_p90_ms", f"{pp} is below latency_ms {pl}")
        pw = p.raw("power_w", None)
        if pw is not None:
            pw = p.number("power_w", minimum=0.0)
        points.append((int(f), float(pl), float(pp), pw))
        p.finish()
    t.finish()
    return TraceEntry(subnet=int(subnet), unit=unit, cores=int(cores), latency_ms=float(lat),
                      latency_p90_ms=float(p90), compute_fraction=float(cf), activity=float(act),
                      points=tuple(points))


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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(trace_to_dict(trace), indent=1) + "\n")
    tmp.replace(path)
    return path
