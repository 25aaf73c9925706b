"""Re-derive the fitted power-model numbers of the shipped board profiles.

Run: ``python experiments/fit_power_models.py``. It prints each fitted value next to the
value in the profile and the residuals against the measured points, so a reader can check
the profiles' comments. Sources: ../shared/reference/platforms.md.
"""

from __future__ import annotations

import numpy as np

from rlrm.platform import load_platform


def xavier() -> None:
    p = load_platform("jetson-xavier-nx")
    cpu, gpu = p.unit("carmel"), p.unit("gpu")
    # GPU: 6.0 W dynamic at f_max, full activity (estimated share of the 15 W budget)
    vg = gpu.volts_mv[-1] / 1000
    ceff_gpu = 6.0 / (vg * vg * gpu.f_max_khz / 1e6)
    # CPU: 15W_6CORE at full CPU+GPU load = 15 W
    mode = p.power_mode("15W_6CORE")
    i = cpu.freqs_khz.index(mode.freq_cap_khz(cpu))
    v = cpu.volts_mv[i] / 1000
    v_max = max(cpu.volts_mv) / 1000
    rest = p.base_power_w + cpu.power.static_w * v / v_max + gpu.power.static_w + 6.0
    ceff_cpu = (15.0 - rest) / (6 * v * v * cpu.freqs_khz[i] / 1e6)
    print(f"xavier gpu ceff fitted {ceff_gpu:.3f} (profile {gpu.power.ceff})")
    print(f"xavier carmel ceff fitted {ceff_cpu:.3f} (profile {cpu.power.ceff})")
    for name in ("15W_6CORE", "10W_4CORE", "10W_DESKTOP", "20W_2CORE"):
        m = p.power_mode(name)
        ci = cpu.freqs_khz.index(m.freq_cap_khz(cpu))
        gi = gpu.freqs_khz.index(m.freq_cap_khz(gpu))
        n = m.cores_online(cpu)
        full = p.base_power_w + cpu.power_w(ci, n, 1.0, n) + gpu.power_w(gi, 1.0, 1.0)
        print(f"xavier {name}: full load {full:.2f} W (budget {m.budget_w} W)")


def odroid() -> None:
    p = load_platform("odroid-xu3")
    a15, a7 = p.unit("a15"), p.unit("a7")
    # HC2 wall power above idle (3.9 W), A15 cores only, 4 busy: 4.0 W at 1.4 GHz, 8.7 W at 2.0 GHz
    pts = [(1400000, 7.9 - 3.9), (2000000, 12.6 - 3.9)]
    v_max = max(a15.volts_mv) / 1000
    v_idle = a15.volts_mv[0] / 1000
    xs, ys = [], []
    for khz, watts in pts:
        i = a15.freq_index(khz)
        v = a15.volts_mv[i] / 1000
        xs.append(4 * v * v * khz / 1e6)
        ys.append(watts - a15.power.static_w * (v - v_idle) / v_max)
    xs, ys = np.array(xs), np.array(ys)
    ceff = float(xs @ ys / (xs @ xs))
    print(f"odroid a15 ceff least-squares {ceff:.3f} (profile {a15.power.ceff}); "
          f"residuals W {np.round(ceff * xs - ys, 2).tolist()}")
    # A7: all 8 cores at 1.4 GHz (8.5 W) minus A15 only at 1.4 GHz (7.9 W) = 0.6 W
    i = a7.freq_index(1400000)
    v = a7.volts_mv[i] / 1000
    dv = a7.power.static_w * (v - a7.volts_mv[0] / 1000) / (max(a7.volts_mv) / 1000)
    ceff7 = (0.6 - dv) / (4 * v * v * 1.4)
    print(f"odroid a7 ceff {ceff7:.4f} (profile {a7.power.ceff})")
    idle = sum(u.power_w(0, 0.0, 1.0) for u in p.units.values())
    print(f"odroid units' idle power {idle:.3f} W -> base {3.9 - idle:.2f} W (profile {p.base_power_w})")
    for label, f15, f7, measured in (("8 cores 0.5 GHz", 500000, 500000, 5.5), ("8 cores 2.0/1.4 GHz", 2000000, 1400000, 13.2),
                                     ("8 cores 1.4 GHz", 1400000, 1400000, 8.5)):
        total = p.base_power_w + a15.power_w(a15.freq_index(f15), 4, 1.0) + a7.power_w(a7.freq_index(f7), 4, 1.0) \
            + p.unit("gpu").power_w(0, 0.0, 1.0)
        print(f"odroid {label}: model {total:.2f} W, measured {measured} W")


if __name__ == "__main__":
    xavier()
    odroid()
