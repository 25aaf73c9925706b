"""What ``rlrm run`` shows while it runs and how it stops: a one-line status on a terminal
(:class:`StatusLine`) and a graceful stop on the first Ctrl-C or SIGTERM (:class:`StopOnSignal`).

The board's own restore-on-signal (:class:`rlrm.hw.StateGuard`) is not changed: the first
ending signal only asks the loop to stop after the current step, so the summary and the
TensorBoard episode and hparam tags are written before the environment is closed and the board
restored; a second signal goes straight to the guard's handler (restore now, then exit).
"""

from __future__ import annotations

import signal
import sys
import time
from typing import Any, Optional, TextIO

from rlrm.rollout import Callback, StepRecord
from rlrm.rollout.progress import progress_enabled
from rlrm.units import mhz

#: a step whose wall time exceeds the period by this factor counts as an overrun
OVERRUN_FACTOR = 1.2

#: the signals a first press stops gracefully
STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM") if hasattr(signal, n))


class StatusLine(Callback):
    """One status line, redrawn every step on a terminal's stderr: elapsed time, step,
    subnetwork, unit, frequency (MHz), latency against the deadline, power and the control
    periods overrun so far. Overruns are counted whether or not the line is drawn.

    :param period_s: the control period
    :param steps: steps the run is asked for
    :param stream: where to draw (default stderr)
    :param enabled: draw the line (default: the stream is a terminal)
    """

    def __init__(self, period_s: float, steps: int, stream: Optional[TextIO] = None,
                 enabled: Optional[bool] = None) -> None:
        self.period_s = float(period_s)
        self.steps = int(steps)
        self.stream = stream
        self.enabled = progress_enabled(stream) if enabled is None else enabled
        self.overruns = 0
        self.start = 0.0
        self.last = 0.0
        self.width = 0

    def on_rollout_start(self, env: Any, policy: Any) -> None:
        self.start = self.last = time.monotonic()

    def on_episode_start(self, episode: int, seed: int) -> None:
        self.last = time.monotonic()  # the reset (model load, warm-up) is not a control period

    def on_step(self, record: StepRecord) -> bool:
        now = time.monotonic()
        if now - self.last > OVERRUN_FACTOR * self.period_s:
            self.overruns += 1
        self.last = now
        if self.enabled:
            self._draw(self.line(record, now - self.start))
        return True

    def line(self, record: StepRecord, elapsed_s: float) -> str:
        """The status text of one step."""
        result = record.result
        app = next((a for a in result.apps if a is not None and a.controlled), None)
        deadline = result.targets.latency_ms
        parts = [f"{elapsed_s:6.1f} s", f"step {record.step + 1}/{self.steps}"]
        if app is not None:
            unit = f"{app.unit}x{app.cores}" if app.cores else app.unit
            parts += [f"subnet {app.subnet}", unit, f"{mhz(app.freq_khz)} MHz",
                      f"{app.latency_ms:.1f}/{deadline:.0f} ms" if deadline < float("inf") else f"{app.latency_ms:.1f} ms"]
        parts += [f"{result.power_w:.2f} W", f"overruns {self.overruns}"]
        return "  ".join(parts)

    def _draw(self, text: str) -> None:
        stream = self.stream if self.stream is not None else sys.stderr
        text = text[:99]
        stream.write("\r" + text.ljust(self.width))
        stream.flush()
        self.width = len(text)

    def on_rollout_end(self, summary: dict) -> None:
        if self.enabled and self.width:
            stream = self.stream if self.stream is not None else sys.stderr
            stream.write("\r" + " " * self.width + "\r")
            stream.flush()

    def elapsed_s(self) -> float:
        """Wall time since the rollout started."""
        return time.monotonic() - self.start if self.start else 0.0


class StopOnSignal(Callback):
    """Ends the rollout after the current step on the first SIGINT or SIGTERM (the handlers in
    force before are put back at once, so a second signal does what it did without this: the
    board's guard restores and the process ends). Install with the board already open.

    :param enabled: install the handlers (False: do nothing)
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.signum: Optional[int] = None
        self._prev: dict[int, Any] = {}

    def on_rollout_start(self, env: Any, policy: Any) -> None:
        if not self.enabled:
            return
        for sig in STOP_SIGNALS:
            self._prev[sig] = signal.getsignal(sig)
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.signum = signum
        self._restore_handlers()

    def _restore_handlers(self) -> None:
        for sig, prev in self._prev.items():
            if signal.getsignal(sig) == self._on_signal:
                signal.signal(sig, prev if prev is not None else signal.SIG_DFL)
        self._prev.clear()

    def on_step(self, record: StepRecord) -> bool:
        return self.signum is None

    def on_rollout_end(self, summary: dict) -> None:
        self._restore_handlers()

    @property
    def stopped(self) -> bool:
        """Whether a signal ended the run early."""
        return self.signum is not None
