"""``rlrm profile``'s contention measurement: how much slower a subnetwork level runs on this
machine next to a background load, for each CPU core count (at one level, or at several with
:func:`measure_contention_levels`: a small subnetwork's short operators are not stretched as a
large one's are).

It runs exactly what ``rlrm run`` runs: the live backend's own background worker
(:class:`rlrm.hw.background.BackgroundLoad`, one unpinned worker process started before the
inference is pinned, as the live backend starts it at its first step), and the inference with
``n`` torch threads pinned with every thread of the process to the first ``n`` usable cores
(:func:`rlrm.hw.affinity.set_process_affinity`), back to back under ``torch.inference_mode``.
It measures in rounds (:class:`ContentionSampler`): a round times each (core count, load) cell
one after the other, and its ratio is each load's mean latency over the no-load mean of the
same round; the table holds the mean of the rounds' ratios
(:class:`rlrm.platform.contention.ContentionTable`). ``rlrm profile --rounds N`` (N >= 3)
takes one round per level after each of its own rounds, spread over the profile's minutes;
:func:`measure_contention` takes them in a burst.
"""

from __future__ import annotations

import math
import os
import re
import statistics
import time
from typing import Any, Callable, Mapping, Optional, Sequence

from rlrm.hw.affinity import set_process_affinity
from rlrm.hw.background import CYCLE_S, BackgroundLoad
from rlrm.platform.contention import ContentionTable, merge_levels

#: background loads measured (busy cores of one worker), besides none
BACKGROUNDS = (0.5, 1.0)
#: rounds over the loads, at least
ROUNDS = 3
#: rounds over the loads, at most: more are taken while a ratio's relative standard error
#: across rounds is above :data:`RATIO_SEM` (a team of threads next to a busy core is noisy)
MAX_ROUNDS = 9
RATIO_SEM = 0.03
#: untimed time after a change of load or pinning (several worker cycles)
SETTLE_S = 10 * CYCLE_S


def timed_for(run: Callable[[], Any], seconds: float) -> list[float]:
    """Latencies (ms) of ``run()`` back to back for ``seconds`` (at least one)."""
    out: list[float] = []
    end = time.perf_counter() + seconds
    while True:
        t0 = time.perf_counter()
        run()
        t1 = time.perf_counter()
        out.append((t1 - t0) * 1e3)
        if t1 >= end:
            return out


def ratio_sem(values: Sequence[float]) -> float:
    """Relative standard error of the mean of ``values`` (inf with fewer than two)."""
    if len(values) < 2:
        return math.inf
    mean = statistics.mean(values)
    return statistics.stdev(values) / math.sqrt(len(values)) / mean if mean > 0 else math.inf


