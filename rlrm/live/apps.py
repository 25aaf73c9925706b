"""Applications that run at the same time: one worker thread per application for a period.

Each active application of a live step runs its subnetwork in its own daemon thread, frames
driven by its ``fps`` (back to back when 0), so that two models on one board contend for it
as they would in deployment instead of taking turns. The model's work runs in torch, which
releases the GIL, so the inferences of two threads overlap in time. Threads are daemons and
live for one control period only: they end with the period, with :meth:`ConcurrentApps.run`,
and with the process (a SIGKILL of ``rlrm run`` leaves nothing behind).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence


@dataclass
class AppJob:
    """One application's share of a period.

    :param runner: its :class:`~rlrm.live.inference.InferenceRunner` (its own model instance)
    :param level: the model's subnetwork level to run
    :param seconds: how long to run (the control period)
    :param fps: frame rate (0: back to back)
    :param frames: its bounded frame queue (:class:`~rlrm.live.frames.FrameQueue`), when the
        scenario gives it one: frames then wait, are dropped and are counted there, and a
        latency includes the wait; None: frames paced by ``fps`` without a queue
    """

    runner: Any
    level: int
    seconds: float
    fps: float = 0.0
    frames: Optional[Any] = None

    def run(self) -> List[float]:
        """Run the period in the calling thread; the latencies (ms)."""
        if self.frames is not None:
            return self.frames.serve(self.runner, self.seconds).latencies_ms
        return self.runner.run_for(self.seconds, fps=self.fps)


class ConcurrentApps:
    """Runs several :class:`AppJob` at once and returns each one's latencies (ms).

    :param timeout_slack_s: how long past the period to wait for a worker before giving up on it
        (an inference that never returns: its latencies are reported as one at the timeout)
    """

    def __init__(self, timeout_slack_s: float = 30.0) -> None:
        self.timeout_slack_s = timeout_slack_s

    def run(self, jobs: Sequence[AppJob]) -> List[List[float]]:
        """Run ``jobs`` concurrently (the single job in the calling thread); per job its latencies."""
        if not jobs:
            return []
        if len(jobs) == 1:
            j = jobs[0]
            j.runner.switch(j.level)
            return [j.run()]
        results: List[Optional[List[float]]] = [None] * len(jobs)
        errors: List[Optional[BaseException]] = [None] * len(jobs)
        start = threading.Barrier(len(jobs))

        def work(i: int, job: AppJob) -> None:
            try:
                job.runner.switch(job.level)
                try:
                    start.wait(timeout=self.timeout_slack_s)  # all start the period together
                except threading.BrokenBarrierError:
                    pass
                results[i] = job.run()
            except BaseException as err:  # reported in the caller's thread
                errors[i] = err

        threads = [threading.Thread(target=work, args=(i, j), name=f"rlrm-app-{i}", daemon=True)
                   for i, j in enumerate(jobs)]
        for t in threads:
            t.start()
        for t, j in zip(threads, jobs):
            t.join(j.seconds + self.timeout_slack_s)
        for err in errors:
            if err is not None:
                raise err
        out: List[List[float]] = []
        for r, j in zip(results, jobs):
            out.append(r if r is not None else [(j.seconds + self.timeout_slack_s) * 1e3])
        return out
