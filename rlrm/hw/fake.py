"""Fake sysfs trees laid out like the real boards, for tests (rlrm's and its users').

``make_fake_xavier_nx(root)`` and ``make_fake_odroid_xu3(root)`` create plain files and
relative symlinks under ``root`` at the paths the real kernels use, with the formats they
print (e.g. cpufreq's ``scaling_available_frequencies`` ends in a space before the newline;
devfreq's lists do not; device-tree ``name`` files end in a NUL).

Sources: shared/reference/platforms.md (frequency tables, devfreq node, INA3221 and INA231
paths); the kernel's ``drivers/cpufreq/cpufreq.c`` (file formats, EBUSY for inactive
policies), ``drivers/cpufreq/tegra194-cpufreq.c`` (one policy per 2-CPU cluster, 300 us
transition latency), NVIDIA's nvgpu ``os/linux/sysfs.c`` (the ``/sys/devices/gpu.0`` symlink
to ``17000000.gv11b``), jetson-stats ``jtop/core/gpu.py`` (GPU found by
``device/of_node/name``), energymon ``energymon-odroid.c`` (INA231 ``enable``, ``sensor_W``,
``update_period``).

What plain files cannot do and the real kernel does: refuse a min above max (EINVAL), refuse
``scaling_setspeed`` without the userspace governor, show ``<unsupported>`` there after a
governor change, refuse writes to read-only attributes (EACCES), answer EBUSY for an inactive
policy, change ``scaling_cur_freq``. :func:`kernel_write` emulates the first four; tests
install it with ``monkeypatch.setattr(rlrm.hw.sysfs, "kernel_write", kernel_write)``.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Optional, Union

from rlrm.hw import sysfs as _sysfs
from rlrm.hw.sysfs import format_cpulist

PathLike = Union[str, "os.PathLike[str]"]

#: Jetson Xavier NX CPU operating points, kHz: 115200..1881600 step 76800, then 1907200.
XAVIER_NX_CPU_KHZ = tuple(range(115200, 1881600 + 1, 76800)) + (1907200,)
#: Jetson Xavier NX GPU operating points, Hz.
XAVIER_NX_GPU_HZ = (114750000, 204000000, 306000000, 408000000, 510000000, 599250000, 701250000,
                    752250000, 803250000, 854250000, 905250000, 956250000, 1007250000, 1058250000,
                    1109250000)
#: Odroid XU3 LITTLE (Cortex-A7, cpu0-3) and big (Cortex-A15, cpu4-7) operating points, kHz.
ODROID_XU3_A7_KHZ = tuple(range(200000, 1400000 + 1, 100000))
ODROID_XU3_A15_KHZ = tuple(range(200000, 2000000 + 1, 100000))
#: Odroid XU3 Mali-T628 operating points, Hz.
ODROID_XU3_GPU_HZ = tuple(mhz * 1_000_000 for mhz in (177, 266, 350, 420, 480, 543, 600))

XAVIER_NX_GOVERNORS = ("interactive", "conservative", "ondemand", "userspace", "powersave", "performance",
                       "schedutil")
MAINLINE_GOVERNORS = ("conservative", "ondemand", "userspace", "powersave", "performance", "schedutil")
BOOT_ID = "3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"


# -- tree writing helpers ----------------------------------------------------------------------
def _file(root: Path, rel: str, text: Union[str, bytes], mode: int = 0o644) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(text.encode("ascii") if isinstance(text, str) else text)
    os.chmod(p, mode)


def _link(root: Path, rel: str, target: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.is_symlink():
        p.unlink()
    os.symlink(target, p)


def _policy(root: Path, first: int, cpus: list[int], freqs: tuple[int, ...], governors: tuple[str, ...],
            governor: str, driver: str, latency_ns: int, cur: int, smin: Optional[int] = None,
            smax: Optional[int] = None) -> None:
    base = f"sys/devices/system/cpu/cpufreq/policy{first}"
    cpu_text = " ".join(map(str, cpus)) + "\n"
    _file(root, f"{base}/related_cpus", cpu_text, 0o444)
    _file(root, f"{base}/affected_cpus", cpu_text, 0o444)
    _file(root, f"{base}/cpuinfo_min_freq", f"{freqs[0]}\n", 0o444)
    _file(root, f"{base}/cpuinfo_max_freq", f"{freqs[-1]}\n", 0o444)
    _file(root, f"{base}/cpuinfo_cur_freq", f"{cur}\n", 0o400)
    _file(root, f"{base}/cpuinfo_transition_latency", f"{latency_ns}\n", 0o444)
    _file(root, f"{base}/scaling_available_frequencies", "".join(f"{f} " for f in freqs) + "\n", 0o444)
    _file(root, f"{base}/scaling_available_governors", "".join(f"{g} " for g in governors) + "\n", 0o444)
    _file(root, f"{base}/scaling_driver", f"{driver}\n", 0o444)
    _file(root, f"{base}/scaling_governor", f"{governor}\n")
    _file(root, f"{base}/scaling_min_freq", f"{smin or freqs[0]}\n")
    _file(root, f"{base}/scaling_max_freq", f"{smax or freqs[-1]}\n")
    _file(root, f"{base}/scaling_cur_freq", f"{cur}\n", 0o444)
    _file(root, f"{base}/scaling_setspeed", f"{cur}\n" if governor == "userspace" else "<unsupported>\n")
    _file(root, f"{base}/stats/time_in_state", "".join(f"{f} 0\n" for f in freqs), 0o444)
    _file(root, f"{base}/stats/total_trans", "0\n", 0o444)
    for cpu in cpus:
        _link(root, f"sys/devices/system/cpu/cpu{cpu}/cpufreq", f"../cpufreq/policy{first}")


def _cpus(root: Path, n: int) -> None:
    every = format_cpulist(range(n)) + "\n"
    for name in ("online", "possible", "present"):
        _file(root, f"sys/devices/system/cpu/{name}", every, 0o444)
    _file(root, "sys/devices/system/cpu/offline", "\n", 0o444)
    for cpu in range(1, n):  # cpu0 cannot be hot-unplugged on these boards: no online file
        _file(root, f"sys/devices/system/cpu/cpu{cpu}/online", "1\n")
    _file(root, "proc/stat", "cpu  " + " ".join(["0"] * 10) + "\n"
          + "".join(f"cpu{c} 1000 0 500 8000 100 0 10 0 0 0\n" for c in range(n)) + "intr 0\nctxt 0\n", 0o444)
    _file(root, "proc/sys/kernel/random/boot_id", BOOT_ID + "\n", 0o444)


def _devfreq(root: Path, devdir: str, name: str, of_path: str, of_name: str, freqs: tuple[int, ...],
             governors: tuple[str, ...], governor: str, cur: int) -> None:
    base = f"{devdir}/devfreq/{name}"
    _file(root, f"{base}/available_frequencies", " ".join(map(str, freqs)) + "\n", 0o444)
    _file(root, f"{base}/available_governors", " ".join(governors) + "\n", 0o444)
    _file(root, f"{base}/governor", f"{governor}\n")
    _file(root, f"{base}/cur_freq", f"{cur}\n", 0o444)
    _file(root, f"{base}/target_freq", f"{cur}\n", 0o444)
    _file(root, f"{base}/min_freq", f"{freqs[0]}\n")
    _file(root, f"{base}/max_freq", f"{freqs[-1]}\n")
    _file(root, f"{base}/polling_interval", "50\n")
    _link(root, f"{base}/device", "../../../" + devdir.rsplit("/", 1)[-1])
    _file(root, f"{of_path}/name", of_name.encode("ascii") + b"\x00", 0o444)
    _link(root, f"{devdir}/of_node", "../" * (devdir.count("/") + 1) + of_path)
    _link(root, f"sys/class/devfreq/{name}", "../../" + base[len("sys/"):])


def _thermal(root: Path, zones: list[tuple[str, int]]) -> None:
    for i, (typ, milli) in enumerate(zones):
        base = f"sys/devices/virtual/thermal/thermal_zone{i}"
        _file(root, f"{base}/type", f"{typ}\n", 0o444)
        _file(root, f"{base}/temp", f"{milli}\n", 0o444)
        _file(root, f"{base}/mode", "enabled\n")
        _link(root, f"sys/class/thermal/thermal_zone{i}", f"../../devices/virtual/thermal/thermal_zone{i}")


# -- boards ----------------------------------------------------------------------------------
def make_fake_xavier_nx(root: PathLike, *, power_layout: str = "iio", governor: str = "schedutil",
                        gpu_governor: str = "nvhost_podgov", cpu_max_khz: Optional[int] = None) -> Path:
    """A Jetson Xavier NX tree (L4T r32 layout by default) under ``root``; returns the root.

    - cpufreq: ``policy0``/``policy2``/``policy4`` of 2 CPUs each (tegra194 driver), 25 steps
      115200..1907200 kHz, governor ``schedutil``; ``cpuN/cpufreq`` symlinks; ``cpu/online`` 0-5.
    - GPU: ``/sys/devices/17000000.gv11b/devfreq/17000000.gv11b`` (15 steps in Hz, governor
      ``nvhost_podgov``), reached also as ``/sys/devices/gpu.0/devfreq/...`` and
      ``/sys/class/devfreq/17000000.gv11b``; ``of_node/name`` = ``gv11b``. A VIC devfreq node
      too, which GPU discovery must skip.
    - INA3221 on i2c-7 0x40, rails VDD_IN, VDD_CPU_GPU_CV, VDD_SOC: ``iio:device0`` files
      (``power_layout="iio"``, L4T r32) or ``hwmon/hwmon1`` files (``"hwmon"``, L4T r34+).
    - thermal zones CPU-therm, GPU-therm, AUX-therm, AO-therm, PMIC-Die, thermal-fan-est.

    :param cpu_max_khz: initial ``scaling_max_freq`` (nvpmodel leaves e.g. 1400000, a value not in the table)
    """
    root = Path(root)
    _cpus(root, 6)
    for first in (0, 2, 4):
        _policy(root, first, [first, first + 1], XAVIER_NX_CPU_KHZ, XAVIER_NX_GOVERNORS, governor, "tegra194",
                300000, 1420800, smax=cpu_max_khz)
    gpu_dir = "sys/devices/17000000.gv11b"
    _devfreq(root, gpu_dir, "17000000.gv11b", "sys/firmware/devicetree/base/gv11b@17000000", "gv11b",
             XAVIER_NX_GPU_HZ, ("wmark_simple", "nvhost_podgov", "userspace", "performance", "simple_ondemand"),
             gpu_governor, XAVIER_NX_GPU_HZ[0])
    _file(root, f"{gpu_dir}/railgate_enable", "1\n")
    _file(root, f"{gpu_dir}/load", "0\n", 0o444)
    _link(root, "sys/devices/gpu.0", "17000000.gv11b")
    _devfreq(root, "sys/devices/13e10000.host1x/15340000.vic", "15340000.vic",
             "sys/firmware/devicetree/base/host1x@13e00000/vic@15340000", "vic",
             (115200000, 345600000, 601600000, 1036800000), ("wmark_active", "nvhost_podgov", "userspace",
                                                            "performance", "simple_ondemand"),
             "nvhost_podgov", 115200000)
    rails = [("VDD_IN", 5056, 944), ("VDD_CPU_GPU_CV", 5048, 152), ("VDD_SOC", 5048, 280)]
    if power_layout == "iio":
        dev = "sys/bus/i2c/drivers/ina3221x/7-0040/iio:device0"
        _file(root, f"{dev}/name", "ina3221x\n", 0o444)
        for ch, (rail, mv, ma) in enumerate(rails):
            _file(root, f"{dev}/rail_name_{ch}", f"{rail}\n", 0o444)
            _file(root, f"{dev}/in_voltage{ch}_input", f"{mv}\n", 0o444)
            _file(root, f"{dev}/in_current{ch}_input", f"{ma}\n", 0o444)
            _file(root, f"{dev}/in_power{ch}_input", f"{mv * ma // 1000}\n", 0o444)
            _file(root, f"{dev}/crit_current_limit_{ch}", "32760\n")
            _file(root, f"{dev}/warn_current_limit_{ch}", "32760\n")
    elif power_layout == "hwmon":
        dev = "sys/bus/i2c/drivers/ina3221/7-0040/hwmon/hwmon1"
        _file(root, f"{dev}/name", "ina3221\n", 0o444)
        for ch, (rail, mv, ma) in enumerate(rails, 1):
            _file(root, f"{dev}/in{ch}_label", f"{rail}\n", 0o444)
            _file(root, f"{dev}/in{ch}_input", f"{mv}\n", 0o444)
            _file(root, f"{dev}/curr{ch}_input", f"{ma}\n", 0o444)
            _file(root, f"{dev}/curr{ch}_crit", "32760\n")
            _file(root, f"{dev}/curr{ch}_max", "32760\n")
        _file(root, f"{dev}/in7_label", "sum of shunt voltages\n", 0o444)
        _file(root, f"{dev}/in7_input", "0\n", 0o444)
        _link(root, "sys/class/hwmon/hwmon1", "../../bus/i2c/drivers/ina3221/7-0040/hwmon/hwmon1")
    else:
        raise ValueError(f"power_layout must be 'iio' or 'hwmon', got {power_layout!r}")
    _thermal(root, [("CPU-therm", 38500), ("GPU-therm", 37000), ("AUX-therm", 37500), ("AO-therm", 38000),
                    ("PMIC-Die", 100000), ("thermal-fan-est", 37700)])
    _jetson_files(root)
    return root


#: nvpmodel's modes on a Xavier NX (JetPack 5 ``/etc/nvpmodel.conf``): id -> name
XAVIER_NX_NVPMODEL = ("MODE_15W_2CORE", "MODE_15W_4CORE", "MODE_15W_6CORE", "MODE_10W_2CORE", "MODE_10W_4CORE",
                      "MODE_10W_DESKTOP", "MODE_20W_2CORE", "MODE_20W_4CORE", "MODE_20W_6CORE")


def _jetson_files(root: Path, mode: int = 2, emc_hz: int = 1600000000) -> None:
    """What L4T adds beside sysfs (read by :mod:`rlrm.hw.jetson`): device-tree model, L4T
    release, nvpmodel's status and configuration (mode 2, 15W_6CORE, the default), the EMC
    clock in debugfs. The GPU's ``load`` is made with the GPU node."""
    _file(root, "sys/firmware/devicetree/base/model", b"NVIDIA Jetson Xavier NX Developer Kit\x00", 0o444)
    _link(root, "proc/device-tree", "../sys/firmware/devicetree/base")
    _file(root, "etc/nv_tegra_release", "# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, "
                                        "EABI: aarch64, DATE: Tue Aug  1 19:57:35 UTC 2023\n", 0o444)
    _file(root, "var/lib/nvpmodel/status", f"pmode:{mode:04d} fmode:quiet\n")
    conf = "".join(f"< POWER_MODEL ID={i} NAME={name} >\n" for i, name in enumerate(XAVIER_NX_NVPMODEL))
    _file(root, "etc/nvpmodel.conf", f"< PM_CONFIG DEFAULT=2 >\n{conf}", 0o444)
    _file(root, "sys/kernel/debug/bpmp/debug/clk/emc/rate", f"{emc_hz}\n", 0o444)


