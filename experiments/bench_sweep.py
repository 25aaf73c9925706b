"""The same 4 training runs, one after the other and as an ``rlrm sweep`` on a local Ray.

Run: ``python experiments/bench_sweep.py [--timesteps N] [--num-cpus C] [--trials K]``.
The trials are seeds 0..K-1 of ``agents/ppo.yaml`` on ``--scenario`` (default ``steady``),
each ``--timesteps`` steps. Sequentially they run in this process with
:func:`rlrm.train.train`; as a sweep, with :func:`rlrm.sweep.runner.run_sweep`
(``ray.init(num_cpus=C)``, one CPU a trial). It checks the sweep reproduces each sequential
run's final reward, writes ``experiments/results/bench-sweep.json`` and prints, as its last
line, ``sweep_speedup: X`` = sequential wall time / sweep wall time (Ray's start included;
goal >= 1.6 on 2 cores). It also prints the per-trial cost both ways, from which the README
estimates a cluster's throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from rlrm.sweep.runner import make_settings, run_sweep
from rlrm.train.api import train

RESULTS = Path(__file__).resolve().parent / "results" / "bench-sweep.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--platform", default="jetson-xavier-nx")
    ap.add_argument("--scenario", default="steady")
    ap.add_argument("--config", default="ppo")
    ap.add_argument("--timesteps", type=int, default=30_000)
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--num-cpus", type=int, default=2)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rlrm-bench-sweep-"))
    seeds = list(range(args.trials))
    try:
        t0 = time.perf_counter()
        sequential, seq_cpu = {}, []
        for seed in seeds:
            cpu0 = time.process_time()
            result = train(args.platform, args.scenario, timesteps=args.timesteps, seed=seed, config=args.config,
                           logdir=work / "sequential")
            sequential[seed] = result.final_reward
            seq_cpu.append(time.process_time() - cpu0)
        seq_s = time.perf_counter() - t0

        settings = make_settings([args.platform], args.scenario, args.config, {"seed": {"grid": seeds}}, 1,
                                 args.timesteps, "fifo")
        t0 = time.perf_counter()
        rows = run_sweep(str(work / "sweep"), settings, num_cpus=args.num_cpus, verbose=0)
        sweep_s = time.perf_counter() - t0
        swept = {r["seed"]: r["final_reward"] for r in rows}
        trial_s = [r["wall_s"] for r in rows if r["wall_s"] is not None]
        trial_cpu = [r["cpu_s"] for r in rows if r["cpu_s"] is not None]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    same = all(abs((swept.get(s) or float("nan")) - sequential[s]) < 1e-9 for s in seeds)
    load = os.getloadavg()
    figures = {"trials": args.trials, "timesteps": args.timesteps, "num_cpus": args.num_cpus,
               "sequential_s": round(seq_s, 1), "sweep_s": round(sweep_s, 1),
               "sequential_per_trial_s": round(seq_s / args.trials, 1),
               "sweep_trial_wall_s_mean": round(sum(trial_s) / max(1, len(trial_s)), 1),
               "sequential_trial_cpu_s_mean": round(sum(seq_cpu) / len(seq_cpu), 1),
               "sweep_trial_cpu_s_mean": round(sum(trial_cpu) / max(1, len(trial_cpu)), 1),
               "same_final_rewards": same, "sequential_rewards": sequential, "sweep_rewards": swept,
               "loadavg_1_5_15": [round(v, 2) for v in load], "cpu_count": os.cpu_count(),
               "sweep_speedup": round(seq_s / sweep_s, 3)}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"{args.trials} trials x {args.timesteps} steps: sequential {seq_s:.1f} s "
          f"({seq_s / args.trials:.1f} s a trial), sweep on {args.num_cpus} CPUs {sweep_s:.1f} s "
          f"(a trial {figures['sweep_trial_wall_s_mean']} s inside Ray); CPU a trial: sequential "
          f"{figures['sequential_trial_cpu_s_mean']} s, in the sweep {figures['sweep_trial_cpu_s_mean']} s; "
          f"same final rewards: {same}; "
          f"load average {load[0]:.1f}")
    print(f"sweep_speedup: {seq_s / sweep_s:.2f}")


if __name__ == "__main__":
    main()
