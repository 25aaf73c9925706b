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


#: Per-core thermal design power assumed where the machine states none, by architecture:
#: a desktop/server x86 core draws 5-15 W at full load (a 65 W, 8-core desktop part: ~8 W),
#: an Arm application core 0.5-3 W (Cortex-A57/A72/Carmel at 1.5-2.3 GHz: ~1.5 W).
TDP_PER_CORE_W = {"x86_64": 8.0, "i686": 8.0, "amd64": 8.0, "aarch64": 1.5, "arm64": 1.5, "armv7l": 1.0}
#: Fallback per-core TDP for an architecture not in :data:`TDP_PER_CORE_W`.
DEFAULT_TDP_PER_CORE_W = 5.0


def rapl_power_limit_w(root: Path = Path("/")) -> Optional[tuple[float, str]]:
    """The long-term package power limit RAPL states (PL1, which firmware sets to the TDP),
    summed over packages, and the files it came from; None where there is none."""
    base = Path(root) / "sys/class/powercap"
    total, files = 0.0, []
    try:
        zones = sorted(p for p in base.iterdir() if p.name.startswith("intel-rapl:") and p.name.count(":") == 1)
    except OSError:
        return None
    for zone in zones:
        text = _read(zone / "constraint_0_power_limit_uw")
        if text is None:
            continue
        try:
            uw = int(text)
        except ValueError:
            continue
        if uw > 0:
            total += uw / 1e6
            files.append("/" + str((zone / "constraint_0_power_limit_uw").relative_to(Path(root))))
    return (total, ", ".join(files)) if total > 0 else None


def estimate_tdp_w(n_cores: int, root: Path = Path("/"), machine: Optional[str] = None) -> tuple[float, str]:
    """Full-load CPU power for a machine without a usable power sensor, and where it came from:
    RAPL's package limit (PL1 = TDP) where readable, else ``n_cores`` times a per-core TDP
    for the architecture (:data:`TDP_PER_CORE_W`). Always an estimate."""
    rapl = rapl_power_limit_w(root)
    if rapl is not None:
        return rapl[0], f"RAPL package power limit (PL1, set to the TDP by firmware) from {rapl[1]}"
    arch = (machine or _platform.machine() or "").lower()
    per_core = TDP_PER_CORE_W.get(arch, DEFAULT_TDP_PER_CORE_W)
    return per_core * max(1, n_cores), (f"{max(1, n_cores)} cores x {per_core:g} W, the per-core TDP assumed for "
                                        f"{arch or 'an unknown architecture'} (rlrm.dnn.hostinfo.TDP_PER_CORE_W)")
