"""Power sensors: each reader returns a :class:`~rlrm.hw.sysfs.Reading` in watts, or a
missing reading (``value`` None, ``missing`` True, ``problem`` naming the file) when the
sensor is gone or gave garbage, so the caller can fall back to a power-model estimate.

Readers (``kind`` as in the board profiles' ``[[sensors]]``):

- :class:`Ina3221Iio` (``ina3221-iio``, Jetson L4T r32):
  ``/sys/bus/i2c/drivers/ina3221x/<bus>-0040/iio:device0/in_power<N>_input`` in mW, rail
  name in ``rail_name_<N>``.
- :class:`Ina3221Hwmon` (``ina3221-hwmon``, L4T r34+/mainline):
  ``/sys/bus/i2c/drivers/ina3221/<bus>-0040/hwmon/hwmon*/in<N>_input`` (mV) times
  ``curr<N>_input`` (mA), rail name in ``in<N>_label``.
- :class:`Ina231` (``ina231``, Odroid XU3, Hardkernel driver):
  ``/sys/bus/i2c/drivers/INA231/<bus>-00{40,41,44,45}/sensor_W`` in W once ``enable`` is 1.
- :class:`Rapl` (``rapl``): ``/sys/class/powercap/intel-rapl:*/energy_uj`` differenced over
  time, wrapping at ``max_energy_range_uj``.
- :class:`GenericHwmon` (``hwmon``): ``/sys/class/hwmon/hwmon*/power<N>_input`` in µW.
"""

from __future__ import annotations

import re
import time
from typing import Callable, Optional, Sequence, Union

from rlrm.errors import InputError
from rlrm.hw.sysfs import PathLike, Reading, Sysfs, Writer, describe_oserror

#: Above this a reading is taken as garbage (no board rlrm targets draws a kilowatt).
MAX_W = 1000.0
#: INA231 addresses on the Odroid XU3 and the rail each measures (shared/reference/platforms.md).
INA231_RAILS = {"0040": "A15", "0041": "MEM", "0044": "GPU", "0045": "A7"}


class _NoValue(Exception):
    """Raised by a reader's ``_watts`` when there is legitimately no value yet (not garbage)."""


