"""Terminal tables: at most :data:`MAX_WIDTH` columns by default, short headers, one number of
decimals per column.

A table is built from rows (dicts) and the keys to show. Keys with a short header in
:data:`HEADERS` are shown under it; any other key (a metric another module adds to a summary)
is shown under its own name. :func:`default_keys` picks the few columns that matter from what
the rows hold; ``wide`` shows every numeric key instead. Decimals are chosen per column from its
largest value (:func:`column_decimals`), so every row of a column lines up. No third-party
dependency: the board side prints these too.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any, Iterable, Mapping, Optional, Sequence

#: widest line a default table prints
MAX_WIDTH = 100

#: short column headers of known keys (units in the header, not in every cell)
HEADERS: dict[str, str] = {
    "energy_per_inference_mj": "mJ/inf",
    "latency_mean_ms": "lat ms",
    "latency_p95_ms": "p95 ms",
    "deadline_miss_rate": "miss",
    "accuracy_mean": "top1 %",
    "power_violation_rate": "P viol",
    "energy_violation_rate": "E viol",
    "power_mean_w": "W",
    "reward_mean": "reward",
    "oracle_reward_fraction": "vs oracle",
    "oracle_reward_mean": "oracle rew",
    "normalized_score": "score",
    "energy_vs_matched": "E/matched",
    "inferences": "inferences",
}

#: the columns evaluate and compare show by default, most important first; keys the rows do
#: not hold are skipped, and columns are dropped from the end until the table fits
DEFAULT_KEYS: tuple[str, ...] = (
    "energy_per_inference_mj", "latency_mean_ms", "deadline_miss_rate", "accuracy_mean", "power_mean_w",
    "reward_mean", "normalized_score", "oracle_reward_fraction", "energy_vs_matched", "latency_p95_ms",
    "power_violation_rate",
)

#: keys never shown as columns (identity or bulky values)
NOT_COLUMNS = frozenset({"policy", "per_episode", "timeseries", "source", "platform", "scenario", "seed", "seeds",
                         "episodes", "episode_steps", "env_kwargs", "label"})


def header(key: str) -> str:
    """The short header of a key (the key itself where none is known)."""
    return HEADERS.get(key, key)


def _number(v: Any) -> Optional[float]:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def column_decimals(values: Iterable[Any], digits: int = 4) -> int:
    """Decimals for a column: about ``digits`` significant digits for its largest finite value,
    1..4; a column of integers gets none."""
    values = [v for v in values if _number(v) is not None]
    finite = [float(v) for v in values if math.isfinite(float(v))]
    if not finite or all(isinstance(v, int) for v in values):
        return 0
    top = max(abs(x) for x in finite)
    if top == 0:
        return 2
    return max(1, min(4, digits - 1 - int(math.floor(math.log10(top)))))


def format_cell(v: Any, decimals: int) -> str:
    """A value as a table cell: ``-`` for None, ``nan``/``inf`` spelled out."""
    if v is None:
        return "-"
    x = _number(v)
    if x is None:
        return str(v)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if isinstance(v, int):
        return str(v)
    return f"{x:.{decimals}f}"


def numeric_keys(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every key holding a number in some row, in first-seen order (``--wide``)."""
    out: list[str] = []
    for row in rows:
        for k, v in row.items():
            if k not in NOT_COLUMNS and k not in out and _number(v) is not None:
                out.append(k)
    return out


def default_keys(rows: Sequence[Mapping[str, Any]], preferred: Sequence[str] = DEFAULT_KEYS) -> list[str]:
    """The preferred keys the rows hold, in order."""
    return [k for k in preferred if any(k in r for r in rows)]


def render(rows: Sequence[Mapping[str, Any]], keys: Sequence[str], label: str = "policy",
           max_width: Optional[int] = MAX_WIDTH, headers: Optional[Mapping[str, str]] = None) -> str:
    """A plain-text table: the ``label`` column (left-aligned), then one right-aligned column per key.

    :param max_width: drop columns from the end until every line fits (None: keep all); the
        label column is cut to fit with ``~`` marking the cut
    :param headers: header overrides (default :data:`HEADERS`)
    """
    names = {**HEADERS, **(headers or {})}
    keys = list(keys)
    while True:
        heads = [label] + [names.get(k, k) for k in keys]
        decimals = [column_decimals([r.get(k) for r in rows]) for k in keys]
        cells = [[str(r.get(label, ""))] + [format_cell(r.get(k), d) for k, d in zip(keys, decimals)] for r in rows]
        widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(heads)]
        total = sum(widths) + 2 * (len(widths) - 1)
        if max_width is None or total <= max_width or not keys:
            break
        if len(keys) > 3:
            keys.pop()
            continue
        cut = widths[0] - (total - max_width)
        if cut >= 8:
            for c in cells:
                if len(c[0]) > cut:
                    c[0] = c[0][:cut - 1] + "~"
            widths[0] = max(len(heads[0]), cut)
            break
        keys.pop()
    right = [all(_number(r.get(k)) is not None or r.get(k) in (None, "") for r in rows) for k in keys]

    def line(first: str, rest: Sequence[str]) -> str:
        return "  ".join([first.ljust(widths[0])] + [x.rjust(w) if rj else x.ljust(w)
                                                     for x, w, rj in zip(rest, widths[1:], right)])

    lines = [line(heads[0], heads[1:]), "  ".join("-" * w for w in widths)]
    lines += [line(c[0], c[1:]) for c in cells]
    return "\n".join(line.rstrip() for line in lines)


def key_value_table(pairs: Sequence[tuple[str, Any]], max_width: Optional[int] = MAX_WIDTH) -> str:
    """``name  value`` lines; a value too long for ``max_width`` wraps onto indented lines
    (at spaces: a hash or a path is never cut)."""
    if not pairs:
        return ""
    w = max(len(k) for k, _ in pairs)
    out = []
    for k, v in pairs:
        text = str(v)
        room = max(20, max_width - w - 2) if max_width else None
        parts = textwrap.wrap(text, room, break_long_words=False, break_on_hyphens=False) if room else [text]
        parts = parts or [""]
        out.append(f"{k.ljust(w)}  {parts[0]}")
        out += [" " * (w + 2) + p for p in parts[1:]]
    return "\n".join(out)
