"""``rlrm run``'s status line and graceful stop (issue 17, item 3)."""

from __future__ import annotations

import io
import os
import signal

from rlrm.agents.registry import make_policy
from rlrm.env.dynamic_dnn import DynamicDNNEnv
from rlrm.live.status import StatusLine, StopOnSignal
from rlrm.rollout import Callback, StepRecord, rollout


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_status_line_names_step_subnet_unit_mhz_deadline_power_overruns() -> None:
    env = DynamicDNNEnv(platform="jetson-xavier-nx", scenario="steady", episode_steps=3)
    out = _Tty()
    status = StatusLine(period_s=1e6, steps=3, stream=out)
    rollout(make_policy("schedutil"), env, 1, 0, callbacks=[status])
    frames = [f for f in out.getvalue().split("\r") if f.strip()]
    assert len(frames) == 3
    last = frames[-1]
    for part in ("step 3/3", "subnet ", " MHz", " ms", " W", "overruns 0"):
        assert part in last, last
    assert all(len(f.rstrip()) <= 100 for f in frames)
    assert status.overruns == 0


def test_status_line_counts_overruns_when_not_drawn() -> None:
    env = DynamicDNNEnv(platform="jetson-xavier-nx", scenario="steady", episode_steps=3)
    out = io.StringIO()
    status = StatusLine(period_s=0.0, steps=3, stream=out)  # every step overruns a zero period
    rollout(make_policy("schedutil"), env, 1, 0, callbacks=[status])
    assert out.getvalue() == "" and status.overruns == 3


class _SignalAt(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step(self, record: StepRecord) -> bool:
        if record.step == self.step:
            os.kill(os.getpid(), signal.SIGINT)
        return True


def test_first_sigint_ends_the_rollout_after_the_step_and_puts_the_handler_back() -> None:
    before = signal.getsignal(signal.SIGINT)
    env = DynamicDNNEnv(platform="jetson-xavier-nx", scenario="steady", episode_steps=50)
    stopper = StopOnSignal()
    done = rollout(make_policy("schedutil"), env, 1, 0, callbacks=[_SignalAt(2), stopper])
    assert stopper.stopped and stopper.signum == signal.SIGINT
    assert done.summary["steps"] == 3
    assert signal.getsignal(signal.SIGINT) == before
