"""The ``rlrm`` command line.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``; the parser it
adds sets ``func`` to a callable taking the parsed arguments and returning an exit code.
Bad input (:class:`rlrm.errors.InputError`) is printed as one line, exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

from rlrm import __version__
from rlrm.cli_args import Parser
from rlrm.errors import InputError
from rlrm.extras import missing_extra_message

#: Modules that contribute subcommands, in the order ``rlrm --help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "rlrm.platform.cli",
    "rlrm.sim.cli",
    "rlrm.evaluate.cli",
    "rlrm.compare.cli",
    "rlrm.train.cli",
    "rlrm.sweep.cli",
    "rlrm.policy.cli",
    "rlrm.hw.cli",
    "rlrm.dnn.cli",
    "rlrm.live.cli",
    "rlrm.catalog",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available subcommand."""
    parser = Parser(prog="rlrm", description="rlrm: a runtime resource manager for dynamic DNNs on CPU-GPU boards")
    parser.add_argument("--version", action="version", version=f"rlrm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.add_parser(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``rlrm`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except InputError as err:
        print(f"rlrm: error: {err}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as err:  # an optional dependency: say which extra installs it
        message = missing_extra_message(err.name, args.command)
        if message is None:
            raise
        print(f"rlrm: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `rlrm platforms | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("rlrm: interrupted", file=sys.stderr)
        return 130