class PowerReader:
    """Base class of the power sensor readers.

    :param fs: the sysfs root
    :param name: rail name (``VDD_IN``, ``A15``, ``package-0``)
    :param rel: the sensor's directory relative to the root
    """

    kind = ""

    def __init__(self, fs: Sysfs, name: str, rel: str) -> None:
        self.fs = fs
        self.name = name
        self.rel = rel

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {str(self.fs.path(self.rel))!r})"

    def read(self) -> Reading:
        """Current power in watts; a missing reading instead of raising on any failure."""
        try:
            watts = self._watts()
        except (OSError, InputError, _NoValue) as err:
            return Reading(self.name, None, "W", _problem(err))
        if not 0.0 <= watts <= MAX_W:
            return Reading(self.name, None, "W", f"{self.fs.path(self.rel)}: {watts:g} W is implausible")
        return Reading(self.name, watts, "W")

    def _watts(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def file(self, attr: str) -> str:
        return f"{self.rel}/{attr}"


class _Ina3221(PowerReader):
    """One channel of an INA3221 (three per chip).

    :param fs: the sysfs root
    :param name: rail name
    :param rel: the chip's directory
    :param channel: the channel number in the file names
    """

    def __init__(self, fs: Sysfs, name: str, rel: str, channel: int) -> None:
        super().__init__(fs, name, rel)
        self.channel = channel

    def _volts_times_amps(self, mv_attr: str, ma_attr: str) -> float:
        mv = self.fs.read_int(self.file(mv_attr), f"{self.name} voltage (mV)", minimum=0, maximum=100_000)
        ma = self.fs.read_int(self.file(ma_attr), f"{self.name} current (mA)", minimum=0, maximum=100_000)
        return mv * ma / 1e6


class Ina3221Iio(_Ina3221):
    """One INA3221 channel in the iio layout (L4T r32): ``in_power<N>_input`` in mW (else
    ``in_voltage<N>_input`` mV x ``in_current<N>_input`` mA); rail name in ``rail_name_<N>``.

    :param fs: the sysfs root
    :param name: rail name
    :param rel: the ``iio:deviceM`` directory
    :param channel: N (0..2)
    """

    kind = "ina3221-iio"

    def _watts(self) -> float:
        power = self.file(f"in_power{self.channel}_input")
        if self.fs.exists(power):
            return self.fs.read_int(power, f"{self.name} power (mW)", minimum=0, maximum=int(MAX_W * 1e3)) / 1e3
        return self._volts_times_amps(f"in_voltage{self.channel}_input", f"in_current{self.channel}_input")


class Ina3221Hwmon(_Ina3221):
    """One INA3221 channel in the hwmon layout: ``in<N>_input`` (mV) x ``curr<N>_input`` (mA);
    rail name in ``in<N>_label``.

    :param fs: the sysfs root
    :param name: rail name
    :param rel: the ``hwmon/hwmonM`` directory
    :param channel: N (1..3)
    """

    kind = "ina3221-hwmon"

    def _watts(self) -> float:
        return self._volts_times_amps(f"in{self.channel}_input", f"curr{self.channel}_input")


class Ina231(PowerReader):
    """One INA231 of the Odroid XU3: ``sensor_W`` in W, valid only once ``enable`` is 1.

    Enabling is a write, so it goes through the safety guard: :meth:`enable` with the guard as
    writer (:class:`~rlrm.hw.actuator.HardwareActuator` does it and restores ``enable`` on exit).

    :param fs: the sysfs root
    :param name: rail name (``A15``, ``MEM``, ``GPU``, ``A7``)
    :param rel: the ``<bus>-00xx`` directory
    """

    kind = "ina231"

    def enabled(self) -> bool:
        return self.fs.read_int(self.file("enable"), f"{self.name} enable", minimum=0, maximum=1) == 1

    def enable(self, writer: Writer) -> bool:
        """Write ``enable`` = 1 if it is 0; True when it wrote."""
        if self.enabled():
            return False
        writer.write(self.file("enable"), 1)
        return True

    def _watts(self) -> float:
        if not self.enabled():
            raise _NoValue(f"{self.fs.path(self.file('enable'))}: sensor disabled (enable is 0)")
        return self.fs.read_float(self.file("sensor_W"), f"{self.name} power (W)", minimum=0.0, maximum=MAX_W)


class Rapl(PowerReader):
    """A RAPL zone: average power between two reads of ``energy_uj``.

    The counter wraps to 0 after ``max_energy_range_uj``; a smaller reading than the last one
    is a wrap. The first reading after construction (or after the counter could not be read)
    only primes and is reported missing.

    :param fs: the sysfs root
    :param name: zone name (``package-0``, ``package-0/core``)
    :param rel: the zone directory (``sys/class/powercap/intel-rapl:0``)
    :param clock: seconds, monotonic (tests pass a fake)
    """

    kind = "rapl"

    def __init__(self, fs: Sysfs, name: str, rel: str, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(fs, name, rel)
        self.clock = clock
        self._last: Optional[tuple[int, float]] = None
        self._range: Optional[int] = None
        self.read()  # prime

    def _max_range(self) -> int:
        if self._range is None:
            self._range = self.fs.read_int(self.file("max_energy_range_uj"), f"{self.name} energy range (uJ)",
                                           minimum=1)
        return self._range

    def _watts(self) -> float:
        top = self._max_range()
        try:
            uj = self.fs.read_int(self.file("energy_uj"), f"{self.name} energy (uJ)", minimum=0, maximum=top)
        except (OSError, InputError):
            self._last = None
            raise
        now = self.clock()
        last, self._last = self._last, (uj, now)
        if last is None:
            raise _NoValue(f"{self.fs.path(self.file('energy_uj'))}: first sample (power needs two)")
        delta_uj = uj - last[0]
        if delta_uj < 0:
            delta_uj += top
        dt = now - last[1]
        if dt <= 0:
            raise _NoValue(f"{self.fs.path(self.file('energy_uj'))}: no time elapsed since the last sample")
        return delta_uj / dt / 1e6


class GenericHwmon(PowerReader):
    """A hwmon power channel: ``power<N>_input`` (or ``power<N>_average``) in µW.

    :param fs: the sysfs root
    :param name: ``<hwmon name>/<label or powerN>``
    :param rel: the ``hwmonM`` directory
    :param attr: ``power<N>_input`` or ``power<N>_average``
    """

    kind = "hwmon"

    def __init__(self, fs: Sysfs, name: str, rel: str, attr: str) -> None:
        super().__init__(fs, name, rel)
        self.attr = attr

    def _watts(self) -> float:
        return self.fs.read_int(self.file(self.attr), f"{self.name} power (uW)", minimum=0,
                                maximum=int(MAX_W * 1e6)) / 1e6


# -- discovery ---------------------------------------------------------------------------
def auto_discover(root: Union[Sysfs, PathLike, None] = None) -> list[PowerReader]:
    """Every power sensor that exists under the root, in the order listed in this module."""
    fs = root if isinstance(root, Sysfs) else Sysfs(root)
    readers: list[PowerReader] = []
    readers += discover_ina3221_iio(fs)
    readers += discover_ina3221_hwmon(fs)
    readers += discover_ina231(fs)
    readers += discover_rapl(fs)
    readers += discover_generic_hwmon(fs)
    return readers


def read_all(readers: Sequence[PowerReader]) -> dict[str, Reading]:
    """One reading per reader, keyed by rail name."""
    return {r.name: r.read() for r in readers}


def discover_ina3221_iio(fs: Sysfs) -> list[PowerReader]:
    out: list[PowerReader] = []
    for dev in fs.glob("sys/bus/i2c/drivers/ina3221x/*/iio:device*"):
        for rail_file in fs.glob(f"{dev}/rail_name_*"):
            ch = rail_file.rsplit("_", 1)[-1]
            if not ch.isdigit():
                continue
            name = fs.read_line(rail_file, "rail name")
            out.append(Ina3221Iio(fs, name, dev, int(ch)))
    return out


def discover_ina3221_hwmon(fs: Sysfs) -> list[PowerReader]:
    out: list[PowerReader] = []
    for dev in fs.glob("sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon*"):
        for label_file in fs.glob(f"{dev}/in*_label"):
            m = re.fullmatch(r"in([0-9]+)_label", label_file.rsplit("/", 1)[-1])
            if not m or not 1 <= int(m.group(1)) <= 3:
                continue  # in7 is the sum of shunt voltages
            name = fs.read_line(label_file, "rail label")
            if "NC" in name.split("_") or name == "NC":
                continue  # not connected (Orin modules)
            out.append(Ina3221Hwmon(fs, name, dev, int(m.group(1))))
    return out


def discover_ina231(fs: Sysfs) -> list[PowerReader]:
    out: list[PowerReader] = []
    for dev in fs.glob("sys/bus/i2c/drivers/INA231/*-00*"):
        addr = dev.rsplit("-", 1)[-1]
        out.append(Ina231(fs, INA231_RAILS.get(addr, dev.rsplit("/", 1)[-1]), dev))
    return out


def discover_rapl(fs: Sysfs) -> list[PowerReader]:
    out: list[PowerReader] = []
    zones = [z for z in fs.glob("sys/class/powercap/intel-rapl:*")
             if re.fullmatch(r"intel-rapl(:[0-9]+)+", z.rsplit("/", 1)[-1])]
    names: dict[str, str] = {}
    for zone in sorted(zones, key=lambda z: [int(x) for x in z.rsplit("/", 1)[-1].split(":")[1:]]):
        if not fs.exists(f"{zone}/energy_uj"):
            continue
        zid = zone.rsplit("/", 1)[-1]
        own = fs.read_line(f"{zone}/name", "zone name") if fs.exists(f"{zone}/name") else zid
        parent = zid.rsplit(":", 1)[0]
        name = f"{names[parent]}/{own}" if parent in names else own
        names[zid] = name
        out.append(Rapl(fs, name, zone))
    return out


def discover_generic_hwmon(fs: Sysfs) -> list[PowerReader]:
    out: list[PowerReader] = []
    for dev in fs.glob("sys/class/hwmon/hwmon*"):
        chip = fs.read_line(f"{dev}/name", "hwmon name") if fs.exists(f"{dev}/name") else dev.rsplit("/", 1)[-1]
        if chip.startswith("ina3221"):
            continue  # read per rail by Ina3221Hwmon
        channels: dict[str, str] = {}
        for f in fs.glob(f"{dev}/power*_input") + fs.glob(f"{dev}/power*_average"):
            m = re.fullmatch(r"power([0-9]+)_(input|average)", f.rsplit("/", 1)[-1])
            if m and m.group(1) not in channels:
                channels[m.group(1)] = f.rsplit("/", 1)[-1]
        for n, attr in sorted(channels.items(), key=lambda kv: int(kv[0])):
            label_rel = f"{dev}/power{n}_label"
            label = fs.read_line(label_rel, "label") if fs.exists(label_rel) else f"power{n}"
            out.append(GenericHwmon(fs, f"{chip}/{label}", dev, attr))
    return out


def make_reader(fs: Sysfs, kind: str, path: str, channel: int = 0, name: Optional[str] = None) -> PowerReader:
    """A reader for a board profile's ``[[sensors]]`` entry (``path`` may list ``|`` candidates).

    Raises :class:`InputError` when no candidate directory exists under the root.
    """
    candidates = [p.strip() for p in path.split("|") if p.strip()]
    for cand in candidates:
        matches = fs.glob(cand) if any(c in cand for c in "*?[") else ([cand.lstrip("/")] if fs.is_dir(cand) else [])
        if not matches:
            continue
        rel = matches[0]
        label = name or rel.rsplit("/", 1)[-1]
        if kind == "ina3221-iio":
            return Ina3221Iio(fs, label, rel, channel)
        if kind == "ina3221-hwmon":
            return Ina3221Hwmon(fs, label, rel, channel)
        if kind == "ina231":
            return Ina231(fs, label, rel)
        if kind == "rapl":
            return Rapl(fs, label, rel)
        if kind == "hwmon":
            return GenericHwmon(fs, label, rel, f"power{channel}_input")
        raise ValueError(f"unknown sensor kind {kind!r}")
    raise InputError(fs.path(candidates[0] if candidates else path), f"{name or kind} sensor",
                     "no such sensor directory under the sysfs root")


def _problem(err: Exception) -> str:
    if isinstance(err, OSError):
        return f"{err.filename}: {describe_oserror(err)}" if err.filename else describe_oserror(err)
    return str(err)