def make_fake_odroid_xu3(root: PathLike, *, governor: str = "ondemand", gpu_governor: str = "simple_ondemand",
                         i2c_bus: int = 3, ina231_enabled: bool = False) -> Path:
    """A Hardkernel Odroid XU3 tree under ``root``; returns the root.

    - cpufreq (cpufreq-dt): ``policy0`` = A7 cpu0-3, 200000..1400000 kHz; ``policy4`` = A15
      cpu4-7, 200000..2000000 kHz, steps of 100000; ``cpu/online`` 0-7.
    - GPU (Mali-T628): devfreq ``11800000.gpu`` under ``/sys/devices/platform/soc``, 177..600 MHz
      in Hz, ``of_node/name`` = ``gpu``.
    - INA231 at ``/sys/bus/i2c/drivers/INA231/<bus>-00{40,41,44,45}`` (A15, memory, GPU, A7) with
      ``enable`` (0 unless ``ina231_enabled``), ``sensor_W``/``sensor_V``/``sensor_A``, ``update_period``.
    - thermal zones cpu0-thermal .. cpu3-thermal, gpu-thermal (mainline names).
    """
    root = Path(root)
    _cpus(root, 8)
    _policy(root, 0, [0, 1, 2, 3], ODROID_XU3_A7_KHZ, MAINLINE_GOVERNORS, governor, "cpufreq-dt", 140000, 1000000)
    _policy(root, 4, [4, 5, 6, 7], ODROID_XU3_A15_KHZ, MAINLINE_GOVERNORS, governor, "cpufreq-dt", 140000, 1200000)
    _devfreq(root, "sys/devices/platform/soc/11800000.gpu", "11800000.gpu",
             "sys/firmware/devicetree/base/soc/gpu@11800000", "gpu", ODROID_XU3_GPU_HZ,
             ("userspace", "powersave", "performance", "simple_ondemand"), gpu_governor, ODROID_XU3_GPU_HZ[0])
    for addr, (watts, volts) in {"0040": (1.210, 0.9125), "0041": (0.310, 1.2), "0044": (0.150, 0.8125),
                                 "0045": (0.080, 0.9)}.items():
        dev = f"sys/bus/i2c/drivers/INA231/{i2c_bus}-{addr}"
        _file(root, f"{dev}/name", "INA231\n", 0o444)
        _file(root, f"{dev}/enable", "1\n" if ina231_enabled else "0\n")
        _file(root, f"{dev}/sensor_W", f"{watts:.6f}\n", 0o444)
        _file(root, f"{dev}/sensor_V", f"{volts:.6f}\n", 0o444)
        _file(root, f"{dev}/sensor_A", f"{watts / volts:.6f}\n", 0o444)
        _file(root, f"{dev}/update_period", "263808\n")
    _thermal(root, [("cpu0-thermal", 45000), ("cpu1-thermal", 46000), ("cpu2-thermal", 44000),
                    ("cpu3-thermal", 45000), ("gpu-thermal", 41000)])
    return root