class ContentionSampler:
    """Rounds of contention measurement at one or more levels, kept until a table is asked for.

    A round (:meth:`sample`) times the inference of one level with each thread count next to
    each background load in turn, with its own worker (started and stopped by the round unless
    one is given). The loads of one round are measured seconds apart, so each round's ratio
    (its load's mean over its no-load mean) is free of the machine's slower drift; the table
    holds the mean of the rounds' ratios. Rounds of one level may be taken in a burst
    (:func:`measure_contention`) or spread over a profile's rounds (``rlrm profile --rounds``):
    next to a busy core the ratio itself moves by 10-15 % from one minute to the next on a
    shared VM, which a burst of rounds seconds apart does not see.

    :param threads: the inference thread counts measured
    :param allowed: the CPUs this process may use (the inference of ``n`` threads is pinned to
        the first ``n``; the worker is started while the process may use all of them)
    :param backgrounds: the loads measured (busy cores of one worker) besides none
    :param set_threads: sets the inference's thread count (default: ``torch.set_num_threads``)
    """

    def __init__(self, threads: Sequence[int], allowed: Sequence[int], backgrounds: Sequence[float] = BACKGROUNDS,
                 set_threads: Optional[Callable[[int], None]] = None) -> None:
        if set_threads is None:
            import torch

            set_threads = torch.set_num_threads
        self.threads = [int(n) for n in threads]
        self.allowed = list(allowed)
        self.loads = [0.0] + [float(b) for b in backgrounds]
        self.set_threads = set_threads
        #: level -> thread count -> load -> the ratio of each round
        self.ratios: dict[int, dict[int, dict[float, list[float]]]] = {}
        self.seconds: dict[int, float] = {}  # level -> timed seconds per cell and round

    def sample(self, level: int, run: Callable[[], Any], seconds: float,
               background: Optional[BackgroundLoad] = None, threads: Optional[Sequence[int]] = None) -> None:
        """One round at ``level`` (``run``: one inference of it), ``seconds`` timed per cell
        after :data:`SETTLE_S` untimed, with each of ``threads`` (default: all)."""
        own = background is None
        set_process_affinity(self.allowed)  # the worker is unpinned: it may run on every allowed CPU
        bg = BackgroundLoad(1) if background is None else background
        bg.start()
        per_level = self.ratios.setdefault(int(level), {n: {b: [] for b in self.loads[1:]} for n in self.threads})
        self.seconds[int(level)] = float(seconds)
        try:
            for n in (self.threads if threads is None else [int(t) for t in threads]):
                self.set_threads(n)
                set_process_affinity(self.allowed[:n])
                means = {}
                for b in self.loads:
                    bg.set_load(b)
                    timed_for(run, SETTLE_S)
                    lat = timed_for(run, seconds)
                    means[b] = sum(lat) / len(lat)
                for b in self.loads[1:]:
                    per_level[n][b].append(means[b] / means[0.0])
        finally:
            bg.set_load(0.0)
            if own:
                bg.stop()
            set_process_affinity(self.allowed)

    def rounds(self, level: int, n: int) -> int:
        """Rounds taken at ``level`` with ``n`` threads."""
        cells = self.ratios.get(int(level), {}).get(int(n), {})
        return min((len(v) for v in cells.values()), default=0)

    def worst_sem(self, level: int, n: int) -> float:
        """The largest relative standard error across rounds of a ratio at ``level``, ``n`` threads."""
        return max((ratio_sem(v) for v in self.ratios.get(int(level), {}).get(int(n), {}).values()), default=math.inf)

    def table(self, level: int, how: str) -> ContentionTable:
        """The table of ``level``: per thread count, the mean over rounds of each load's ratio;
        ``how`` says in its source how the rounds were taken."""
        per_level = self.ratios[int(level)]
        rows = tuple(tuple([1.0] + [round(statistics.mean(per_level[n][b]), 4) for b in self.loads[1:]])
                     for n in self.threads)
        sems = [ratio_sem(v) for n in self.threads for v in per_level[n].values()]
        finite = [s for s in sems if math.isfinite(s)]
        source = (f"measured by rlrm profile on {os.uname().nodename}: level {level}, per core count the mean over "
                  f"rounds of the ratio of the mean latency next to one unpinned background worker (rlrm.hw.background, "
                  f"{CYCLE_S * 1000:g} ms duty cycle) busy {', '.join(f'{b:g}' for b in self.loads[1:])} of a core to "
                  f"the mean without it in the same round; {how} (taken: "
                  + ", ".join(f"{self.rounds(level, n)} with {n} thread{'s' if n > 1 else ''}" for n in self.threads)
                  + f"), {self.seconds[int(level)]:.2g} s timed per cell and round"
                  + (f", largest relative standard error of a ratio across rounds {max(finite):.3f}" if finite else "")
                  + f"; inference pinned with all its threads to the first n cores of {self.allowed}, "
                    "torch.inference_mode, as rlrm run runs it")
        return ContentionTable(background=tuple(self.loads), cores=tuple(self.threads), stretch=rows,
                               level=int(level), source=source)


