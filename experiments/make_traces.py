"""Derive the shipped workload traces (``envs/traces/<board>/dynamic-ofa-6.json``).

Run: ``python experiments/make_traces.py`` (rewrites the files; prints the calibration).

Jetson Xavier NX (kind ``derived``): from the once-for-all latency look-up tables measured on
the board (``../shared/reference/ofa_latency_lut``), calibrated against the six measured
end-to-end GPU latencies of the Dynamic-OFA library (``dynamic_ofa_subnets.json``):

* GPU: ``latency = a * LUT_sum + b`` fitted by least squares over the six measured points
  (the end-to-end figure includes pre-processing, Python and synchronisation, which the
  per-operator table does not). The CPU-side overhead ``b`` does not scale with the GPU
  clock; of the kernel time ``a * LUT_sum`` an assumed 80 % is compute-bound (scales with
  ``f_max / f``), 20 % memory-bound (EMC clock fixed). Activity: 0.9 x the subnet's achieved
  MAC rate (MFLOPs / LUT sum) relative to the best level's, since small subnets leave the
  GPU under-occupied.
* CPU: the table sum is taken as the latency with 6 cores at 1420.8 MHz (nvpmodel's default
  15W_6CORE mode); an assumed compute-bound share of 0.85 moves it to f_max, and an assumed
  parallel share p = 0.8 (Amdahl) gives 1..6 cores. Activity 1.0: a busy core's power does
  not depend on the subnetwork (the seeds' poster observation).
* Spread: log-normal sigma = sqrt((table std / table sum)^2 + 0.03^2), an assumed 3 %
  end-to-end jitter on top of the tables' per-operator spread.

Odroid XU3 (kind ``estimated``; no measurements of these subnetworks on the board exist in
the references): per-core CPU latency scaled from the Xavier NX CPU figures by an estimated
per-clock performance ratio (Carmel 1.8x Cortex-A15, an assumption; Cortex-A7 / A15 = 1.9 /
3.5 from Arm's published DMIPS/MHz) and the clock ratio; GPU (Mali-T628 MP6, about 110
GFLOPS fp32 vs Volta's 845) as 8x the Xavier kernel time plus the CPU-side overhead on an
A15 (2x Carmel's).
"""

from __future__ import annotations

import datetime
import json
import math

import numpy as np

from rlrm.dnn.lut import LUT_ARCH, SubnetShape, load_table, operator_keys
from rlrm.paths import PROJECT_ROOT, TRACES_DIR
from rlrm.platform import load_platform
from rlrm.sim.trace import Z90, Trace, TraceEntry, SubnetInfo, save_trace

REFERENCE = PROJECT_ROOT.parent / "shared" / "reference"
LIBRARY = "dynamic-ofa-6"
CPU_TABLE_FREQ_KHZ = 1420800  # 15W_6CORE cap: the board's default mode
GPU_COMPUTE_SHARE = 0.8
CPU_COMPUTE_SHARE = 0.85
PARALLEL_SHARE = 0.8
JITTER = 0.03
CARMEL_PER_CLOCK_VS_A15 = 1.8
A7_PER_CLOCK_VS_A15 = 1.9 / 3.5
MALI_VS_VOLTA_KERNEL = 8.0
A15_VS_CARMEL_OVERHEAD = 2.0


def table_sum(kind: str, level: dict) -> tuple[float, float]:
    """Mean sum and combined std (ms) of a level's operators in the Xavier NX table."""
    shape = SubnetShape.from_any(level)
    table = load_table(REFERENCE / "ofa_latency_lut" / f"jetson_xavier_nx_{kind}" / f"{shape.resolution}.json")
    keys = operator_keys(shape, LUT_ARCH)
    mean = sum(table[k]["mean"] for k in keys)
    std = math.sqrt(sum(table[k]["std"] ** 2 for k in keys))
    return mean, std


def amdahl(n: int, p: float = PARALLEL_SHARE) -> float:
    return (1.0 - p) + p / n


def p90(latency: float, sigma: float) -> float:
    return latency * math.exp(Z90 * sigma)


