"""``rlrm export`` (training run -> checkpoint) and ``rlrm policy info`` (describe a checkpoint)."""

from __future__ import annotations

import argparse
import json

from rlrm.policy import load
from rlrm.policy.export import export_run
from rlrm.validate import read_json


def add_parser(sub: argparse._SubParsersAction) -> None:
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

    q = sub.add_parser("policy", help="inspect exported policy checkpoints")
    qs = q.add_subparsers(dest="policy_command", metavar="ACTION")
    info = qs.add_parser("info", help="validate a checkpoint and print its sidecar summary")
    info.add_argument("path", metavar="PATH", help="checkpoint folder, its policy.json or its weights file")
    info.add_argument("--platform", default=None, help="also refuse a checkpoint for another board")
    info.add_argument("--json", action="store_true", help="print the whole sidecar as JSON")
    info.add_argument("--wide", action="store_true", help="long lines in full (environment kwargs, source path)")
    info.set_defaults(func=run_info)
    q.set_defaults(func=lambda args: (q.print_help(), 2)[1])


def run_export(args: argparse.Namespace) -> int:
    policy = export_run(args.run, args.output, weights_format=args.weights_format, force=args.force,
                        trust_pickle=args.trust_pickle)
    print(f"exported {args.run} -> {policy.path}/{policy.weights_file} + policy.json")
    print(policy.summary(wide=args.wide))
    return 0


def run_info(args: argparse.Namespace) -> int:
    policy = load(args.path, expected_platform=args.platform)
    if args.json:
        print(json.dumps(read_json(policy.sidecar_path), indent=1))
    else:
        print(policy.summary(wide=args.wide))
    return 0
