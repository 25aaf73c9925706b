"""CPU contention: how much slower an inference runs when other work shares its CPU unit.

Two sources, in this order of preference (:func:`cpu_stretch`):

* **measured**: a board profile's :class:`ContentionTable` (written by ``rlrm profile``, which
  runs the live backend's own background worker next to the inference at one or more subnetwork
  levels for each core count), interpolated linearly over the background load and, where it
  holds several levels, over the level (a small subnetwork's short operators are stretched
  differently from a large one's);
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
from typing import Optional, Sequence, Tuple

from rlrm.errors import InputError
from rlrm.validate import Float, Int, List, Spec, Str, Table

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


Rows = Tuple[Tuple[float, ...], ...]


@dataclass(frozen=True)
class ContentionTable:
    """Measured latency stretch of a CPU unit: per inference core count, the ratio of the mean
    latency with a background load to the mean latency without, at one subnetwork level (the
    reference) and optionally at more.

    :param background: busy cores of other work at which it was measured, strictly increasing,
        starting at 0
    :param cores: the inference core counts measured, strictly increasing
    :param stretch: ``stretch[i][j]``: ratio for ``cores[i]`` threads at ``background[j]``
        (``stretch[i][0]`` is 1: the reference), at ``level``
    :param level: the subnetwork level ``stretch`` was measured at
    :param source: how it was measured
    :param more: further levels as ``(level, stretch)``, the same layout, levels distinct from
        ``level``; a lookup at a level interpolates linearly between the nearest measured levels
        (the nearest one outside them). Empty: every level uses ``stretch``.
    """

    background: tuple[float, ...]
    cores: tuple[int, ...]
    stretch: Rows
    level: int
    source: str
    more: tuple[tuple[int, Rows], ...] = ()

    @property
    def levels(self) -> tuple[int, ...]:
        """Every measured level, increasing."""
        return tuple(sorted([self.level] + [lv for lv, _ in self.more]))

    def rows_at(self, level: int) -> Rows:
        """The stretch rows measured at ``level`` (one of :attr:`levels`)."""
        if level == self.level:
            return self.stretch
        return dict(self.more)[level]

    def covers(self, cores: int) -> bool:
        return int(cores) in self.cores

    def lookup(self, cores: int, other: float, online: int, level: Optional[int] = None) -> float:
        """Stretch of ``cores`` threads with ``other`` busy cores of other work at subnetwork
        ``level`` (None: the reference level): linear interpolation over the background, then
        over the measured levels; beyond the last measured background, that point's stretch
        times the analytical model's growth from there."""
        if level is None or not self.more:
            return self._lookup_rows(self.stretch, cores, other, online)
        levels = self.levels
        lv = min(max(int(level), levels[0]), levels[-1])
        k = bisect.bisect_left(levels, lv)
        if levels[k] == lv:
            return self._lookup_rows(self.rows_at(lv), cores, other, online)
        lo, hi = levels[k - 1], levels[k]
        w = (lv - lo) / (hi - lo)
        a = self._lookup_rows(self.rows_at(lo), cores, other, online)
        b = self._lookup_rows(self.rows_at(hi), cores, other, online)
        return a + w * (b - a)

    def _lookup_rows(self, rows: Rows, cores: int, other: float, online: int) -> float:
        row = rows[self.cores.index(int(cores))]
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
        d = {"source": self.source, "level": self.level, "background": list(self.background),
             "cores": list(self.cores), "stretch": [list(r) for r in self.stretch]}
        if self.more:
            d["levels"] = [{"level": lv, "stretch": [list(r) for r in rows]} for lv, rows in sorted(self.more)]
        return d


