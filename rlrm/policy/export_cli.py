"""``rlrm export``: a training run's actor -> a NumPy checkpoint (weights + policy.json).

Apart from ``rlrm policy info`` (:mod:`rlrm.policy.cli`) because it reads training runs, which
the board runtime never does."""

from __future__ import annotations

import argparse

from rlrm.policy.export import export_run


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``export`` subcommand."""
    p = sub.add_parser("export", help="export a training run's actor to a NumPy checkpoint (weights + policy.json)")
    p.add_argument("run", metavar="RUN", help="training run folder (model.zip, env.json, obs_norm.npz)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="checkpoint folder, e.g. checkpoints/NAME")
    p.add_argument("--format", dest="weights_format", choices=("safetensors", "npz"), default="safetensors",
                   help="weights file format (default: safetensors)")
    p.add_argument("--force", action="store_true", help="overwrite an existing checkpoint folder")
    p.add_argument("--wide", action="store_true", help="long lines in full")
    p.add_argument("--trust-pickle", action="store_true", help="load model.zip with stable-baselines3's pickle-based "
                   "loader (runs code stored in the file: only for a file you trust)")
    p.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Run ``rlrm export``."""
    policy = export_run(args.run, args.output, weights_format=args.weights_format, force=args.force,
                        trust_pickle=args.trust_pickle)
    print(f"exported {args.run} -> {policy.path}/{policy.weights_file} + policy.json")
    print(policy.summary(wide=args.wide))
    return 0
