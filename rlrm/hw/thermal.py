"""Temperatures from ``/sys/class/thermal/thermal_zone*/temp`` (millidegrees Celsius).

A zone is named by its ``type`` (``CPU-therm``, ``GPU-therm`` on the Xavier NX;
``cpu0-thermal`` .. ``gpu-thermal`` on a mainline Odroid XU3 kernel). A zone that vanishes
or gives garbage is reported missing rather than raising.
"""

from __future__ import annotations

import re
from typing import Sequence, Union

from rlrm.errors import InputError
from rlrm.hw.sysfs import PathLike, Reading, Sysfs, describe_oserror

THERMAL_CLASS = "sys/class/thermal"
#: Plausible range of a zone's temperature, millidegrees Celsius.
MILLI_C_MIN, MILLI_C_MAX = -60_000, 200_000


class ThermalZone:
    """One thermal zone.

    :param fs: the sysfs root
    :param name: the zone's ``type`` (``@thermal_zoneN`` appended when two zones share it)
    :param rel: the ``thermal_zoneN`` directory relative to the root
    """

    def __init__(self, fs: Sysfs, name: str, rel: str) -> None:
        self.fs = fs
        self.name = name
        self.rel = rel

    def __repr__(self) -> str:
        return f"ThermalZone({self.name!r}, {str(self.fs.path(self.rel))!r})"

    def read(self) -> Reading:
        """Temperature in degrees Celsius, or a missing reading naming the file."""
        rel = f"{self.rel}/temp"
        try:
            milli = self.fs.read_int(rel, f"{self.name} temperature (millidegree C)",
                                     minimum=MILLI_C_MIN, maximum=MILLI_C_MAX)
        except InputError as err:
            return Reading(self.name, None, "C", str(err))
        except OSError as err:
            return Reading(self.name, None, "C", f"{self.fs.path(rel)}: {describe_oserror(err)}")
        return Reading(self.name, milli / 1000.0, "C")


def discover_thermal_zones(root: Union[Sysfs, PathLike, None] = None) -> list[ThermalZone]:
    """Every ``thermal_zoneN`` with a ``temp`` file, ordered by N."""
    fs = root if isinstance(root, Sysfs) else Sysfs(root)
    rels = [r for r in fs.glob(f"{THERMAL_CLASS}/thermal_zone*")
            if re.fullmatch(r"thermal_zone[0-9]+", r.rsplit("/", 1)[-1]) and fs.exists(f"{r}/temp")]
    rels.sort(key=lambda r: int(r.rsplit("zone", 1)[-1]))
    types = [fs.read_line(f"{r}/type", "zone type") if fs.exists(f"{r}/type") else r.rsplit("/", 1)[-1]
             for r in rels]
    zones = []
    for rel, typ in zip(rels, types):
        name = typ if types.count(typ) == 1 else f"{typ}@{rel.rsplit('/', 1)[-1]}"
        zones.append(ThermalZone(fs, name, rel))
    return zones


def read_temperatures(zones: Sequence[ThermalZone]) -> dict[str, Reading]:
    """One reading per zone, keyed by zone name."""
    return {z.name: z.read() for z in zones}


class UnitTemperatures:
    """Each unit's temperature from the thermal zones its profile names (``[units.<u>.thermal]
    zones``): the hottest of them, as the kernel throttles on whichever crosses its trip.

    A zone named in the profile but absent from the tree leaves the unit unmeasured
    (:attr:`missing` says which); a zone that reads garbage or vanishes mid-run makes the
    unit's reading missing for that read, with the one-line problem naming the file and field.

    :param units: ``{unit: [ThermalZone, ...]}`` of the units measured
    :param missing: ``{unit: why it is not measured}`` of the units whose zones were not found
    """

    def __init__(self, units: dict[str, list[ThermalZone]], missing: dict[str, str]) -> None:
        self.units = units
        self.missing = missing

    @classmethod
    def from_platform(cls, platform: object, root: Union[Sysfs, PathLike, None] = None) -> "UnitTemperatures":
        """The zones of every unit with a ``thermal`` table naming ``zones``, found by ``type``."""
        fs = root if isinstance(root, Sysfs) else Sysfs(root)
        wanted = {name: tuple(getattr(u.thermal, "zones", ()) or ())
                  for name, u in getattr(platform, "units", {}).items() if getattr(u, "thermal", None) is not None}
        wanted = {k: v for k, v in wanted.items() if v}
        if not wanted:
            return cls({}, {})
        try:
            found = {z.name: z for z in discover_thermal_zones(fs)}
        except (OSError, InputError) as err:
            return cls({}, {k: f"thermal zones: {err}" for k in wanted})
        units: dict[str, list[ThermalZone]] = {}
        missing: dict[str, str] = {}
        for unit, names in wanted.items():
            absent = [n for n in names if n not in found]
            if absent:
                missing[unit] = (f"{fs.path(THERMAL_CLASS)}: no thermal zone of type {absent[0]!r} "
                                 f"(has {', '.join(sorted(found)) or 'none'})")
            else:
                units[unit] = [found[n] for n in names]
        return cls(units, missing)

    def read(self) -> dict[str, Reading]:
        """``{unit: Reading}`` (deg C) of the measured units; a reading with ``value`` None and a
        ``problem`` when one of its zones did not read."""
        out: dict[str, Reading] = {}
        for unit, zones in self.units.items():
            readings = [z.read() for z in zones]
            bad = [r for r in readings if r.value is None]
            if bad:
                out[unit] = Reading(unit, None, "C", bad[0].problem)
            else:
                out[unit] = Reading(unit, max(float(r.value) for r in readings), "C")  # type: ignore[arg-type]
        return out
