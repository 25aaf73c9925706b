"""Argument types and the help formatter every ``rlrm`` command shares."""

from __future__ import annotations

import argparse
from typing import NoReturn

#: largest seed accepted (NumPy's SeedSequence takes any non-negative int; 2**32 - 1 fits everywhere)
MAX_SEED = 2**32 - 1


def seed(text: str) -> int:
    """A seed: an integer 0 .. 2**32 - 1 (``-1`` and other negatives are refused in one line)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer 0..{MAX_SEED}, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected an integer 0..{MAX_SEED}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with every option's default, as :class:`argparse.ArgumentDefaultsHelpFormatter`,
    except where the help already states it or there is nothing to state (a flag, no default)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text.lower() or any(action.default is v for v in (None, False, argparse.SUPPRESS)) or \
                isinstance(action, (argparse._StoreTrueAction, argparse._HelpAction, argparse._VersionAction)):
            return text
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """An argument parser using :class:`HelpFormatter` unless told otherwise (subcommands'
    parsers are made with this class too)."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> "NoReturn":  # type: ignore[override]
        """One line on stderr (not the whole usage), exit code 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")
