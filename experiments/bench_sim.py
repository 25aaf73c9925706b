"""Simulator throughput: one board, one scenario, stepping with no agent.

Run: ``python experiments/bench_sim.py [--platform P] [--scenario S] [--steps N]``.
The last line is ``sim_steps_per_s: N`` (target >= 20,000 on a 2-core CPU machine), the best of
the repeats in wall-clock time; the line before it, ``sim_steps_per_cpu_s``, counts the
process's CPU time instead, which compares code on a machine that others load too.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from rlrm.platform import load_platform
from rlrm.sim import BoardSimulator, OperatingPoint, load_scenario


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--platform", default="jetson-xavier-nx")
    ap.add_argument("--scenario", default="bursty")
    ap.add_argument("--steps", type=int, default=50_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    sim = BoardSimulator(load_platform(args.platform), load_scenario(args.scenario), seed=0)
    n_ctrl = len(sim.scenario.controlled_apps)
    rng = np.random.default_rng(0)
    # a fixed, pre-drawn sequence of valid operating points, so the agent costs nothing
    points = []
    for _ in range(1024):
        opt = int(rng.integers(len(sim.options)))
        u = sim.unit_names.index(sim.options[opt][0])
        points.append([OperatingPoint(int(rng.integers(6)), opt, int(rng.integers(sim.max_freq_index(u) + 1)))] * n_ctrl)
    rates, cpu_rates = [], []
    for _ in range(args.repeats):
        sim.reset(seed=0)
        t0, c0 = time.perf_counter(), time.process_time()
        for k in range(args.steps):
            sim.step(points[k & 1023])
        rates.append(args.steps / (time.perf_counter() - t0))
        cpu_rates.append(args.steps / (time.process_time() - c0))
    print(f"{args.platform} / {args.scenario}: {args.steps} steps x {args.repeats}, "
          f"rates {', '.join(f'{r:,.0f}' for r in rates)} steps/s")
    print(f"sim_steps_per_cpu_s: {max(cpu_rates):.0f}")
    print(f"sim_steps_per_s: {max(rates):.0f}")


if __name__ == "__main__":
    main()
