"""``rlrm policy info`` (describe a checkpoint): board runtime, NumPy only."""

from __future__ import annotations

import argparse
import json

from rlrm.policy import load
from rlrm.validate import read_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``policy`` subcommand."""
    q = sub.add_parser("policy", help="inspect exported policy checkpoints")
    qs = q.add_subparsers(dest="policy_command", metavar="ACTION")
    info = qs.add_parser("info", help="validate a checkpoint and print its sidecar summary")
    info.add_argument("path", metavar="PATH", help="checkpoint folder, its policy.json or its weights file")
    info.add_argument("--platform", default=None, help="also refuse a checkpoint for another board")
    info.add_argument("--json", action="store_true", help="print the whole sidecar as JSON")
    info.add_argument("--wide", action="store_true", help="long lines in full (environment kwargs, source path)")
    info.set_defaults(func=run_info)
    q.set_defaults(func=lambda args: (q.print_help(), 2)[1])


def run_info(args: argparse.Namespace) -> int:
    policy = load(args.path, expected_platform=args.platform)
    if args.json:
        print(json.dumps(read_json(policy.sidecar_path), indent=1))
    else:
        print(policy.summary(wide=args.wide))
    return 0
