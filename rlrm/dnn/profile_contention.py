"""``rlrm profile``'s contention measurement: how much slower a subnetwork level runs on this
machine next to a background load, for each CPU core count (at one level, or at several with
:func:`measure_contention_levels`: a small subnetwork's short operators are not stretched as a
large one's are).

It runs exactly what ``rlrm run`` runs: the live backend's own background worker
(:class:`rlrm.hw.background.BackgroundLoad`, one unpinned worker process started before the
inference is pinned, as the live backend starts it at its first step), and the inference with
``n`` torch threads pinned with every thread of the process to the first ``n`` usable cores
(:func:`rlrm.hw.affinity.set_process_affinity`), back to back under ``torch.inference_mode``.
Each (core count, background) cell is the mean latency over its time, in rounds that cycle
through the loads (so a drift of the machine spreads over all of them); the table holds the
ratio of each load's mean to the no-load mean (:class:`rlrm.platform.contention.ContentionTable`).
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


def measure_contention(run: Callable[[], Any], level: int, threads: Sequence[int], allowed: Sequence[int],
                       seconds: float, backgrounds: Sequence[float] = BACKGROUNDS,
                       set_threads: Optional[Callable[[int], None]] = None,
                       background: Optional[BackgroundLoad] = None, max_rounds: int = MAX_ROUNDS) -> ContentionTable:
    """The contention table of ``run`` (one inference of ``level``) for each thread count in
    ``threads``; ``seconds`` of timed runs per cell over :data:`ROUNDS` rounds, and more rounds
    of the same length (up to ``max_rounds``) while a ratio's relative standard error across
    rounds is above :data:`RATIO_SEM`.

    :param allowed: the CPUs this process may use (the inference of ``n`` threads is pinned to
        the first ``n``; the worker is started while the process may use all of them)
    :param set_threads: sets the inference's thread count (default: ``torch.set_num_threads``)
    :param background: the worker to use (tests inject one); else one is made and stopped here
    """
    if set_threads is None:
        import torch

        set_threads = torch.set_num_threads
    loads = [0.0] + [float(b) for b in backgrounds]
    set_process_affinity(allowed)
    own = background is None
    bg = BackgroundLoad(1) if background is None else background
    bg.start()
    sums = {(n, b): [0.0, 0] for n in threads for b in loads}
    taken = {}
    try:
        per_round = max(seconds / ROUNDS, 2 * SETTLE_S)
        for n in threads:
            set_threads(n)
            set_process_affinity(list(allowed)[:n])
            ratios: dict[float, list[float]] = {b: [] for b in loads[1:]}
            r = 0
            while r < ROUNDS or (r < max_rounds and max(ratio_sem(v) for v in ratios.values()) > RATIO_SEM):
                means = {}
                for b in loads:
                    bg.set_load(b)
                    timed_for(run, SETTLE_S)
                    lat = timed_for(run, per_round)
                    cell = sums[(n, b)]
                    cell[0] += sum(lat)
                    cell[1] += len(lat)
                    means[b] = sum(lat) / len(lat)
                for b in loads[1:]:
                    ratios[b].append(means[b] / means[0.0])
                r += 1
            taken[n] = r
            bg.set_load(0.0)
    finally:
        bg.set_load(0.0)
        if own:
            bg.stop()
        set_process_affinity(allowed)
    rows = []
    for n in threads:
        ref = sums[(n, 0.0)][0] / sums[(n, 0.0)][1]
        rows.append(tuple([1.0] + [round((sums[(n, b)][0] / sums[(n, b)][1]) / ref, 4) for b in loads[1:]]))
    source = (f"measured by rlrm profile on {os.uname().nodename}: level {level}, per core count the mean latency "
              f"next to one unpinned background worker (rlrm.hw.background, {CYCLE_S * 1000:g} ms duty cycle) "
              f"busy {', '.join(f'{b:g}' for b in loads[1:])} of a core over the mean without it; "
              f"{ROUNDS} to {max_rounds} rounds over the loads (more while a ratio's relative standard error across "
              f"rounds was above {RATIO_SEM:g}; taken: " + ", ".join(f"{taken[n]} with {n} thread{'s' if n > 1 else ''}"
                                                                    for n in threads)
              + f"), {per_round:.2g} s timed per cell and round; inference pinned "
              f"with all its threads to the first n cores of {list(allowed)}, torch.inference_mode, as rlrm run runs it")
    return ContentionTable(background=tuple(loads), cores=tuple(int(n) for n in threads), stretch=tuple(rows),
                           level=int(level), source=source)


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
