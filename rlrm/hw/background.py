"""Real background CPU load: worker processes running duty-cycled busy loops."""

from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import signal
import time
from typing import Any, Optional

#: length of one busy/idle cycle of a worker, seconds
CYCLE_S = 0.02


def _burn(level: Any, stop: Any, cpu: Optional[int], parent: int) -> None:  # pragma: no cover - runs in a child
    """Busy for ``level`` of every cycle, asleep for the rest, until ``stop`` is non-zero or the
    parent process is gone (SIGKILLed: nobody would ever set ``stop``).

    Ctrl-C reaches the whole process group: the worker ignores SIGINT (the parent stops it)
    and dies quietly on SIGTERM, instead of running the handlers it inherited from the
    parent (which would print a KeyboardInterrupt traceback per worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if cpu is not None:
        try:
            os.sched_setaffinity(0, {cpu})
        except OSError:
            pass
    x = 0
    while not stop.value and os.getppid() == parent:
        duty = min(1.0, max(0.0, float(level.value)))
        start = time.perf_counter()
        busy_until = start + duty * CYCLE_S
        while time.perf_counter() < busy_until:
            x = (x * 31 + 7) & 0xFFFF
        rest = CYCLE_S - (time.perf_counter() - start)
        if rest > 0:
            time.sleep(rest)


class BackgroundLoad:
    """Worker processes that burn CPU at a duty cycle set each control step.

    ``set_load(core_equivalents)`` spreads the load evenly over the workers (a load of 1.5 on
    2 workers: each busy 75 % of the time). Workers are started on the first load above zero
    and always stopped by :meth:`stop` (also at interpreter exit and, through the caller's
    signal handling, on SIGINT/SIGTERM). If the parent is SIGKILLed the workers notice within
    one cycle (their parent process changes) and exit by themselves.

    :param workers: number of worker processes (the scenario's background cores, at most the
        CPUs of this machine)
    :param cpus: CPUs to pin the workers to, round robin (None: let the scheduler place them)
    """

    def __init__(self, workers: int, cpus: Optional[list[int]] = None) -> None:
        self.n = max(0, int(workers))
        self.cpus = list(cpus) if cpus else None
        self._ctx = mp.get_context("fork") if hasattr(os, "fork") else mp.get_context()
        self._levels = [self._ctx.Value("d", 0.0, lock=False) for _ in range(self.n)]
        # plain shared memory, no lock: a worker killed at any moment cannot leave a lock held
        self._stop = self._ctx.Value("b", 0, lock=False)
        self.procs: list[Any] = []
        atexit.register(self.stop)

    def start(self) -> None:
        """Start the workers (idle until a load is set)."""
        if self.procs or self.n == 0:
            return
        self._stop.value = 0
        for i in range(self.n):
            cpu = self.cpus[i % len(self.cpus)] if self.cpus else None
            p = self._ctx.Process(target=_burn, args=(self._levels[i], self._stop, cpu, os.getpid()), daemon=True,
                                  name=f"rlrm-background-{i}")
            p.start()
            self.procs.append(p)

    def set_load(self, core_equivalents: float) -> float:
        """Busy core-equivalents to burn from now on; returns what was set (capped at the workers)."""
        if self.n == 0:
            return 0.0
        load = min(float(self.n), max(0.0, float(core_equivalents)))
        if load > 0 and not self.procs:
            self.start()
        for v in self._levels:
            v.value = load / self.n
        return load

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.pid is not None]

    def stop(self, timeout: float = 2.0) -> None:
        """Stop every worker (terminate, then kill what is left); idempotent."""
        if not self.procs:
            return
        self._stop.value = 1
        for p in self.procs:
            p.join(timeout)
        for p in self.procs:
            if p.is_alive():
                p.terminate()
                p.join(timeout)
            if p.is_alive():
                p.kill()
                p.join(timeout)
        self.procs = []

    def __enter__(self) -> "BackgroundLoad":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
