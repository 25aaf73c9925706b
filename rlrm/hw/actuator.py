"""The live board's actuators and sensors behind one object that always cleans up."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from rlrm.errors import InputError
from rlrm.hw import power, thermal
from rlrm.hw.affinity import CoreController
from rlrm.hw.cpufreq import CPUFREQ_DIR, KHZ_MAX, KHZ_MIN, METHODS, CpuPolicy, discover_policies, online_cpus
from rlrm.hw.devfreq import DEVFREQ_CLASS, HZ_MAX, HZ_MIN, DevfreqDevice, find_gpu
from rlrm.hw.state import StateGuard
from rlrm.hw.statefile import restore_command, stale_statefiles
from rlrm.hw.sysfs import PathLike, Reading, Sysfs

log = logging.getLogger("rlrm.hw")


class HardwareActuator:
    """Sets cluster frequencies, the GPU frequency and the core count, and puts them back.

    Use it as a context manager. Nothing is written until the first ``set_*`` call; that call
    first saves every value that may be touched to a state file (see
    :class:`~rlrm.hw.state.StateGuard`). Leaving the ``with`` block, interpreter exit, SIGINT,
    SIGTERM, SIGHUP and SIGQUIT restore them; after a SIGKILL, ``rlrm restore STATEFILE`` does.
    Opening an actuator that may write takes the board's lock (one rlrm per board): a second
    one raises :class:`~rlrm.hw.owner.BoardBusy` naming the holder's PID.

    When the frequency files are missing or not writable the actuator is observe-only for them,
    with one warning: ``set_cpu_frequency`` / ``set_gpu_frequency`` validate their argument and
    return False, while ``set_cores`` (affinity and torch threads, no privilege needed) and the
    sensors keep working, so the controller still chooses subnetworks and core counts.

    :param root: sysfs root; None means ``$RLRM_SYSFS_ROOT`` or ``/``
    :param statefile: where the snapshot goes (default: a per-process file in the private
        state folder, see :mod:`rlrm.hw.owner`)
    :param cpu_method: ``pin`` (scaling_min_freq = scaling_max_freq) or ``userspace``
        (userspace governor and scaling_setspeed)
    :param observe_only: True to never write; None to decide from the files and permissions
    :param enable_sensors: switch on INA231 sensors whose ``enable`` is 0 (restored on exit)
    :param handlers: restore at exit and on SIGINT / SIGTERM / SIGHUP / SIGQUIT
    :param use_torch: ``set_cores`` also sets torch's thread count
    """

    def __init__(
        self,
        root: Optional[PathLike] = None,
        statefile: Optional[PathLike] = None,
        cpu_method: str = "pin",
        observe_only: Optional[bool] = None,
        enable_sensors: bool = True,
        handlers: bool = True,
        use_torch: bool = True,
    ) -> None:
        if cpu_method not in METHODS:
            raise ValueError(f"cpu_method must be one of {METHODS}, got {cpu_method!r}")
        self.fs = Sysfs(root)
        self.cpu_method = cpu_method
        self.force_observe = bool(observe_only)
        self.enable_sensors = enable_sensors
        self.guard = StateGuard(self.fs, statefile, handlers=handlers)
        self.use_torch = use_torch
        self.clusters: list[CpuPolicy] = []
        self.gpu: Optional[DevfreqDevice] = None
        self.sensors: list[power.PowerReader] = []
        self.zones: list[thermal.ThermalZone] = []
        self.cores = CoreController(None, use_torch)
        self.can_control_cpu = False
        self.can_control_gpu = False
        self.observe_reasons: list[str] = []
        self._open = False

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> "HardwareActuator":
        return self.open()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def open(self) -> "HardwareActuator":
        """Discover everything (validated) and decide what may be written. Writes nothing,
        except switching on disabled INA231 sensors (after the snapshot)."""
        fs = self.fs
        self.clusters = discover_policies(fs)
        self.gpu = find_gpu(fs)
        self.sensors = power.auto_discover(fs)
        self.zones = thermal.discover_thermal_zones(fs)
        self.cores = CoreController(online_cpus(fs), self.use_torch)
        to_enable = self._decide_control()
        if self.can_control_cpu or self.can_control_gpu or to_enable:
            self.guard.acquire()  # one owner per board: a second rlrm is refused here, before any write
        try:
            stale = stale_statefiles(self.guard.statefile.parent)
            if stale:
                log.warning("rlrm: %d earlier run(s) were killed before restoring the board: run `%s`",
                            len(stale), restore_command(stale[0], self.fs.root))
            self._open = True
            for sensor in to_enable:
                sensor.enable(self.guard)  # the first write: the snapshot is saved before it
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> list[str]:
        """Restore everything (state file removed on success); returns problems, if any."""
        self.cores.restore()
        problems = self.guard.close()
        self._open = False
        return problems

    def restore(self) -> list[str]:
        """Restore now but stay usable (the next ``set_*`` snapshots again)."""
        self.cores.restore()
        return self.guard.restore()

    @property
    def statefile(self) -> Path:
        return self.guard.statefile

    @property
    def observe_only(self) -> bool:
        """True when no frequency can be set (neither CPU nor GPU)."""
        return not (self.can_control_cpu or self.can_control_gpu)

    # -- control -------------------------------------------------------------------------
    def cluster(self, which: Union[int, str]) -> CpuPolicy:
        """A cluster by index in :attr:`clusters` (0 = lowest CPUs) or by name (``policy4``)."""
        self._require_open()
        for i, p in enumerate(self.clusters):
            if which == p.name or (type(which) is int and which == i):
                return p
        have = ", ".join(f"{i}={p.name}" for i, p in enumerate(self.clusters)) or "none"
        raise InputError(self.fs.path(CPUFREQ_DIR), "cluster", f"no cluster {which!r} (have {have})")

    def set_cpu_frequency(self, cluster: Union[int, str], khz: int) -> bool:
        """Run one cluster at ``khz`` (one of its ``available_khz``); False when observe-only."""
        policy = self.cluster(cluster)
        policy.check_frequency(khz)
        if not self.can_control_cpu:
            return False
        policy.set_frequency(khz, self.guard, self.cpu_method)
        return True

    def set_gpu_frequency(self, khz: int) -> bool:
        """Pin the GPU at ``khz`` (its devfreq table is in Hz: khz * 1000 must be listed)."""
        self._require_open()
        if self.gpu is None:
            return False
        self.gpu.check_frequency(khz * 1000)
        if not self.can_control_gpu:
            return False
        self.gpu.set_frequency(khz * 1000, self.guard)
        return True

    def set_cores(self, n: int, cluster: Union[int, str, None] = None) -> list[int]:
        """Run this process on ``n`` CPUs (of ``cluster`` when given) with ``n`` torch threads."""
        cpus: Optional[Sequence[int]] = None
        if cluster is not None:
            policy = self.cluster(cluster)
            cpus = policy.affected_cpus() if policy.active else []
        return self.cores.set_cores(n, cpus)

    # -- sensors -------------------------------------------------------------------------
    def read_power(self) -> dict[str, Reading]:
        """Watts per rail; a missing reading (``value`` None) where a sensor is gone or garbled."""
        return power.read_all(self.sensors)

    def read_temperatures(self) -> dict[str, Reading]:
        return thermal.read_temperatures(self.zones)

    # -- internals -----------------------------------------------------------------------
    def _require_open(self) -> None:
        if not self._open:
            raise RuntimeError("HardwareActuator is not open: use it in a `with` block or call open()")

    def _decide_control(self) -> list[power.Ina231]:
        """Decide what may be written, plan it in the guard, warn once about the rest; returns
        the INA231 sensors to switch on."""
        active = [p for p in self.clusters if p.active]
        cpu_reason, gpu_reason = control_problems(self.fs, self.clusters, self.gpu, self.cpu_method)
        self.can_control_cpu = not self.force_observe and not cpu_reason
        self.can_control_gpu = not self.force_observe and not gpu_reason
        off = [] if self.force_observe or not self.enable_sensors else [
            s for s in self.sensors if isinstance(s, power.Ina231) and not _safe_enabled(s)]
        to_enable = [s for s in off if self.fs.writable(s.file("enable"))]
        if self.force_observe:
            self.observe_reasons = ["observe-only was requested"]
            log.info("rlrm: observe-only was requested: frequencies stay as they are")
        else:
            self.observe_reasons = [f"{what} frequency: {why}" for what, why in (("CPU", cpu_reason),
                                                                                  ("GPU", gpu_reason)) if why]
            stuck = [s.name for s in off if s not in to_enable]
            notes = list(self.observe_reasons)
            if stuck:
                notes.append(f"INA231 sensor(s) {', '.join(stuck)} are disabled and their enable file is not "
                             "writable, so their power is reported missing")
            if notes:
                log.warning("rlrm: observe-only for %s; what cannot be written stays as it is, the controller "
                            "still chooses subnetworks and core counts", "; ".join(notes))
        if self.can_control_cpu:
            for p in active:
                self.guard.plan_limits(p.file("scaling_min_freq"), p.file("scaling_max_freq"), (KHZ_MIN, KHZ_MAX))
                if self.cpu_method == "userspace":
                    self.guard.plan_value(p.file("scaling_governor"))
                    self.guard.plan_setspeed(p.file("scaling_setspeed"))
        if self.can_control_gpu and self.gpu is not None:
            self.guard.plan_limits(self.gpu.file("min_freq"), self.gpu.file("max_freq"), (HZ_MIN, HZ_MAX))
        for s in to_enable:
            self.guard.plan_value(s.file("enable"))
        return to_enable


def control_problems(fs: Sysfs, clusters: Sequence[CpuPolicy], gpu: Optional[DevfreqDevice],
                     cpu_method: str = "pin") -> tuple[str, str]:
    """Why CPU and GPU frequencies cannot be set under ``fs`` ("" for each that can)."""
    active = [p for p in clusters if p.active]
    if not clusters:
        cpu = f"no cpufreq policy under {fs.path(CPUFREQ_DIR)}"
    elif not active:
        cpu = "every cpufreq policy is inactive (its CPUs offline)"
    else:
        cpu = _unwritable(fs, [f for p in active for f in p.files_touched(cpu_method)])
    if gpu is None:
        gpu_reason = f"no GPU devfreq node under {fs.path(DEVFREQ_CLASS)}"
    else:
        gpu_reason = _unwritable(fs, gpu.files_touched())
    return cpu, gpu_reason


def _unwritable(fs: Sysfs, rels: list[str]) -> str:
    """Why the first of ``rels`` cannot be written, or "" when all can."""
    for rel in rels:
        p = fs.path(rel)
        if not p.exists():
            return f"{p} does not exist"
        if not os.access(p, os.W_OK):
            return f"no permission to write {p} (run as root or grant write access)"
    return ""


def _safe_enabled(sensor: power.Ina231) -> bool:
    try:
        return sensor.enabled()
    except (OSError, InputError):
        return True  # unreadable: leave it alone, its readings say why
