"""CPU cost of the power sampler: run it on a fake Jetson Xavier NX tree (three INA3221
rails read from files, as on the board) for a while and print the share of one core it used.

    python experiments/bench_sampler.py [--seconds 10] [--rate 125] [--rails VDD_IN]

Prints ``sampler_cpu_overhead_pct: X`` (thread CPU time / wall time, % of one core) and
``sampler_rate_hz: Y`` (samples actually taken per second). A timing: on a shared machine
the figure varies with the load of other processes.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from rlrm.hw import power
from rlrm.hw.fake import make_fake_xavier_nx
from rlrm.hw.sampler import PowerSampler
from rlrm.hw.sysfs import Sysfs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=125.0)
    ap.add_argument("--rails", default=None, help="comma-separated rails to sample (default: all three)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = make_fake_xavier_nx(tmp)
        readers = power.auto_discover(Sysfs(root))
        sampler = PowerSampler.from_readers(readers, rails=args.rails.split(",") if args.rails else None,
                                             rate_hz=args.rate)
        idle_start = time.process_time()
        time.sleep(min(1.0, args.seconds / 10))  # this process's own idle cost
        idle = (time.process_time() - idle_start) / max(1e-9, min(1.0, args.seconds / 10))
        cpu0, wall0 = time.process_time(), time.perf_counter()
        with sampler:
            time.sleep(args.seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        period = sampler.take()
    pct = max(0.0, cpu / wall - idle) * 100.0
    print(f"rails: {', '.join(period.rails)}; samples per rail: {period.samples}; largest gap: "
          f"{period.max_gap_s * 1e3:.1f} ms")
    print(f"sampler_rate_hz: {sampler.reads / wall:.1f}")
    print(f"sampler_cpu_overhead_pct: {pct:.2f}")


if __name__ == "__main__":
    main()
