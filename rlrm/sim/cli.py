"""``rlrm simulate``: run a fixed operating point on the simulator and print a summary."""

from __future__ import annotations

import argparse
import json

from rlrm.cli_args import seed as seed_type
from rlrm.units import mhz
from rlrm.errors import InputError
from rlrm.sim.metrics import MetricsAccumulator
from rlrm.platform import load_platform
from rlrm.sim.fixed import parse_fixed
from rlrm.sim.scenario import load_scenario
from rlrm.sim.simulator import BoardSimulator


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="run a fixed operating point on the simulator and print a summary")
    p.add_argument("--platform", default="jetson-xavier-nx", help="board profile: name or TOML path")
    p.add_argument("--scenario", default="steady", help="scenario: name or TOML path")
    p.add_argument("--steps", type=int, default=None, help="control steps (default: the scenario's episode length)")
    p.add_argument("--policy", default="fixed:subnet=max,unit=gpu,freq=max",
                   help="fixed:subnet=L,unit=U,freq=F[,cores=N]; F is max, min or kHz")
    p.add_argument("--seed", type=seed_type, default=0, help="seed of the episode (background load, randomisation)")
    p.add_argument("--json", default=None, help="also write the summary as JSON to this file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.policy.startswith("fixed:"):
        raise InputError("--policy", "policy", "rlrm simulate runs fixed:... operating points; "
                                               "use rlrm evaluate for governors and trained policies")
    platform = load_platform(args.platform)
    scenario = load_scenario(args.scenario)
    sim = BoardSimulator(platform, scenario, seed=args.seed)
    point = parse_fixed(args.policy, sim)
    steps = args.steps or scenario.episode_steps
    if steps < 1:
        raise InputError("--steps", "steps", "must be >= 1")
    acc = MetricsAccumulator()
    n_ctrl = len(scenario.controlled_apps)
    for _ in range(steps):
        acc.add(sim.step([point] * n_ctrl))
    s = acc.summary()
    unit, cores = sim.options[point.option]
    freq = platform.units[unit].freqs_khz[point.freq_index]
    print(f"{platform.name} / {scenario.name}: {steps} steps of {sim.period_s} s, "
          f"subnet {point.subnet} on {unit}{f' x{cores}' if cores else ''} at {mhz(freq)} MHz, seed {args.seed}")
    rows = [
        ("inferences", f"{int(s['inferences'])}"),  # completed ones: the model counts partial inferences
        ("energy_per_inference_mj", f"{s['energy_per_inference_mj']:.2f}"),
        ("latency_mean_ms", f"{s['latency_mean_ms']:.2f}"),
        ("latency_p95_ms", f"{s['latency_p95_ms']:.2f}"),
        ("deadline_miss_rate", f"{s['deadline_miss_rate']:.4f}"),
        ("accuracy_mean", f"{s['accuracy_mean']:.3f}"),
        ("power_mean_w", f"{s['power_mean_w']:.3f}"),
        ("power_violation_rate", f"{s['power_violation_rate']:.4f}"),
    ]
    for k, v in rows:
        print(f"  {k:<26} {v}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"platform": platform.name, "scenario": scenario.name, "steps": steps, "seed": args.seed,
                       "policy": args.policy, **s}, fh, indent=1)
    return 0