def merge_levels(tables: Sequence[ContentionTable], source: str) -> ContentionTable:
    """One table from tables measured at different levels with the same backgrounds and core
    counts; the middle level is the reference."""
    ordered = sorted(tables, key=lambda t: t.level)
    if not ordered:
        raise ValueError("no contention table to merge")
    for t in ordered[1:]:
        if t.background != ordered[0].background or t.cores != ordered[0].cores:
            raise ValueError("contention tables measured with different backgrounds or core counts")
    if len({t.level for t in ordered}) != len(ordered):
        raise ValueError("two contention tables at the same level")
    ref = ordered[len(ordered) // 2]
    return ContentionTable(background=ref.background, cores=ref.cores, stretch=ref.stretch, level=ref.level,
                           source=source, more=tuple((t.level, t.stretch) for t in ordered if t is not ref))


def cpu_stretch(cores: float, other: float, online: int, table: Optional[ContentionTable] = None,
                unit_cores: Optional[int] = None, level: Optional[int] = None) -> float:
    """Latency stretch of ``cores`` inference threads of subnetwork ``level`` on a CPU unit with
    ``online`` cores that other work keeps ``other`` cores busy: the unit's measured table where
    it covers the core count (and the unit has all its ``unit_cores`` online, as when it was
    measured), else :func:`analytical_stretch` (which does not depend on the level)."""
    if table is not None and table.covers(int(cores)) and (unit_cores is None or online == unit_cores):
        return table.lookup(int(cores), other, online, level)
    return analytical_stretch(cores, other, online)


def parse_contention(d: dict, unit_cores: int, source: str, where: str) -> ContentionTable:
    """A :class:`ContentionTable` from its checked table (:data:`CONTENTION_SPEC`), with the
    checks that span fields; one-line :class:`InputError` naming file and field otherwise."""
    bg, cores = d["background"], d["cores"]
    if bg[0] != 0:
        raise InputError(source, f"{where}.background[0]", f"must be 0 (the reference), got {bg[0]}")
    if len(bg) < 2:
        raise InputError(source, f"{where}.background", "needs at least two loads (0 and one more)")
    for i, c in enumerate(cores):
        if c > unit_cores:
            raise InputError(source, f"{where}.cores[{i}]", f"must be <= the unit's {unit_cores} cores, got {c}")
    stretch = _rows(d["stretch"], len(cores), len(bg), source, f"{where}.stretch")
    more = []
    seen = {int(d["level"])}
    for k, extra in enumerate(d.get("levels", ())):
        lv = int(extra["level"])
        if lv in seen:
            raise InputError(source, f"{where}.levels[{k}].level", f"level {lv} is measured twice")
        seen.add(lv)
        more.append((lv, _rows(extra["stretch"], len(cores), len(bg), source, f"{where}.levels[{k}].stretch")))
    return ContentionTable(background=tuple(float(b) for b in bg), cores=tuple(int(c) for c in cores),
                           stretch=stretch, level=int(d["level"]), source=d["source"],
                           more=tuple(sorted(more)))


def _rows(rows: list, n_cores: int, n_bg: int, source: str, where: str) -> Rows:
    """Checked stretch rows: one per core count, one value per background, the first 1."""
    if len(rows) != n_cores:
        raise InputError(source, where, f"has {len(rows)} rows for {n_cores} core counts")
    for i, row in enumerate(rows):
        if len(row) != n_bg:
            raise InputError(source, f"{where}[{i}]", f"has {len(row)} values for {n_bg} background loads")
        if abs(row[0] - 1.0) > 1e-9:
            raise InputError(source, f"{where}[{i}][0]", f"must be 1 (no background is the reference), got {row[0]}")
    return tuple(tuple(float(x) for x in r) for r in rows)


def contention_spec(max_cores: int) -> Spec:
    """The spec of a unit's ``contention`` table in a board profile."""
    return Spec({
        "source": Str(), "level": Int(minimum=0, maximum=1000),
        "background": List(Float(minimum=0.0, maximum=float(max_cores)), increasing=True, max_len=64),
        "cores": List(Int(minimum=1, maximum=max_cores), increasing=True, max_len=max_cores),
        "stretch": _stretch_list(max_cores),
        "levels": List(Table(Spec({"level": Int(minimum=0, maximum=1000), "stretch": _stretch_list(max_cores)})),
                       [], nonempty=False, max_len=64),
    })


def _stretch_list(max_cores: int) -> List:
    return List(List(Float(minimum=MIN_STRETCH, maximum=MAX_STRETCH), max_len=64), max_len=max_cores)

