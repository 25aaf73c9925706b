"""What the machine we run on offers for profiling: CPUs, cpufreq, power sensors (no torch).

Reads only; :class:`FrequencyPin` is the one writer, and it restores what it changed.
Every path is relative to a ``root`` (``/`` on a real machine, a fake tree in tests).
"""

from __future__ import annotations

import os
import platform as _platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from rlrm.errors import InputError

CPUFREQ = "sys/devices/system/cpu/cpufreq"
RAPL = "sys/class/powercap/intel-rapl:0"


def _read(path: Path) -> Optional[str]:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _cpu_list(text: str) -> list[int]:
    """``0-3,6`` -> ``[0, 1, 2, 3, 6]``; space-separated lists too."""
    out: list[int] = []
    for part in text.replace(" ", ",").split(","):
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return sorted(set(out))


@dataclass(frozen=True)
class CpuFreqPolicy:
    """One cpufreq policy (a frequency domain).

    :param path: the policy's sysfs directory
    :param cpus: CPUs it governs
    :param freqs_khz: frequencies it offers, increasing
    :param writable: whether we may pin its frequency (scaling_min/max_freq writable)
    :param transition_latency_ns: ``cpuinfo_transition_latency`` (0 if unknown)
    """

    path: Path
    cpus: tuple[int, ...]
    freqs_khz: tuple[int, ...]
    writable: bool
    transition_latency_ns: int = 0


def cpufreq_policies(root: Path = Path("/")) -> list[CpuFreqPolicy]:
    """The machine's cpufreq policies (empty when cpufreq is not exposed, as in many VMs)."""
    base = Path(root) / CPUFREQ
    if not base.is_dir():
        return []
    out = []
    for d in sorted(base.glob("policy*"), key=lambda p: int(p.name[6:]) if p.name[6:].isdigit() else 0):
        cpus = _read(d / "related_cpus") or _read(d / "affected_cpus") or ""
        avail = _read(d / "scaling_available_frequencies")
        if avail:
            freqs = sorted({int(x) for x in avail.split()})
        else:
            lo, hi = _read(d / "cpuinfo_min_freq"), _read(d / "cpuinfo_max_freq")
            freqs = sorted({int(x) for x in (lo, hi) if x and x.isdigit()})
        if not freqs:
            continue
        writable = all(os.access(d / f, os.W_OK) for f in ("scaling_min_freq", "scaling_max_freq"))
        lat = _read(d / "cpuinfo_transition_latency")
        out.append(CpuFreqPolicy(d, tuple(_cpu_list(cpus)), tuple(freqs), writable,
                                 int(lat) if lat and lat.isdigit() else 0))
    return out


def cpu_model_name(root: Path = Path("/")) -> str:
    """``model name`` (x86) or ``Hardware``/``CPU part`` (Arm) from /proc/cpuinfo."""
    text = _read(Path(root) / "proc/cpuinfo") or ""
    for key in ("model name", "Hardware", "Processor", "cpu model"):
        for line in text.splitlines():
            if line.split(":")[0].strip() == key and ":" in line:
                return line.split(":", 1)[1].strip()
    return _platform.processor() or _platform.machine() or "unknown CPU"


def nominal_freq_khz(root: Path = Path("/")) -> tuple[int, str]:
    """A CPU frequency for a machine without cpufreq, and where it came from."""
    text = _read(Path(root) / "proc/cpuinfo") or ""
    for line in text.splitlines():
        if line.lower().startswith("cpu mhz") and ":" in line:
            try:
                return int(round(float(line.split(":", 1)[1]) * 1000)), "/proc/cpuinfo 'cpu MHz' (current clock reported by the kernel; not settable)"
            except ValueError:
                pass
    try:
        import psutil

        f = psutil.cpu_freq()
        if f is not None:
            mhz = f.max or f.current
            if mhz:
                return int(round(mhz * 1000)), "psutil.cpu_freq() (not settable)"
    except Exception:  # noqa: BLE001 - psutil is optional here
        pass
    return 1_000_000, "unknown: no cpufreq, /proc/cpuinfo or psutil figure; 1 GHz placeholder (not settable)"


class FrequencyPin:
    """Pin cpufreq policies to one frequency (scaling_min_freq = scaling_max_freq = f) and
    put every value back on exit.

    :param policies: the policies to pin (must be writable)
    """

    def __init__(self, policies: Sequence[CpuFreqPolicy]) -> None:
        self.policies = list(policies)
        self._saved: list[tuple[Path, str, str]] = []

    def __enter__(self) -> "FrequencyPin":
        for p in self.policies:
            lo, hi = _read(p.path / "scaling_min_freq"), _read(p.path / "scaling_max_freq")
            if lo is None or hi is None:
                raise InputError(p.path, "scaling_min_freq", "cannot read the current limits")
            self._saved.append((p.path, lo, hi))
        return self

    def set(self, khz: int) -> None:
        """Pin every policy to ``khz`` (each must offer it)."""
        for p in self.policies:
            cur_lo = int(_read(p.path / "scaling_min_freq") or 0)
            # widen first so min <= max holds after every single write
            if khz < cur_lo:
                self._write(p.path / "scaling_min_freq", khz)
                self._write(p.path / "scaling_max_freq", khz)
            else:
                self._write(p.path / "scaling_max_freq", khz)
                self._write(p.path / "scaling_min_freq", khz)
        time.sleep(0.01)

    @staticmethod
    def _write(path: Path, khz: int) -> None:
        try:
            path.write_text(str(int(khz)))
        except OSError as err:
            raise InputError(path, path.name, f"cannot write {khz}: {err.strerror or err}") from None

    def __exit__(self, *exc: object) -> None:
        for path, lo, hi in reversed(self._saved):
            try:  # min to the lowest first, then max, then min: valid whatever the order was
                (path / "scaling_min_freq").write_text(str(min(int(lo), int(hi))))
                (path / "scaling_max_freq").write_text(hi)
                (path / "scaling_min_freq").write_text(lo)
            except OSError:
                pass
        self._saved.clear()


class RaplSensor:
    """Package energy from Linux powercap (Intel/AMD RAPL), if readable.

    :param path: the powercap zone directory
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        rng = _read(path / "max_energy_range_uj")
        self.max_range = int(rng) if rng and rng.isdigit() else 2**32

    @classmethod
    def find(cls, root: Path = Path("/")) -> Optional["RaplSensor"]:
        p = Path(root) / RAPL
        text = _read(p / "energy_uj")
        return cls(p) if text and text.isdigit() else None

    def energy_uj(self) -> int:
        return int(_read(self.path / "energy_uj") or 0)

    def power_w(self, e0: int, e1: int, seconds: float) -> float:
        """Average power between two readings (wrap-around handled)."""
        d = e1 - e0 if e1 >= e0 else e1 + self.max_range - e0
        return d / 1e6 / seconds if seconds > 0 else 0.0
