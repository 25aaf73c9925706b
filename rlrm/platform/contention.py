"""CPU contention: how much slower an inference runs when other work shares its CPU unit.

Two sources, in this order of preference (:func:`cpu_stretch`):

* **measured**: a board profile's :class:`ContentionTable` (written by ``rlrm profile``, which
  runs the live backend's own background worker next to the inference at one reference level
  for each core count), interpolated linearly over the background load;
* **modelled** (the fallback, used by every shipped board profile): :func:`analytical_stretch`.

The analytical model (documented in ``envs/README.md``):

1. the kernel's load balancer puts other work first on the unit's online cores the inference
   does not use (``online - cores`` of them); only the ``excess`` shares the inference's cores;
2. on average every online core then carries ``(cores + other) / online`` threads' worth, so
   the inference's cores carry ``fair = (cores + other) / online - 1`` of other work each
   (CFS fair share, the earlier model);
3. a multi-threaded inference waits for its slowest thread at every operator (a barrier per
   operator), and other work lands on its cores as whole threads: the most loaded of them
   carries ``max(min(1, excess), fair)``; a single-threaded inference carries ``fair``;
4. that thread gets ``1 / (1 + load)`` of its core: stretch ``1 + load``, times shared-memory
   interference ``1 + MEM_INTERFERENCE * other / online`` (estimated, as before).

For a single-threaded inference, or a unit the inference fills with other work spread over
it, this is the earlier CFS fair-share model ``max(1, (cores + other) / online)``; it is slower
where a multi-threaded inference shares one of its cores with less than a core's worth of
excess per core (one slow thread holds the team back): e.g. 2 threads on 2 cores with one
busy core of other work, x2.0 instead of x1.5.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Optional

from rlrm.errors import InputError
from rlrm.validate import Float, Int, List, Spec, Str

#: extra latency per unit of other load on the same CPU cluster (shared L2 / memory), estimated
MEM_INTERFERENCE = 0.1
#: plausible bounds of a measured stretch (ratio to no background)
MIN_STRETCH, MAX_STRETCH = 0.5, 100.0


def analytical_stretch(cores: float, other: float, online: int) -> float:
    """Latency stretch of an inference with ``cores`` threads (one per core) on a CPU unit with
    ``online`` cores where other work keeps ``other`` cores busy (the module's model)."""
    cores = max(1.0, min(float(cores), float(online)))
    other = max(0.0, float(other))
    excess = max(0.0, other - (online - cores))
    fair = max(0.0, (cores + other) / online - 1.0)
    load = fair if cores <= 1.0 else max(min(1.0, excess), fair)
    return (1.0 + load) * (1.0 + MEM_INTERFERENCE * min(other, online) / online)


@dataclass(frozen=True)
class ContentionTable:
    """Measured latency stretch of a CPU unit: per inference core count, the ratio of the mean
    latency with a background load to the mean latency without, at one subnetwork level.

    :param background: busy cores of other work at which it was measured, strictly increasing,
        starting at 0
    :param cores: the inference core counts measured, strictly increasing
    :param stretch: ``stretch[i][j]``: ratio for ``cores[i]`` threads at ``background[j]``
        (``stretch[i][0]`` is 1: the reference)
    :param level: the subnetwork level it was measured at
    :param source: how it was measured
    """

    background: tuple[float, ...]
    cores: tuple[int, ...]
    stretch: tuple[tuple[float, ...], ...]
    level: int
    source: str

    def covers(self, cores: int) -> bool:
        return int(cores) in self.cores

    def lookup(self, cores: int, other: float, online: int) -> float:
        """Stretch of ``cores`` threads with ``other`` busy cores of other work: linear
        interpolation over the background; beyond the last measured background, that point's
        stretch times the analytical model's growth from there."""
        row = self.stretch[self.cores.index(int(cores))]
        bg = self.background
        other = max(0.0, float(other))
        if other >= bg[-1]:
            if other == bg[-1]:
                return row[-1]
            return row[-1] * analytical_stretch(cores, other, online) / analytical_stretch(cores, bg[-1], online)
        j = bisect.bisect_right(bg, other) - 1
        w = (other - bg[j]) / (bg[j + 1] - bg[j])
        return row[j] + w * (row[j + 1] - row[j])

    def to_dict(self) -> dict:
        return {"source": self.source, "level": self.level, "background": list(self.background),
                "cores": list(self.cores), "stretch": [list(r) for r in self.stretch]}


def cpu_stretch(cores: float, other: float, online: int, table: Optional[ContentionTable] = None,
                unit_cores: Optional[int] = None) -> float:
    """Latency stretch of ``cores`` inference threads on a CPU unit with ``online`` cores that
    other work keeps ``other`` cores busy: the unit's measured table where it covers the core
    count (and the unit has all its ``unit_cores`` online, as when it was measured), else
    :func:`analytical_stretch`."""
    if table is not None and table.covers(int(cores)) and (unit_cores is None or online == unit_cores):
        return table.lookup(int(cores), other, online)
    return analytical_stretch(cores, other, online)


def parse_contention(d: dict, unit_cores: int, source: str, where: str) -> ContentionTable:
    """A :class:`ContentionTable` from its checked table (:data:`CONTENTION_SPEC`), with the
    checks that span fields; one-line :class:`InputError` naming file and field otherwise."""
    bg, cores, rows = d["background"], d["cores"], d["stretch"]
    if bg[0] != 0:
        raise InputError(source, f"{where}.background[0]", f"must be 0 (the reference), got {bg[0]}")
    if len(bg) < 2:
        raise InputError(source, f"{where}.background", "needs at least two loads (0 and one more)")
    for i, c in enumerate(cores):
        if c > unit_cores:
            raise InputError(source, f"{where}.cores[{i}]", f"must be <= the unit's {unit_cores} cores, got {c}")
    if len(rows) != len(cores):
        raise InputError(source, f"{where}.stretch", f"has {len(rows)} rows for {len(cores)} core counts")
    for i, row in enumerate(rows):
        if len(row) != len(bg):
            raise InputError(source, f"{where}.stretch[{i}]", f"has {len(row)} values for {len(bg)} background loads")
        if abs(row[0] - 1.0) > 1e-9:
            raise InputError(source, f"{where}.stretch[{i}][0]", f"must be 1 (no background is the reference), got {row[0]}")
    return ContentionTable(background=tuple(float(b) for b in bg), cores=tuple(int(c) for c in cores),
                           stretch=tuple(tuple(float(x) for x in r) for r in rows), level=int(d["level"]),
                           source=d["source"])


def contention_spec(max_cores: int) -> Spec:
    """The spec of a unit's ``contention`` table in a board profile."""
    return Spec({
        "source": Str(), "level": Int(minimum=0, maximum=1000),
        "background": List(Float(minimum=0.0, maximum=float(max_cores)), increasing=True, max_len=64),
        "cores": List(Int(minimum=1, maximum=max_cores), increasing=True, max_len=max_cores),
        "stretch": List(List(Float(minimum=MIN_STRETCH, maximum=MAX_STRETCH), max_len=64), max_len=max_cores),
    })