# -- checking and emulation -----------------------------------------------------------------
def snapshot_tree(root: PathLike) -> dict[str, Union[bytes, tuple[str, str]]]:
    """Every file's bytes and every symlink's target under ``root`` (symlinks not followed)."""
    root = Path(root)
    out: dict[str, Union[bytes, tuple[str, str]]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = ("symlink", os.readlink(p))
            elif p.is_file():
                out[rel] = p.read_bytes()
    return out


_LIMITS = {"scaling_min_freq": "scaling_max_freq", "min_freq": "max_freq"}
_LIMITS_REV = {v: k for k, v in _LIMITS.items()}
_real_write = _sysfs.kernel_write


def kernel_write(path: str, data: bytes) -> None:
    """A stand-in for :func:`rlrm.hw.sysfs.kernel_write` that adds the kernel's checks.

    - EACCES writing a read-only attribute (no owner write bit in the fake);
    - EINVAL for a min above the current max or a max below the current min (cpufreq before
      freq QoS, devfreq on L4T's 4.9 kernel);
    - EINVAL for ``scaling_setspeed`` unless the governor is ``userspace``, and for a governor
      not in ``scaling_available_governors``;
    - after a governor write, ``scaling_setspeed`` reads ``<unsupported>`` (or the current
      frequency under ``userspace``), as the kernel shows it.
    """
    p = Path(path)
    name, folder = p.name, p.parent
    if p.exists() and not (p.stat().st_mode & 0o200):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
    text = data.decode("ascii").strip()
    if name in _LIMITS or name in _LIMITS_REV:
        value = int(text)
        if name in _LIMITS and value > int((folder / _LIMITS[name]).read_text()):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), path)
        if name in _LIMITS_REV and value < int((folder / _LIMITS_REV[name]).read_text()):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), path)
    if name == "scaling_setspeed" and (folder / "scaling_governor").read_text().strip() != "userspace":
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), path)
    if name == "scaling_governor":
        if text not in (folder / "scaling_available_governors").read_text().split():
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), path)
    _real_write(path, data)
    if name == "scaling_governor" and (folder / "scaling_setspeed").exists():
        shown = (folder / "scaling_cur_freq").read_text() if text == "userspace" else "<unsupported>\n"
        (folder / "scaling_setspeed").write_text(shown)


