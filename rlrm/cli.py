"""The ``rlrm`` command line.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``; the parser it
adds sets ``func`` to a callable taking the parsed arguments and returning an exit code.
Bad input (:class:`rlrm.errors.InputError`) is printed as one line, exit code 2.

Only the module of the command being run is imported (``rlrm hw``, ``restore`` and ``policy``
never import Gymnasium, torch or stable-baselines3: they are the board runtime, NumPy only, Python
3.8+). A command whose module needs a missing extra ends with one line naming the extra.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Dict, List, Optional, Sequence

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
    "rlrm.policy.export_cli",
    "rlrm.policy.cli",
    "rlrm.hw.cli",
    "rlrm.dnn.cli",
    "rlrm.live.cli",
    "rlrm.catalog",
)


#: The module adding each subcommand: ``rlrm COMMAND ...`` imports that module only.
COMMANDS: Dict[str, str] = {
    "platforms": "rlrm.platform.cli",
    "simulate": "rlrm.sim.cli",
    "evaluate": "rlrm.evaluate.cli",
    "compare": "rlrm.compare.cli",
    "train": "rlrm.train.cli",
    "sweep": "rlrm.sweep.cli",
    "export": "rlrm.policy.export_cli",
    "policy": "rlrm.policy.cli",
    "restore": "rlrm.hw.cli",
    "hw": "rlrm.hw.cli",
    "dnn": "rlrm.dnn.cli",
    "profile": "rlrm.dnn.cli",
    "run": "rlrm.live.cli",
    "policies": "rlrm.catalog",
    "scenarios": "rlrm.catalog",
}


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """Build the top-level parser.

    :param command: a known subcommand: import its module only; otherwise every module (for
        ``rlrm --help``), listing a module that cannot import here (a missing extra) as
        unavailable instead of failing
    """
    parser = Parser(prog="rlrm", description="rlrm: a runtime resource manager for dynamic DNNs on CPU-GPU boards")
    parser.add_argument("--version", action="version", version=f"rlrm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in ([COMMANDS[command]] if command in COMMANDS else COMMAND_MODULES):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if command in COMMANDS or not err.name or err.name.split(".")[0] == "rlrm":
                raise
            _add_unavailable(sub, name, err)
            continue
        module.add_parser(sub)
    return parser


def _add_unavailable(sub: argparse._SubParsersAction, module: str, err: ModuleNotFoundError) -> None:
    """List ``module``'s commands in ``rlrm --help`` although it cannot import here."""
    for command in (c for c, m in COMMANDS.items() if m == module):
        p = sub.add_parser(command, help=f"(not installed here: needs {err.name})")

        def fail(args: argparse.Namespace, err: ModuleNotFoundError = err) -> int:
            raise err

        p.set_defaults(func=fail)


def _command_in(argv: Sequence[str]) -> Optional[str]:
    """The subcommand named in ``argv`` (the first word not an option), if any."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``rlrm`` console script."""
    argv_list: List[str] = list(sys.argv[1:] if argv is None else argv)
    command = _command_in(argv_list)
    try:
        parser = build_parser(command)
    except ModuleNotFoundError as err:  # the command's module needs an extra that is not installed
        message = missing_extra_message(err.name, command)
        if message is None:
            raise
        print(f"rlrm: error: {message}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv_list)
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
