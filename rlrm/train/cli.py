"""``rlrm train``: train a MaskablePPO policy on the simulator."""

from __future__ import annotations

import argparse

from rlrm.cli_args import seed as seed_type
from rlrm.train.api import train


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a PPO policy (MaskablePPO) on the simulator")
    p.add_argument("--platform", default="jetson-xavier-nx", help="board profile: name or TOML path")
    p.add_argument("--scenario", default="mix", help="a scenario name/path, or mix (the config's train_scenarios)")
    p.add_argument("--eval-scenario", default=None, metavar="S[,S2]",
                   help="held-out evaluation scenarios (default: the training scenario; with mix the config's "
                        "eval_scenarios)")
    p.add_argument("--config", default="ppo", help="agent config: name in agents/ or a YAML path")
    p.add_argument("--timesteps", type=int, default=None, help="environment steps (default: the config's n_timesteps)")
    p.add_argument("--seed", type=seed_type, default=0, help="seed of the model, the environments and the training scenarios")
    p.add_argument("--logdir", default="runs", help="folder that receives the run folder")
    p.add_argument("--name", default=None, help="run folder name (default: <platform>-<scenario>-s<seed>)")
    p.add_argument("--resume", default=None, metavar="RUN", help="continue the run in this folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--trust-pickle", action="store_true", help="--resume: load model.zip with stable-baselines3's "
                   "pickle-based loader (runs code stored in the file: only for a file you trust)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    held_out = [s for s in args.eval_scenario.split(",") if s] if args.eval_scenario else None
    result = train(platform=args.platform, scenario=args.scenario, config=args.config, timesteps=args.timesteps,
                   seed=args.seed, logdir=args.logdir, run_name=args.name, resume=args.resume,
                   eval_scenarios=held_out, progress_bar=not args.no_progress,
                   trust_pickle=args.trust_pickle)
    run_dir = result.run_dir
    if result.curve:
        print(f"evaluated on {result.evaluated_on} scenarios ({', '.join(result.eval_scenarios)}): final reward "
              f"{result.final_reward:.4f}, best {result.best_reward:.4f}")
    print(f"run saved in {run_dir} (tensorboard --logdir {run_dir / 'tb'})")
    return 0
