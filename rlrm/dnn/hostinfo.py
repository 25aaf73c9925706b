"""Facts about the machine that :mod:`rlrm.hw` does not cover: the CPU's name and, where
cpufreq is absent (many VMs), a nominal clock. Read-only, no torch."""

from __future__ import annotations

import platform as _platform
from pathlib import Path
from typing import Optional


def _read(path: Path) -> Optional[str]:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_model_name(root: Path = Path("/")) -> str:
    """``model name`` (x86) or ``Hardware``/``Processor`` (Arm) from /proc/cpuinfo."""
    text = _read(Path(root) / "proc/cpuinfo") or ""
    for key in ("model name", "Hardware", "Processor", "cpu model"):
        for line in text.splitlines():
            if ":" in line and line.split(":")[0].strip() == key:
                return line.split(":", 1)[1].strip()
    return _platform.processor() or _platform.machine() or "unknown CPU"


def nominal_freq_khz(root: Path = Path("/")) -> tuple[int, str]:
    """A CPU frequency for a machine without cpufreq, and where it came from."""
    text = _read(Path(root) / "proc/cpuinfo") or ""
    for line in text.splitlines():
        if line.lower().startswith("cpu mhz") and ":" in line:
            try:
                khz = int(round(float(line.split(":", 1)[1]) * 1000))
                return khz, "/proc/cpuinfo 'cpu MHz' (the clock the kernel reports; not settable here)"
            except ValueError:
                pass
    try:
        import psutil

        f = psutil.cpu_freq()
        if f is not None and (f.max or f.current):
            return int(round((f.max or f.current) * 1000)), "psutil.cpu_freq() (not settable here)"
    except Exception:  # noqa: BLE001 - psutil is optional here
        pass
    return 1_000_000, "unknown: no cpufreq, /proc/cpuinfo or psutil figure; 1 GHz placeholder (not settable)"
