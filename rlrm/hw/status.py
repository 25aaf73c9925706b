"""``rlrm hw status --json`` and ``--watch SECONDS``: the board's state as a dict, and a
tegrastats-like line refreshed every few seconds.

Everything is read under the sysfs root; nothing is written. A value that cannot be read is
``None`` (JSON ``null``) or ``-`` in the line.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Dict, List, Optional, TextIO

from rlrm.errors import InputError
from rlrm.hw import jetson, power, thermal
from rlrm.hw.actuator import control_problems
from rlrm.hw.cpufreq import discover_policies, online_cpus
from rlrm.hw.devfreq import find_gpu
from rlrm.hw.sysfs import Reading, Sysfs


class StatusReader:
    """Discovers the board once (clusters, GPU, power sensors, thermal zones) and reads its
    state on each :meth:`read` (power sensors keep their state between reads: RAPL's power is
    an energy difference).

    :param fs: the sysfs root
    """

    def __init__(self, fs: Sysfs) -> None:
        self.fs = fs
        self.clusters = discover_policies(fs)
        self.gpu = find_gpu(fs)
        self.sensors = power.auto_discover(fs)
        self.zones = thermal.discover_thermal_zones(fs)

    def read(self) -> Dict[str, Any]:
        """The state now, as plain JSON-able values."""
        fs = self.fs
        clusters: List[Dict[str, Any]] = []
        for p in self.clusters:
            entry: Dict[str, Any] = {"name": p.name, "cpus": list(p.cpus), "active": bool(p.active)}
            if p.active:
                try:
                    st = p.state()
                    entry.update(governor=st.governor, min_khz=st.min_khz, max_khz=st.max_khz, cur_khz=st.cur_khz)
                except (OSError, InputError) as err:
                    entry["problem"] = str(err)
            clusters.append(entry)
        gpu: Optional[Dict[str, Any]] = None
        if self.gpu is not None:
            gpu = {"name": self.gpu.name, "path": str(fs.path(self.gpu.rel))}
            try:
                g = self.gpu.state()
                gpu.update(governor=g.governor, min_hz=g.min_hz, max_hz=g.max_hz, cur_hz=g.cur_hz)
            except (OSError, InputError) as err:
                gpu["problem"] = str(err)
        cpu_why, gpu_why = control_problems(fs, self.clusters, self.gpu)
        return {
            "time": time.time(),
            "sysfs_root": str(fs.root),
            "cpus_online": online_cpus(fs),
            "clusters": clusters,
            "gpu": gpu,
            "power_w": [_reading(s.read()) for s in self.sensors],
            "temperature_c": [_reading(z.read()) for z in self.zones],
            "jetson": jetson.jetson_status(fs, self.clusters, self.gpu),
            "control": {"cpu": cpu_why or "can be set", "gpu": gpu_why or "can be set"},
        }


def _reading(r: Reading) -> Dict[str, Any]:
    return {"name": r.name, "value": r.value, "problem": r.problem or None}


def _mhz(value: Optional[int], per_mhz: int) -> str:
    return "-" if value is None else f"{value / per_mhz:.0f}"


def format_line(state: Dict[str, Any]) -> str:
    """One tegrastats-like line: CPU clusters, GPU load and clock, EMC, rails, temperatures, mode."""
    parts = [time.strftime("%H:%M:%S", time.localtime(state["time"]))]
    cpus = [f"{c['name']}@{_mhz(c.get('cur_khz'), 1000)}" if c["active"] else f"{c['name']}:off"
            for c in state["clusters"]]
    parts.append("CPU [" + ",".join(cpus) + "] MHz" if cpus else "CPU -")
    j = state["jetson"]
    gpu = state["gpu"]
    load = "-" if j["gpu_load_pct"] is None else f"{j['gpu_load_pct']:.0f}%"
    parts.append(f"GPU {load}@{_mhz(gpu.get('cur_hz'), 1000000)} MHz" if gpu else "GPU -")
    parts.append(f"EMC {_mhz(j['emc_hz'], 1000000)} MHz")
    for r in state["power_w"]:
        parts.append(f"{r['name']} {'-' if r['value'] is None else format(r['value'], '.2f')} W")
    for r in state["temperature_c"]:
        parts.append(f"{r['name']}@{'-' if r['value'] is None else format(r['value'], '.1f')}C")
    mode = j["nvpmodel"]
    if mode is not None:
        parts.append(f"nvpmodel {mode['name'] or mode['id']}")
    if j["jetson_clocks"] is not None:
        parts.append(f"jetson_clocks {'on' if j['jetson_clocks'] else 'off'}")
    return " ".join(parts)


def watch(fs: Sysfs, seconds: float, as_json: bool = False, count: Optional[int] = None,
          out: Optional[TextIO] = None) -> int:
    """Print the state every ``seconds`` (one line, or one JSON object a line) until
    interrupted, or ``count`` times (to ``out``, default: the current ``sys.stdout``)."""
    out = out or sys.stdout
    if not seconds > 0 or seconds > 86400:
        raise InputError("--watch", "watch", f"expected seconds in (0, 86400], got {seconds:g}")
    reader = StatusReader(fs)
    n = 0
    try:
        while count is None or n < count:
            state = reader.read()
            print(json.dumps(state) if as_json else format_line(state), file=out, flush=True)
            n += 1
            if count is None or n < count:
                time.sleep(seconds)
    except KeyboardInterrupt:
        pass
    return 0


def print_json(fs: Sysfs, out: Optional[TextIO] = None) -> int:
    """``rlrm hw status --json`` (to ``out``, default: the current ``sys.stdout``)."""
    out = out or sys.stdout
    reader = StatusReader(fs)
    if any(isinstance(s, power.Rapl) for s in reader.sensors):
        reader.read()
        time.sleep(0.25)  # RAPL power is an energy difference over time
    print(json.dumps(reader.read(), indent=1), file=out)
    return 0


def jetson_lines(fs: Sysfs, clusters: Any, gpu: Any) -> List[str]:
    """The Jetson lines of ``rlrm hw status`` (only the facts whose files exist)."""
    j = jetson.jetson_status(fs, clusters, gpu)
    lines = []
    if j["model"]:
        lines.append(f"board: {j['model']}" + (f" (L4T {j['l4t']})" if j["l4t"] else ""))
    if j["nvpmodel"] is not None:
        m = j["nvpmodel"]
        lines.append(f"nvpmodel: mode {m['id']}" + (f" ({m['name']})" if m["name"] else ""))
    if j["jetson_clocks"] is not None:
        lines.append(f"jetson_clocks: {'active (CPU and GPU held at their top frequency)' if j['jetson_clocks'] else 'not active'}")
    if j["gpu_load_pct"] is not None:
        lines.append(f"GPU load: {j['gpu_load_pct']:.1f} %")
    if j["emc_hz"] is not None:
        lines.append(f"EMC: {j['emc_hz'] / 1e6:.0f} MHz")
    return lines
