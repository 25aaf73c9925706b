"""Progress bars (issue 17, item 3): drawn on a terminal's stderr, never into pipes or logs."""

from __future__ import annotations

import io

import pytest

from rlrm.cli import main
from rlrm.env.dynamic_dnn import DynamicDNNEnv
from rlrm.agents.registry import make_policy
from rlrm.rollout import rollout
from rlrm.rollout.progress import ProgressCallback, progress_enabled


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not progress_enabled(io.StringIO())
    assert progress_enabled(_Tty())
    monkeypatch.setenv("RLRM_NO_PROGRESS", "1")
    assert not progress_enabled(_Tty())


def test_bar_counts_every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    err = _Tty()
    monkeypatch.setattr("sys.stderr", err)
    env = DynamicDNNEnv(platform="jetson-xavier-nx", scenario="steady", episode_steps=7)
    bar = ProgressCallback("schedutil", episodes=2, enabled=True)
    seen = {}
    orig = ProgressCallback.on_rollout_end

    def end(self: ProgressCallback, summary: dict) -> None:
        seen["n"], seen["total"] = self.bar.n, self.bar.total
        orig(self, summary)

    monkeypatch.setattr(ProgressCallback, "on_rollout_end", end)
    rollout(make_policy("schedutil"), env, 2, 0, callbacks=[bar])
    assert seen == {"n": 14, "total": 14}
    assert "schedutil" in err.getvalue()


def test_evaluate_into_a_pipe_prints_no_bar(capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", "--policy", "schedutil", "--episodes", "1", "--episode-steps", "5"]) == 0
    err = capsys.readouterr().err
    assert "step/s" not in err and "%|" not in err
