"""How many cores the model runs on, and which: ``os.sched_setaffinity`` and torch's threads.

torch is never imported here at module load: :class:`CoreController` uses the torch already
imported by the caller, imports it on first use otherwise, and does without it when it is not
installed. Both settings belong to this process, so restoring them is only needed while it runs.

``sched_setaffinity(0, ...)`` moves only the calling thread; torch's worker threads that already
exist would stay where they were. The affinity is therefore set on every thread of the process
(``/proc/self/task``), and threads started later inherit it.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Iterable
from types import ModuleType
from typing import Optional, Sequence


def set_process_affinity(cpus: Iterable[int]) -> None:
    """Pin every thread of this process (not only the calling one) to ``cpus``."""
    cpus = set(cpus)
    os.sched_setaffinity(0, cpus)
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:  # no procfs: the calling thread is all we can move
        return
    for tid in tids:
        try:
            os.sched_setaffinity(tid, cpus)
        except ProcessLookupError:  # the thread ended meanwhile
            pass


def _torch() -> Optional[ModuleType]:
    mod = sys.modules.get("torch")
    if mod is not None:
        return mod
    try:
        return importlib.import_module("torch")
    except ImportError:
        return None


class CoreController:
    """Pins this process (every thread) to ``n`` CPUs and sets torch's intra-op threads to ``n``.

    The CPUs are taken, lowest first, from those this process may run on at construction
    (``os.sched_getaffinity``), restricted to the cluster's CPUs and to the online CPUs when given.
    :meth:`restore` gives every thread that original set back.

    :param online: the CPUs the board has online (``sys/devices/system/cpu/online``), or None
    :param use_torch: also set ``torch.set_num_threads`` (when torch can be imported)
    """

    def __init__(self, online: Optional[Sequence[int]] = None, use_torch: bool = True) -> None:
        self.allowed: tuple[int, ...] = tuple(sorted(os.sched_getaffinity(0)))
        self.online = None if online is None else tuple(sorted(online))
        self.use_torch = use_torch
        self._orig_threads: Optional[int] = None
        self._changed = False
        self.current: tuple[int, ...] = self.allowed

    def candidates(self, cpus: Optional[Sequence[int]] = None) -> list[int]:
        """CPUs ``set_cores`` may choose from, for a cluster (``cpus``) or for all."""
        pool = set(self.allowed)
        if self.online is not None:
            pool &= set(self.online)
        if cpus is not None:
            pool &= set(cpus)
        return sorted(pool)

    def set_cores(self, n: int, cpus: Optional[Sequence[int]] = None) -> list[int]:
        """Run this process on ``n`` CPUs (of ``cpus`` when given); returns the CPUs chosen."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"core count must be a positive integer, got {n!r}")
        pool = self.candidates(cpus)
        if n > len(pool):
            where = f" of CPUs {list(cpus)}" if cpus is not None else ""
            raise ValueError(f"{n} cores requested but only {len(pool)}{where} are online and "
                             f"allowed for this process ({pool})")
        chosen = pool[:n]
        torch = _torch() if self.use_torch else None
        if not self._changed:
            self._orig_threads = torch.get_num_threads() if torch is not None else None
            self._changed = True
        set_process_affinity(chosen)
        if torch is not None:
            torch.set_num_threads(n)
        self.current = tuple(chosen)
        return chosen

    def restore(self) -> None:
        """Put back the affinity and torch thread count this process had before."""
        if not self._changed:
            return
        set_process_affinity(self.allowed)
        if self._orig_threads is not None:
            torch = sys.modules.get("torch")
            if torch is not None:
                torch.set_num_threads(self._orig_threads)
        self.current = self.allowed
        self._changed = False
