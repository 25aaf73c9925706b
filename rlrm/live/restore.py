"""What closing the live backend could not put back on the board, and the one line that says so."""

from __future__ import annotations

import sys
from typing import Optional

from rlrm.env.dynamic_dnn import DynamicDNNEnv
from rlrm.live.board import LiveBoard


def take_restore_problems(env: DynamicDNNEnv) -> list[tuple[str, str]]:
    """``(problem, state file kept)`` for every setting the kernel refused to restore when a live
    environment was closed (reported once: the board's list is emptied); [] in simulation."""
    board = env.sim
    if not isinstance(board, LiveBoard):
        return []
    out = [(p, str(board.kept_statefile)) for p in board.restore_problems]
    board.restore_problems.clear()
    return out


def report_unrestored(problems: list[str], statefile: Optional[str]) -> int:
    """1, with one line on stderr, when the board could not be put back as it was; else 0."""
    if not problems:
        return 0
    print(f"rlrm: the board is NOT fully restored: {len(problems)} setting(s) refused (first: {problems[0]}); "
          f"the original values are in {statefile}: run `rlrm restore {statefile}`", file=sys.stderr)
    return 1
