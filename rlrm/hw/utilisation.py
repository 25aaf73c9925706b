"""Per-CPU utilisation: the busy fraction of each CPU between two samples.

Read from ``<root>/proc/stat`` (so a fake tree can supply it and CPU numbers survive CPUs
going offline); on a system without ``/proc/stat`` and root ``/``, from psutil.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple, Union

from rlrm.errors import InputError
from rlrm.hw.sysfs import PathLike, Sysfs

PROC_STAT = "proc/stat"

#: (busy, total) jiffies per CPU number.
Times = Dict[int, Tuple[int, int]]


class CpuUtilisation:
    """Busy fraction per CPU since the previous :meth:`sample` (or since construction).

    :param root: the root holding ``proc/stat``; None means ``$RLRM_SYSFS_ROOT`` or ``/``
    """

    def __init__(self, root: Union[Sysfs, PathLike, None] = None) -> None:
        self.fs = root if isinstance(root, Sysfs) else Sysfs(root)
        self._last: Times = self._times()

    def sample(self) -> dict[int, float]:
        """{cpu: busy fraction in [0, 1]} for the CPUs online in both samples."""
        now = self._times()
        out: dict[int, float] = {}
        for cpu, (busy, total) in now.items():
            if cpu not in self._last:
                continue
            d_busy = max(0, busy - self._last[cpu][0])
            d_total = max(0, total - self._last[cpu][1])
            out[cpu] = min(1.0, d_busy / d_total) if d_total else 0.0
        self._last = now
        return out

    def _times(self) -> Times:
        if self.fs.exists(PROC_STAT) or str(self.fs.root) != "/":
            return parse_proc_stat(self.fs)
        return _psutil_times()


def parse_proc_stat(fs: Sysfs) -> Times:
    """(busy, total) jiffies of every ``cpuN`` line; garbage raises InputError naming the file."""
    text = fs.read_text(PROC_STAT, "cpu times")
    times: Times = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts or not parts[0].startswith("cpu") or parts[0] == "cpu":
            continue
        cpu = parts[0][3:]
        fields = parts[1:]
        if not cpu.isdigit() or len(fields) < 4 or not all(f.isdigit() for f in fields):
            raise InputError(fs.path(PROC_STAT), f"line {lineno}", f"not a cpu times line: {line[:60]!r}")
        vals = [int(f) for f in fields[:8]]  # guest times are already inside user and nice
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
        total = sum(vals)
        times[int(cpu)] = (total - idle, total)
    if not times:
        raise InputError(fs.path(PROC_STAT), "cpu times", "no cpuN line")
    return times


def _psutil_times() -> Times:
    import psutil  # only where /proc/stat does not exist

    times: Times = {}
    for cpu, t in enumerate(psutil.cpu_times(percpu=True)):
        idle = t.idle + getattr(t, "iowait", 0.0)
        total = sum(t)
        times[cpu] = (int((total - idle) * 100), int(total * 100))
    return times


def busy_fraction(samples: dict[int, float], cpus: Optional[list[int]] = None) -> float:
    """Mean busy fraction over ``cpus`` (all sampled CPUs when None); 0 when none sampled."""
    vals = [v for c, v in samples.items() if cpus is None or c in cpus]
    return sum(vals) / len(vals) if vals else 0.0
