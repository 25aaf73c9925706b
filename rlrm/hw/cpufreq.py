"""cpufreq: CPU clusters (policies), their operating points, governors and frequency control.

A cluster is one ``/sys/devices/system/cpu/cpufreq/policyN`` directory; its CPUs are in
``related_cpus``. On the Jetson Xavier NX the tegra194 driver makes one policy per 2-core
Carmel cluster (``policy0``, ``policy2``, ``policy4``); on the Odroid XU3 cpufreq-dt makes one
per big.LITTLE cluster (``policy0`` = A7 cpu0-3, ``policy4`` = A15 cpu4-7).

A frequency is set either by pinning (``scaling_min_freq = scaling_max_freq``, works with any
governor, the default) or with the ``userspace`` governor and ``scaling_setspeed``. Either way a
frequency that is not in the policy's table is refused before anything is written.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass, field
from typing import Optional

from rlrm.errors import InputError
from rlrm.hw.sysfs import Sysfs, Writer, write_limits

CPUFREQ_DIR = "sys/devices/system/cpu/cpufreq"
CPU_DIR = "sys/devices/system/cpu"
#: Plausible bounds of a CPU frequency in kHz (1 MHz .. 10 GHz).
KHZ_MIN, KHZ_MAX = 1_000, 10_000_000
METHODS = ("pin", "userspace")


@dataclass(frozen=True)
class PolicyState:
    """What a policy is doing now.

    :param governor: ``scaling_governor``
    :param min_khz: ``scaling_min_freq``
    :param max_khz: ``scaling_max_freq``
    :param cur_khz: ``scaling_cur_freq``
    """

    governor: str
    min_khz: int
    max_khz: int
    cur_khz: int


@dataclass(frozen=True)
class CpuPolicy:
    """One cpufreq policy, i.e. one CPU cluster whose cores share a clock.

    :param fs: the sysfs root it was found under
    :param name: ``policyN``
    :param rel: its directory relative to the root
    :param cpus: ``related_cpus`` (every CPU of the cluster, online or not); empty when inactive
    :param available_khz: the operating points in kHz, ascending (from
        ``scaling_available_frequencies``, else ``stats/time_in_state``)
    :param governors: ``scaling_available_governors``
    :param cpuinfo_min_khz: ``cpuinfo_min_freq``
    :param cpuinfo_max_khz: ``cpuinfo_max_freq``
    :param active: False when every CPU of the cluster is offline: the kernel then answers
        EBUSY to every read and write of the policy's files
    """

    fs: Sysfs = field(repr=False)
    name: str
    rel: str
    cpus: tuple[int, ...] = ()
    available_khz: tuple[int, ...] = ()
    governors: tuple[str, ...] = ()
    cpuinfo_min_khz: int = 0
    cpuinfo_max_khz: int = 0
    active: bool = True

    # -- files ---------------------------------------------------------------------------
    def file(self, attr: str) -> str:
        """Root-relative path of one of the policy's attributes."""
        return f"{self.rel}/{attr}"

    @property
    def first_cpu(self) -> int:
        return int(self.name[len("policy"):])

    def files_touched(self, method: str = "pin") -> list[str]:
        """Every file :meth:`set_frequency` may write with ``method``."""
        files = [self.file("scaling_min_freq"), self.file("scaling_max_freq")]
        if method == "userspace":
            files += [self.file("scaling_governor"), self.file("scaling_setspeed")]
        return files

    # -- reads ---------------------------------------------------------------------------
    def state(self) -> PolicyState:
        """Read governor, limits and current frequency (validated)."""
        self._require_active()
        governor = self.fs.read_word(self.file("scaling_governor"), "governor")
        lo = _read_khz(self.fs, self.file("scaling_min_freq"), "minimum frequency (kHz)")
        hi = _read_khz(self.fs, self.file("scaling_max_freq"), "maximum frequency (kHz)")
        if lo > hi:
            raise InputError(self.fs.path(self.file("scaling_min_freq")), "minimum frequency (kHz)",
                             f"{lo} is above {self.fs.path(self.file('scaling_max_freq'))} ({hi})")
        cur = _read_khz(self.fs, self.file("scaling_cur_freq"), "current frequency (kHz)")
        return PolicyState(governor, lo, hi, cur)

    def affected_cpus(self) -> list[int]:
        """The cluster's CPUs that are online now."""
        self._require_active()
        return self.fs.read_cpus(self.file("affected_cpus"), "online CPUs of the policy")

    # -- control -------------------------------------------------------------------------
    def check_frequency(self, khz: int) -> int:
        """Return ``khz`` if it is one of the cluster's operating points, else raise InputError."""
        self._require_active()
        if isinstance(khz, bool) or not isinstance(khz, int):
            raise TypeError(f"frequency must be an int in kHz, got {khz!r}")
        if self.available_khz:
            if khz not in self.available_khz:
                raise InputError(self.fs.path(self.file("scaling_available_frequencies")),
                                 f"{self.name} frequency",
                                 f"{khz} kHz is not an available frequency "
                                 f"({_summary(self.available_khz)} kHz)")
        elif not self.cpuinfo_min_khz <= khz <= self.cpuinfo_max_khz:
            raise InputError(self.fs.path(self.file("cpuinfo_max_freq")), f"{self.name} frequency",
                             f"{khz} kHz is outside {self.cpuinfo_min_khz}..{self.cpuinfo_max_khz} kHz")
        return khz

    def set_frequency(self, khz: int, writer: Writer, method: str = "pin") -> bool:
        """Run the cluster at ``khz``; returns False when it already was (nothing written).

        :param khz: one of :attr:`available_khz`
        :param writer: where the writes go (the safety guard, which snapshots first)
        :param method: ``pin`` (min = max) or ``userspace`` (governor + ``scaling_setspeed``)
        """
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.check_frequency(khz)
        if method == "pin":
            return write_limits(self.fs, writer, self.file("scaling_min_freq"),
                                self.file("scaling_max_freq"), khz, khz, field="frequency (kHz)",
                                bounds=(KHZ_MIN, KHZ_MAX))
        if "userspace" not in self.governors:
            raise InputError(self.fs.path(self.file("scaling_available_governors")), "governors",
                             f"{self.name} has no userspace governor ({' '.join(self.governors)}); "
                             "use the pin method")
        st = self.state()
        changed = False
        if not st.min_khz <= khz <= st.max_khz:
            changed = write_limits(self.fs, writer, self.file("scaling_min_freq"),
                                   self.file("scaling_max_freq"), min(st.min_khz, khz),
                                   max(st.max_khz, khz), field="frequency (kHz)", bounds=(KHZ_MIN, KHZ_MAX))
        if st.governor != "userspace":
            writer.write(self.file("scaling_governor"), "userspace")
        elif not changed and self.fs.read_line(self.file("scaling_setspeed"), "set speed (kHz)") == str(khz):
            return False
        writer.write(self.file("scaling_setspeed"), khz)
        return True

    def _require_active(self) -> None:
        if not self.active:
            raise InputError(self.fs.path(self.rel), self.name,
                             "inactive: every CPU of this cluster is offline")


