"""A progress bar for rollouts (:class:`ProgressCallback`), on stderr and only when stderr is a
terminal, so piped output and logs stay clean."""

from __future__ import annotations

import sys
from typing import Any, Optional, TextIO

from rlrm.rollout.loop import Callback, StepRecord


def progress_enabled(stream: Optional[TextIO] = None) -> bool:
    """Whether progress should be drawn on ``stream`` (stderr by default): a terminal, and
    ``$RLRM_NO_PROGRESS`` unset."""
    import os

    stream = sys.stderr if stream is None else stream
    if os.environ.get("RLRM_NO_PROGRESS"):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class ProgressCallback(Callback):
    """One ``tqdm`` bar over every step of a rollout of ``episodes`` episodes.

    :param desc: the bar's label (e.g. the policy's name)
    :param episodes: episodes the rollout runs (the bar's total is episodes x episode length)
    :param enabled: draw the bar (default: :func:`progress_enabled`)
    """

    def __init__(self, desc: str, episodes: int, enabled: Optional[bool] = None) -> None:
        self.desc = desc
        self.episodes = episodes
        self.enabled = progress_enabled() if enabled is None else enabled
        self.bar: Any = None

    def on_rollout_start(self, env: Any, policy: Any) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        total = self.episodes * int(getattr(env, "episode_steps", 0) or 0) or None
        self.bar = tqdm(total=total, desc=self.desc, unit="step", file=sys.stderr, leave=False, dynamic_ncols=True)

    def on_step(self, record: StepRecord) -> bool:
        if self.bar is not None:
            self.bar.update(1)
        return True

    def on_rollout_end(self, summary: dict) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