def main() -> None:
    levels = json.loads((REFERENCE / "dynamic_ofa_subnets.json").read_text())["libraries"]["six_levels"]
    subnets = tuple(SubnetInfo(l["level"], l["top1"], l["mflops"], l["mparams"], l["resolution"]) for l in levels)
    gpu = [table_sum("gpu", l) for l in levels]
    cpu = [table_sum("cpu", l) for l in levels]
    measured = np.array([l["latency_ms"] for l in levels])
    g_sum = np.array([m for m, _ in gpu])
    a, b = np.polyfit(g_sum, measured, 1)
    fitted = a * g_sum + b
    print(f"GPU calibration: latency = {a:.4f} * LUT_sum + {b:.3f} ms; "
          f"errors vs measured: {np.round(100 * (fitted / measured - 1), 2).tolist()} %")
    mac_rate = np.array([l["mflops"] for l in levels]) / g_sum
    gpu_activity = 0.9 * mac_rate / mac_rate.max()
    today = datetime.date.today().isoformat()

    xavier = load_platform("jetson-xavier-nx")
    carmel = xavier.unit("carmel")
    cpu_to_fmax = CPU_COMPUTE_SHARE * CPU_TABLE_FREQ_KHZ / carmel.f_max_khz + (1 - CPU_COMPUTE_SHARE)
    entries: dict = {}
    carmel_1core = []
    for s, l in enumerate(levels):
        lat = float(fitted[s])
        sig = math.hypot(a * gpu[s][1] / (a * gpu[s][0]), JITTER)
        cf = GPU_COMPUTE_SHARE * a * gpu[s][0] / lat
        entries[(s, "gpu", 0)] = TraceEntry(s, "gpu", 0, round(lat, 3), round(p90(lat, sig), 3), round(cf, 4),
                                            round(float(gpu_activity[s]), 4))
        l6 = cpu[s][0] * cpu_to_fmax
        sig_c = math.hypot(cpu[s][1] / cpu[s][0], JITTER)
        carmel_1core.append((l6 / amdahl(6), sig_c))
        for n in range(1, carmel.cores + 1):
            lat_n = l6 * amdahl(n) / amdahl(6)
            entries[(s, "carmel", n)] = TraceEntry(s, "carmel", n, round(lat_n, 3), round(p90(lat_n, sig_c), 3),
                                                   CPU_COMPUTE_SHARE, 1.0)
    src = ["../shared/reference/ofa_latency_lut/jetson_xavier_nx_{cpu,gpu} (UoS-EEC/DynamicOFA)",
           "../shared/reference/dynamic_ofa_subnets.json six_levels (measured latency_ms, top1, mflops, mparams)",
           "experiments/make_traces.py"]
    trace = Trace(xavier.name, LIBRARY, {
        "kind": "derived",
        "method": (f"GPU: latency = {a:.4f} x LUT sum + {b:.3f} ms, least squares over the 6 measured points "
                   f"(max error {np.abs(fitted / measured - 1).max() * 100:.1f} %); compute_fraction = "
                   f"{GPU_COMPUTE_SHARE} of the kernel share; activity from achieved MAC rate. CPU: LUT sum taken "
                   f"at 6 cores / {CPU_TABLE_FREQ_KHZ} kHz, compute share {CPU_COMPUTE_SHARE}, Amdahl p = "
                   f"{PARALLEL_SHARE} for 1..6 cores, activity 1.0. Spread: LUT std plus {JITTER:.0%} jitter. "
                   "Assumptions marked in experiments/make_traces.py."),
        "sources": src, "created": today}, subnets, entries)
    out = save_trace(trace, TRACES_DIR / xavier.name / f"{LIBRARY}.json")
    print(f"wrote {out}")

    odroid = load_platform("odroid-xu3")
    entries = {}
    for s, l in enumerate(levels):
        one_core_carmel, sig_c = carmel_1core[s]
        for unit_name, per_clock in (("a15", 1.0), ("a7", A7_PER_CLOCK_VS_A15)):
            unit = odroid.unit(unit_name)
            speed = per_clock * (unit.f_max_khz / carmel.f_max_khz) / CARMEL_PER_CLOCK_VS_A15
            one = one_core_carmel / speed
            for n in range(1, unit.cores + 1):
                lat_n = one * amdahl(n)
                entries[(s, unit_name, n)] = TraceEntry(s, unit_name, n, round(lat_n, 3), round(p90(lat_n, sig_c), 3),
                                                        CPU_COMPUTE_SHARE, 1.0)
        kernel = MALI_VS_VOLTA_KERNEL * a * gpu[s][0]
        lat = kernel + A15_VS_CARMEL_OVERHEAD * b
        sig = math.hypot(gpu[s][1] / gpu[s][0], JITTER)
        entries[(s, "gpu", 0)] = TraceEntry(s, "gpu", 0, round(lat, 3), round(p90(lat, sig), 3),
                                            round(GPU_COMPUTE_SHARE * kernel / lat, 4), round(float(gpu_activity[s]), 4))
    trace = Trace(odroid.name, LIBRARY, {
        "kind": "estimated",
        "method": (f"Estimated, not measured. CPU: the Xavier NX trace's one-core latency scaled by per-clock "
                   f"performance (Carmel = {CARMEL_PER_CLOCK_VS_A15}x Cortex-A15, assumed; A7/A15 = 1.9/3.5 DMIPS/MHz) "
                   f"and clock ratio, Amdahl p = {PARALLEL_SHARE}. GPU: {MALI_VS_VOLTA_KERNEL}x the Xavier kernel time "
                   f"(Mali-T628 MP6 ~110 vs Volta ~845 GFLOPS fp32) plus {A15_VS_CARMEL_OVERHEAD}x its CPU-side overhead."),
        "sources": src + ["envs/platforms/odroid-xu3.toml"], "created": today}, subnets, entries)
    out = save_trace(trace, TRACES_DIR / odroid.name / f"{LIBRARY}.json")
    print(f"wrote {out}")
    for name in (xavier.name, odroid.name):
        print(f"{name}: level latency at f_max (ms):")
        t = json.loads((TRACES_DIR / name / f"{LIBRARY}.json").read_text())
        for e in t["entries"]:
            if e["cores"] in (0, 1, 4, 6):
                print(f"  L{e['subnet']} {e['unit']:>6} x{e['cores']}: {e['latency_ms']:9.2f} p90 {e['latency_p90_ms']:9.2f} "
                      f"cf {e['compute_fraction']:.2f} act {e['activity']:.2f}")


if __name__ == "__main__":
    main()
