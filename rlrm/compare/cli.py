"""``rlrm compare``: several policies on identical seeded episodes, TensorBoard runs, a
summary table and figures."""

from __future__ import annotations

import argparse
from pathlib import Path

from rlrm.cli_args import seed as seed_type
from rlrm.compare.report import summary_table, write_report
from rlrm.compare.runner import parse_policies, run_compare
from rlrm.errors import InputError
from rlrm.live.board import LiveConfig
from rlrm.live.inference import parse_duration
from rlrm.live.restore import report_unrestored


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``compare`` subcommand.

    :param sub: the top-level subparsers
    """
    p = sub.add_parser("compare", help="compare policies on the same seeds: TensorBoard runs, summary table, figures")
    p.add_argument("--platform", default="jetson-xavier-nx", help="board profile: name or TOML path")
    p.add_argument("--scenario", default="steady", help="scenario: name or TOML path")
    p.add_argument("--policies", required=True,
                   help="comma-separated: ppo:CHECKPOINT, schedutil, schedutil+dofa, ondemand, conservative, "
                        "performance, powersave, oracle, oracle-greedy, random, lut, static-best, fixed:subnet=L,unit=U,freq=F")
    p.add_argument("--seeds", type=int, default=5, help="episodes per policy, seeds SEED..SEED+N-1")
    p.add_argument("--seed", type=seed_type, default=0, help="first seed")
    p.add_argument("--episode-steps", type=int, default=None, help="override the scenario's episode length")
    p.add_argument("--logdir", required=True, help="one TensorBoard run per policy, summary.* and figures go here")
    p.add_argument("--backend", default="sim", choices=("sim", "live"),
                   help="sim (default) or live: this machine, real inferences and background load (no oracle)")
    p.add_argument("--model", default="demo", help="live: demo, ofa:PATH or a model directory")
    p.add_argument("--input", default="synthetic", help="live: synthetic or a directory of images")
    p.add_argument("--period", default=None, help="control period (default: the scenario's), e.g. 0.5 or 200ms")
    p.add_argument("--sysfs-root", default=None, help="live: sysfs root (default $RLRM_SYSFS_ROOT or /)")
    p.add_argument("--overwrite", action="store_true", help="replace the event files of earlier runs in LOGDIR")
    p.add_argument("--no-oracle", action="store_true",
                   help="if oracle / random are not among the policies, do not run them (normalized_score nan)")
    p.add_argument("--no-static", action="store_true",
                   help="do not measure the static operating points (Pareto marking and energy_vs_matched "
                        "against the policies only)")
    p.add_argument("--wide", action="store_true", help="every metric as a column, however wide the table")
    p.add_argument("--json", action="store_true", help="print the summary as JSON (summary.json) instead of the table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``rlrm compare``.

    :param args: the parsed arguments
    """
    live = LiveConfig(model=args.model, inputs=args.input, sysfs_root=args.sysfs_root) if args.backend == "live" else None
    period = parse_duration(args.period, "--period") if args.period is not None else None
    if args.episode_steps is not None and args.episode_steps < 1:
        raise InputError("--episode-steps", "episode_steps", "must be >= 1")
    specs = parse_policies(args.policies)
    result = run_compare(specs, args.platform, args.scenario, args.seeds, args.seed, args.logdir,
                         episode_steps=args.episode_steps, overwrite=args.overwrite, oracle=not args.no_oracle,
                         backend=args.backend, live=live, period_s=period,
                         static_frontier=not args.no_static, progress=True)
    written = write_report(result, args.logdir)
    if args.json:
        print(Path(args.logdir, "summary.json").read_text())
        return report_unrestored(result.get("restore_problems", []), result.get("statefile"))
    print(f"{result['platform']} / {result['scenario']}: {result['seeds']} episodes per policy from seed "
          f"{result['seed']}, {result['episode_steps']} steps each")
    print(summary_table(result, wide=args.wide))
    print("wrote " + ", ".join(p.name for p in written) + " to")
    print(f"  {args.logdir}")
    print(f"TensorBoard: tensorboard --logdir {args.logdir}   (non-finite values logged as -1)")
    return report_unrestored(result.get("restore_problems", []), result.get("statefile"))