def discover_policies(fs: Sysfs) -> list[CpuPolicy]:
    """Every ``policyN`` under ``sys/devices/system/cpu/cpufreq``, ordered by N.

    Values are validated; garbage raises :class:`InputError` naming the file. A policy whose
    CPUs are all offline answers EBUSY and is returned with ``active=False``.
    """
    policies = []
    rels = [r for r in fs.glob(f"{CPUFREQ_DIR}/policy*") if re.fullmatch(r"policy[0-9]+", r.rsplit("/", 1)[-1])]
    for rel in sorted(rels, key=lambda r: int(r.rsplit("policy", 1)[-1])):
        name = rel.rsplit("/", 1)[-1]
        try:
            policies.append(_load_policy(fs, name, rel))
        except OSError as err:
            if err.errno == errno.EBUSY:
                policies.append(CpuPolicy(fs, name, rel, active=False))
            elif isinstance(err, FileNotFoundError):
                raise InputError(err.filename or fs.path(rel), name,
                                 "cpufreq policy without this attribute") from None
            else:
                raise
    return policies


def online_cpus(fs: Sysfs) -> Optional[list[int]]:
    """``sys/devices/system/cpu/online`` as a list, None when the file is absent."""
    rel = f"{CPU_DIR}/online"
    if not fs.exists(rel):
        return None
    return fs.read_cpus(rel, "online CPUs")


def _load_policy(fs: Sysfs, name: str, rel: str) -> CpuPolicy:
    cpus = fs.read_cpus(f"{rel}/related_cpus", "CPUs of the policy")
    lo = _read_khz(fs, f"{rel}/cpuinfo_min_freq", "lowest frequency (kHz)")
    hi = _read_khz(fs, f"{rel}/cpuinfo_max_freq", "highest frequency (kHz)")
    if lo > hi:
        raise InputError(fs.path(f"{rel}/cpuinfo_min_freq"), "lowest frequency (kHz)",
                         f"{lo} is above {fs.path(f'{rel}/cpuinfo_max_freq')} ({hi})")
    table = _read_table(fs, rel)
    for khz in table:
        if not lo <= khz <= hi:
            raise InputError(fs.path(f"{rel}/scaling_available_frequencies"), "available frequencies (kHz)",
                             f"{khz} is outside {lo}..{hi} of {fs.path(f'{rel}/cpuinfo_min_freq')} and "
                             f"{fs.path(f'{rel}/cpuinfo_max_freq')}")
    gov_rel = f"{rel}/scaling_available_governors"
    governors = tuple(fs.read_words(gov_rel, "available governors")) if fs.exists(gov_rel) else ()
    return CpuPolicy(fs, name, rel, tuple(cpus), tuple(table), governors, lo, hi)


def _read_table(fs: Sysfs, rel: str) -> list[int]:
    avail = f"{rel}/scaling_available_frequencies"
    if fs.exists(avail):
        freqs = fs.read_ints(avail, "available frequencies (kHz)", minimum=KHZ_MIN, maximum=KHZ_MAX)
        if len(set(freqs)) != len(freqs):
            raise InputError(fs.path(avail), "available frequencies (kHz)", "a frequency is listed twice")
        return sorted(freqs)
    stats = f"{rel}/stats/time_in_state"
    if fs.exists(stats):
        freqs = []
        for i, line in enumerate(fs.read_text(stats, "time in state").splitlines()):
            parts = line.split()
            if len(parts) != 2 or not all(p.isdigit() for p in parts):
                raise InputError(fs.path(stats), f"line {i + 1}", f"expected '<kHz> <time>', got {line!r}")
            freqs.append(int(parts[0]))
        if freqs and all(KHZ_MIN <= f <= KHZ_MAX for f in freqs):
            return sorted(set(freqs))
        raise InputError(fs.path(stats), "frequencies (kHz)", "no plausible frequency listed")
    return []


def _read_khz(fs: Sysfs, rel: str, what: str) -> int:
    return fs.read_int(rel, what, minimum=KHZ_MIN, maximum=KHZ_MAX)


def _summary(values: tuple[int, ...]) -> str:
    if len(values) <= 6:
        return ", ".join(map(str, values))
    return f"{len(values)} steps {values[0]}..{values[-1]}"