# -- values that change over time (additive: tests rewrite them between samples) -----------------
XAVIER_NX_RAILS = ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC")


def set_xavier_nx_rail(root: PathLike, rail: str, watts: float, *, power_layout: str = "iio",
                       mv: int = 5000) -> None:
    """Rewrite one rail of a fake Xavier NX so it reads ``watts`` (at ``mv`` millivolts): the
    way a test makes a rail change over time. ``watts`` None removes the rail's value files
    (a rail that vanishes); a string is written as is (garbage)."""
    root = Path(root)
    ch = XAVIER_NX_RAILS.index(rail)
    if power_layout == "iio":
        dev = "sys/bus/i2c/drivers/ina3221x/7-0040/iio:device0"
        names = (f"in_voltage{ch}_input", f"in_current{ch}_input", f"in_power{ch}_input")
    elif power_layout == "hwmon":
        dev = "sys/bus/i2c/drivers/ina3221/7-0040/hwmon/hwmon1"
        names = (f"in{ch + 1}_input", f"curr{ch + 1}_input")
    else:
        raise ValueError(f"power_layout must be 'iio' or 'hwmon', got {power_layout!r}")
    for name in names:
        p = root / dev / name
        if watts is None:
            if p.exists():
                p.unlink()
            continue
        if isinstance(watts, str):
            text = watts if name != names[0] else f"{mv}\n"
        elif name.startswith(("in_current", "curr")):
            text = f"{int(round(watts * 1e6 / mv))}\n"
        elif name.startswith("in_power"):
            text = f"{int(round(watts * 1e3))}\n"
        else:
            text = f"{mv}\n"
        _file(root, f"{dev}/{name}", text, 0o444)


