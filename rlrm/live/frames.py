"""A live application's frame queue: frames arrive at ``fps``, wait in a bounded FIFO, and the
backlog at the end of each control period is counted, not modelled.

:class:`FrameQueue` is the live counterpart of the simulator's fluid queue
(:func:`rlrm.sim.dynamics.frame_queue`): a camera delivers a frame every ``1 / fps`` seconds
from the first period on (also between periods, while the controller decides); the
application serves the oldest waiting frame as soon as it is free; more than ``capacity``
waiting frames drop the oldest. A served frame's latency is its wait in the queue plus its
inference (what the simulator reports); dropped frames count as deadline misses. The frames
still waiting when the period ends are the step's measured ``queue``, and they stay queued
for the next period.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, List, Optional


@dataclass
class ServedPeriod:
    """What one period of a frame queue did.

    :param latencies_ms: per served frame, its wait in the queue plus its inference, ms
    :param inference_ms: per served frame, its inference alone, ms
    :param dropped: frames dropped (queue full, or the application halted)
    :param backlog: frames waiting at the end of the period
    """

    latencies_ms: List[float] = field(default_factory=list)
    inference_ms: List[float] = field(default_factory=list)
    dropped: int = 0
    backlog: int = 0


class FrameQueue:
    """Frames arriving at ``fps`` in front of one application, served one at a time.

    :param fps: frame rate (> 0)
    :param capacity: frames that may wait (>= 1); beyond, the oldest is dropped
    :param clock: monotonic seconds (tests pass a virtual clock)
    :param sleep: waits that many seconds (tests advance their virtual clock)
    """

    def __init__(self, fps: float, capacity: int, clock: Callable[[], float] = time.perf_counter,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps!r}")
        self.interval_s = 1.0 / float(fps)
        self.capacity = max(1, int(capacity))
        self.clock = clock
        self.sleep = sleep
        self.waiting: Deque[float] = collections.deque()  # arrival times of the frames waiting
        self.next_arrival: Optional[float] = None  # None: the camera has not started
        self.dropped_total = 0
        self.last = ServedPeriod()

    def reset(self) -> None:
        """Stop the camera and empty the queue (a new episode)."""
        self.waiting.clear()
        self.next_arrival = None
        self.last = ServedPeriod()

    @property
    def backlog(self) -> int:
        """Frames waiting now."""
        return len(self.waiting)

    def _admit(self, now: float, strict: bool = False) -> int:
        """Queue the frames that arrived by ``now`` (before ``now`` when ``strict``: a frame
        arriving as a period ends belongs to the next); the number dropped to make room."""
        if self.next_arrival is None:
            self.next_arrival = now  # the first frame arrives when the camera starts
        dropped = 0
        while self.next_arrival < now or (not strict and self.next_arrival == now):
            self.waiting.append(self.next_arrival)
            self.next_arrival += self.interval_s
            if len(self.waiting) > self.capacity:
                self.waiting.popleft()
                dropped += 1
        self.dropped_total += dropped
        return dropped

    def serve(self, runner: Any, seconds: float) -> ServedPeriod:
        """Serve frames with ``runner`` for ``seconds``: each waiting frame in turn, one
        inference each (``runner.run_for(..., max_inferences=1)``), idling until the next
        frame when none waits; an inference under way when the period ends finishes first."""
        out = ServedPeriod()
        end = self.clock() + seconds
        while True:
            now = self.clock()
            out.dropped += self._admit(now)
            if not self.waiting:
                assert self.next_arrival is not None
                if self.next_arrival >= end:
                    if end > now:
                        self.sleep(end - now)
                    break
                self.sleep(max(0.0, self.next_arrival - now))
                continue
            arrival = self.waiting.popleft()
            t0 = self.clock()
            lat = runner.run_for(max(1e-6, end - t0), fps=0.0, max_inferences=1)
            infer_ms = float(lat[0]) if lat else (self.clock() - t0) * 1e3
            out.inference_ms.append(infer_ms)
            out.latencies_ms.append((t0 - arrival) * 1e3 + infer_ms)
            if self.clock() >= end:
                break
        out.dropped += self._admit(self.clock(), strict=True)
        out.backlog = len(self.waiting)
        self.last = out
        return out

    def halt(self, seconds: float) -> ServedPeriod:
        """The application does not run this period (its energy window is spent): every frame
        that waits or arrives in the period is dropped."""
        out = ServedPeriod()
        now = self.clock()
        out.dropped += self._admit(now)
        if seconds > 0:
            self.sleep(seconds)
        out.dropped += self._admit(self.clock(), strict=True) + len(self.waiting)
        self.dropped_total += len(self.waiting)
        self.waiting.clear()
        self.last = out
        return out
