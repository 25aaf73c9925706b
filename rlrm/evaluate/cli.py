"""``rlrm evaluate``: run a policy on seeded episodes, print a table and write JSON."""

from __future__ import annotations

import argparse
import json
import math

from rlrm.cli_args import positive_int, seed as seed_type
from rlrm.evaluate.episodes import evaluate, format_table
from rlrm.jsonable import jsonable


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand."""
    p = sub.add_parser("evaluate", help="evaluate a policy (governor, baseline, oracle or checkpoint) on the simulator")
    p.add_argument("--policy", required=True,
                   help="schedutil, schedutil+dofa, schedutil@L (subnetwork pinned at level L), performance, "
                        "powersave, ondemand, conservative (each also +dofa and @L), oracle, oracle-greedy, random, lut, "
                        "static-best, "
                        "fixed:subnet=L,unit=U,freq=F, or a checkpoint path")
    p.add_argument("--platform", default="jetson-xavier-nx", help="board profile: name or TOML path")
    p.add_argument("--scenario", default="steady", help="scenario: name or TOML path")
    p.add_argument("--episodes", type=positive_int, default=5, help="seeded episodes to run")
    p.add_argument("--seed", type=seed_type, default=0, help="first episode seed: episodes use SEED, SEED+1, ...")
    p.add_argument("--episode-steps", type=int, default=None, help="override the scenario's episode length")
    p.add_argument("--no-oracle", action="store_true", help="skip the oracle and random runs (normalized_score = nan)")
    p.add_argument("--json", default=None, metavar="FILE",
                   help="write the results as JSON to FILE ('-': print them instead of the table)")
    p.add_argument("--wide", action="store_true", help="every metric as a column, however wide the table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``rlrm evaluate``."""
    env_kwargs = {"episode_steps": args.episode_steps} if args.episode_steps else {}
    result = evaluate(args.policy, args.platform, args.scenario, args.episodes, args.seed,
                      env_kwargs=env_kwargs, oracle=not args.no_oracle, progress=True)
    if args.json == "-":
        print(json.dumps(jsonable(result), indent=1))
        return 0
    print(f"{result['platform']} / {result['scenario']}: {result['episodes']} episodes from seed {result['seed']}")
    print(format_table([result], wide=args.wide))
    if "choice" in result:
        print(f"chosen on tuning seeds: {_describe_choice(result['choice'])}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(jsonable(result), fh, indent=1)
    return 0


def _describe_choice(choice: dict) -> str:
    if "point" in choice:
        return f"{choice['point']} (mean reward {choice.get('reward', math.nan):.4f})"
    return f"margin {choice.get('margin')}"