def set_gpu_load(root: PathLike, permille: int, rel: str = "sys/devices/17000000.gv11b/load") -> None:
    """Rewrite the fake GPU's ``load`` (per mille, as nvgpu prints it)."""
    _file(Path(root), rel, f"{permille}\n", 0o444)


def set_temperature(root: PathLike, zone_type: str, milli_c: Union[int, str]) -> None:
    """Rewrite the ``temp`` of the fake thermal zone whose ``type`` is ``zone_type``
    (millidegrees C; a string writes that text as is, e.g. garbage for a fault test); a zone
    that heats is a test rewriting it between steps."""
    root = Path(root)
    base = root / "sys/devices/virtual/thermal"
    for zone in sorted(base.glob("thermal_zone*")):
        if (zone / "type").read_text().strip() == zone_type:
            text = milli_c if isinstance(milli_c, str) else f"{int(milli_c)}\n"
            _file(root, str(zone.relative_to(root) / "temp"), text, 0o444)
            return
    raise KeyError(f"no fake thermal zone of type {zone_type!r} under {base}")


def set_cur_freq(root: PathLike, khz: int, policy: int = 0) -> None:
    """Rewrite a fake cpufreq policy's ``scaling_cur_freq`` and ``cpuinfo_cur_freq`` (kHz)."""
    base = f"sys/devices/system/cpu/cpufreq/policy{policy}"
    for name, mode in (("scaling_cur_freq", 0o444), ("cpuinfo_cur_freq", 0o400)):
        _file(Path(root), f"{base}/{name}", f"{khz}\n", mode)


