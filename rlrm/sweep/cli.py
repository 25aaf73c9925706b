"""``rlrm sweep``: many training runs on Ray Tune (a local Ray by default, or a cluster)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rlrm.cli_args import seed as seed_type
from rlrm.env import ENV_ID
from rlrm.errors import InputError
from rlrm.paths import AGENTS_DIR
from rlrm.policy.export import export_run
from rlrm.sweep.runner import best_row, make_settings, run_sweep
from rlrm.sweep.space import load_search
from rlrm.train.config import load_config


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="a training sweep on Ray Tune (boards x scenarios x seeds x hyperparameters)",
                       description="Train many runs as Ray Tune trials (pip install \"rlrm[sweep]\"), then write "
                                   "DIR/summary.md and DIR/summary.json.")
    p.add_argument("--platform", default="jetson-xavier-nx", help="board profile(s): P or P1,P2 (a grid)")
    p.add_argument("--scenario", default="mix", help="a scenario name/path, or mix (the config's train_scenarios)")
    p.add_argument("--eval-scenario", default=None, metavar="S[,S2]", help="held-out evaluation scenarios")
    p.add_argument("--config", default="ppo", help="agent config the hyperparameters start from")
    p.add_argument("--search", default=str(AGENTS_DIR / "sweep.yaml"), help="search space YAML (agents/sweep.yaml)")
    p.add_argument("--num-samples", type=int, default=1, help="samples of the search space (times its grids)")
    p.add_argument("--timesteps", type=int, default=None, help="environment steps per trial (default: the config's)")
    p.add_argument("--logdir", default=None, metavar="DIR", help="the sweep folder (required unless --resume)")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray (default: all)")
    p.add_argument("--address", default=None, help="a running Ray cluster (ray start --head), e.g. HOST:6379 or auto")
    p.add_argument("--scheduler", choices=("asha", "fifo"), default="fifo",
                   help="asha stops poor trials early; fifo runs every trial to the end")
    p.add_argument("--seed", type=seed_type, default=0, help="random state of the search (the samples drawn)")
    p.add_argument("--export", default=None, metavar="checkpoints/NAME",
                   help="export the best finished trial there (as rlrm export)")
    p.add_argument("--resume", default=None, metavar="DIR", help="continue an interrupted sweep (Tune's restore)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import ray.tune  # noqa: F401
    except ImportError:
        raise InputError("rlrm sweep", "ray", 'Ray Tune is not installed: pip install "rlrm[sweep]"') from None
    if args.resume:
        root = args.resume
        rows = run_sweep(root, resume=True, num_cpus=args.num_cpus, address=args.address)
    else:
        if not args.logdir:
            raise InputError("rlrm sweep", "--logdir", "required (the sweep folder), or --resume DIR")
        root = args.logdir
        platforms = [p for p in args.platform.split(",") if p]
        cfg = load_config(args.config, ENV_ID)
        held_out = [s for s in args.eval_scenario.split(",") if s] if args.eval_scenario else None
        settings = make_settings(platforms, args.scenario, args.config, load_search(Path(args.search)),
                                 args.num_samples, args.timesteps or cfg["n_timesteps"], args.scheduler, held_out,
                                 args.seed)
        rows = run_sweep(root, settings, num_cpus=args.num_cpus, address=args.address)
    root = Path(root)
    finished = sum(r["status"] == "finished" for r in rows)
    print(f"{len(rows)} trials, {finished} finished: {root / 'summary.md'}, {root / 'summary.json'}")
    unfinished = [r for r in rows if r["status"] == "interrupted"]
    if unfinished:
        print(f"interrupted: continue with rlrm sweep --resume {root}")
        return 1
    failed = [r for r in rows if r["status"] == "error"]
    for r in failed:
        print(f"trial {r['trial']} failed: {r['error']}")
    best = best_row(rows)
    if best is not None:
        print(f"best: {best['trial']} final reward {best['final_reward']:.4f} ({best['run_dir']})")
    if args.export:
        if best is None:
            raise InputError(root / "summary.json", "trials", "no finished trial to export")
        policy = export_run(best["run_dir"], args.export)
        print(f"exported {best['run_dir']} -> {policy.path}/{policy.weights_file} + policy.json")
    return 1 if failed else 0