def measure_contention(run: Callable[[], Any], level: int, threads: Sequence[int], allowed: Sequence[int],
                       seconds: float, backgrounds: Sequence[float] = BACKGROUNDS,
                       set_threads: Optional[Callable[[int], None]] = None,
                       background: Optional[BackgroundLoad] = None, max_rounds: int = MAX_ROUNDS) -> ContentionTable:
    """The contention table of ``run`` (one inference of ``level``) for each thread count in
    ``threads``, in one burst of rounds (:class:`ContentionSampler`): ``seconds`` of timed runs
    per cell over :data:`ROUNDS` rounds, and more rounds of the same length (up to
    ``max_rounds``) while a ratio's relative standard error across rounds is above
    :data:`RATIO_SEM`.

    :param allowed: the CPUs this process may use (the inference of ``n`` threads is pinned to
        the first ``n``; the worker is started while the process may use all of them)
    :param set_threads: sets the inference's thread count (default: ``torch.set_num_threads``)
    :param background: the worker to use (tests inject one); else one is made and stopped here
    """
    sampler = ContentionSampler(threads, allowed, backgrounds, set_threads)
    per_round = max(seconds / ROUNDS, 2 * SETTLE_S)
    own = background is None
    set_process_affinity(allowed)
    bg = BackgroundLoad(1) if background is None else background
    bg.start()
    try:
        for n in sampler.threads:
            while sampler.rounds(level, n) < ROUNDS or (sampler.rounds(level, n) < max_rounds
                                                        and sampler.worst_sem(level, n) > RATIO_SEM):
                sampler.sample(level, run, per_round, background=bg, threads=[n])
    finally:
        bg.set_load(0.0)
        if own:
            bg.stop()
        set_process_affinity(allowed)
    return sampler.table(level, f"{ROUNDS} to {max_rounds} rounds in a row (more while a ratio's relative standard "
                                f"error across rounds was above {RATIO_SEM:g})")


def measure_contention_levels(runs: Mapping[int, Callable[[], Any]], threads: Sequence[int], allowed: Sequence[int],
                              seconds: float, prepare: Callable[[int], None] = lambda level: None,
                              backgrounds: Sequence[float] = BACKGROUNDS,
                              set_threads: Optional[Callable[[int], None]] = None,
                              background: Optional[BackgroundLoad] = None) -> ContentionTable:
    """:func:`measure_contention` at each level of ``runs`` (level -> one inference of it),
    with one background worker for all, merged into one table whose reference is the middle
    level (:func:`rlrm.platform.contention.merge_levels`).

    :param prepare: called with a level before it is measured (the profile switches its model)
    """
    if not runs:
        raise ValueError("no level to measure contention at")
    own = background is None
    bg = BackgroundLoad(1) if background is None else background
    set_process_affinity(allowed)  # the worker is unpinned: it may run on every allowed CPU
    bg.start()
    tables = []
    try:
        for level in sorted(runs):
            prepare(level)
            tables.append(measure_contention(runs[level], level, threads, allowed, seconds, backgrounds,
                                             set_threads=set_threads, background=bg))
    finally:
        if own:
            bg.stop()
    return combine_levels(tables)


def combine_levels(tables: Sequence[ContentionTable]) -> ContentionTable:
    """One table from :func:`measure_contention` tables of different levels (the middle level
    the reference), its source naming every level and the rounds each took."""
    tables = sorted(tables, key=lambda t: t.level)
    if len(tables) == 1:
        return tables[0]
    levels = ", ".join(str(t.level) for t in tables)
    source = tables[0].source.replace(f"level {tables[0].level},", f"levels {levels} (each its own rows),", 1)
    taken = "; ".join(f"level {t.level}: {m.group(1)}" for t in tables
                      for m in [re.search(r"taken: ([^)]*)\)", t.source)] if m)
    source = re.sub(r"taken: [^)]*\)", f"taken: {taken})", source, count=1)
    return merge_levels(tables, source)