def set_devfreq_cur_freq(root: PathLike, hz: int, rel: str = "sys/devices/17000000.gv11b/devfreq/17000000.gv11b") -> None:
    """Rewrite a fake devfreq node's ``cur_freq`` (Hz)."""
    _file(Path(root), f"{rel}/cur_freq", f"{hz}\n", 0o444)


def set_proc_stat(root: PathLike, times: "dict[int, tuple[int, int]]") -> None:
    """Rewrite the fake ``proc/stat`` with ``{cpu: (busy, idle)}`` jiffies (busy as user time)."""
    lines = "".join(f"cpu{c} {busy} 0 0 {idle} 0 0 0 0 0 0\n" for c, (busy, idle) in sorted(times.items()))
    total_busy = sum(b for b, _ in times.values())
    total_idle = sum(i for _, i in times.values())
    _file(Path(root), "proc/stat", f"cpu  {total_busy} 0 0 {total_idle} 0 0 0 0 0 0\n{lines}intr 0\nctxt 0\n", 0o444)


class ScriptedRail:
    """A rail reader whose watts are a function of a clock (for sampler tests): ``read()``
    returns a :class:`~rlrm.hw.sysfs.Reading`; ``fn`` returning None is a missing reading and
    raising makes the read fail.

    :param name: rail name
    :param fn: watts at clock time t
    :param clock: the clock (the sampler's)
    """

    def __init__(self, name: str, fn, clock) -> None:
        self.name = name
        self.fn = fn
        self.clock = clock

    def read(self) -> "_sysfs.Reading":
        value = self.fn(self.clock())
        if value is None:
            return _sysfs.Reading(self.name, None, "W", f"{self.name}: no such file (fake)")
        return _sysfs.Reading(self.name, float(value), "W")
