"""Summary tables (terminal, Markdown, CSV, JSON) and figures of a comparison."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Optional

import numpy as np

from rlrm.evaluate import SUMMARY_KEYS, format_table, format_value
from rlrm.jsonable import jsonable

#: the files :func:`write_report` writes into the logdir
REPORT_FILES = ("summary.md", "summary.csv", "summary.json", "tradeoff.png", "timeseries.png", "bars.png",
                "pareto.png")
#: per-policy columns of the summary files beside the metrics: Pareto marking and matched energy
PARETO_KEYS = ("pareto_dominated", "energy_vs_matched", "matched_by")


def pareto_cells(row: dict) -> list[str]:
    """``dominated`` (yes / no, with by whom), ``energy_vs_matched`` (a signed percentage:
    +20.0 % is 20 % less energy than the match) and the match, as the tables show them."""
    by = row.get("dominated_by") or []
    dominated = ("yes (" + ", ".join(str(b) for b in by[:3]) + (", ..." if len(by) > 3 else "") + ")") if by else "no"
    vm = row.get("energy_vs_matched")
    vm_text = vm if isinstance(vm, str) or vm is None else f"{100 * vm:+.1f} %"
    return [dominated, str(vm_text if vm_text is not None else "-"), str(row.get("matched_by") or "-")]


def choice_lines(result: dict) -> list[str]:
    """One line per tuned baseline naming what it picked on the tuning seeds."""
    out = []
    for row in result["rows"]:
        c = row.get("choice")
        if not c:
            continue
        if "point" in c:
            out.append(f"- {row['policy']}: {c['point']} (mean reward {c.get('reward', math.nan):.4f} on tuning "
                       f"seeds {_seed_range(c.get('tuning_seeds'))})")
        else:
            out.append(f"- {row['policy']}: margin {c.get('margin')} (tuning seeds {_seed_range(c.get('seeds'))})")
    return out


def _seed_range(seeds: Any) -> str:
    if not seeds:
        return "none: given"
    return f"{seeds[0]}..{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])


def summary_table(result: dict, wide: bool = False) -> str:
    """The terminal table: one row per policy, the columns of ``rlrm evaluate`` (the few that
    matter, at most 100 characters wide; ``wide``: every metric the rows hold).

    :param result: what :func:`rlrm.compare.runner.run_compare` returns
    """
    return format_table(result["rows"], wide=wide)


def markdown_table(result: dict) -> str:
    """The same table in Markdown, with a line naming board, scenario and seeds.

    :param result: what :func:`rlrm.compare.runner.run_compare` returns
    """
    head = (f"{result['platform']} / {result['scenario']}: {result['seeds']} episodes per policy "
            f"(seeds {result['seed']}..{result['seed'] + result['seeds'] - 1}, "
            f"{result['episode_steps']} steps each, environment {result['env_kwargs'] or 'default'})\n\n")
    extra = ["dominated", "energy_vs_matched", "matched_by"]
    lines = ["| policy | " + " | ".join([*SUMMARY_KEYS, *extra]) + " |",
             "| --- " * (len(SUMMARY_KEYS) + len(extra) + 1) + "|"]
    for row in result["rows"]:
        cells = [format_value(row.get(k)) for k in SUMMARY_KEYS] + pareto_cells(row)
        lines.append(f"| {row['policy']} | " + " | ".join(cells) + " |")
    notes = ["", "normalized_score: (R - R_random) / (R_oracle - R_random) on these seeds (random 0, oracle 1). "
             "dominated: another deployable policy or static point is no worse in energy per inference, "
             "deadline-miss rate and top-1 and better in one. energy_vs_matched: energy saving against the "
             "cheapest other policy or static point with top-1 no lower (-0.5 points) and misses no higher "
             f"(+0.005) ({len(result.get('static_frontier') or [])} static points on the frontier)."]
    chosen = choice_lines(result)
    if chosen:
        notes += ["", "Chosen at design time:", *chosen]
    return head + "\n".join(lines + notes) + "\n"


def write_tables(result: dict, logdir: Path) -> None:
    """Write ``summary.md``, ``summary.csv`` (real values, ``inf``/``nan`` spelled out) and
    ``summary.json`` (as ``rlrm evaluate --json``: nan is null, inf is "inf"; with
    ``per_episode`` for every policy).

    :param result: what :func:`rlrm.compare.runner.run_compare` returns
    :param logdir: the comparison's logdir
    """
    (logdir / "summary.md").write_text(markdown_table(result))
    with open(logdir / "summary.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["policy", "source", *SUMMARY_KEYS, *PARETO_KEYS])
        for row in result["rows"]:
            vm = row.get("energy_vs_matched", math.nan)
            w.writerow([row["policy"], row["source"], *(repr(float(row.get(k, math.nan))) for k in SUMMARY_KEYS),
                        row.get("pareto_dominated", ""), vm if isinstance(vm, str) else repr(float(vm)),
                        row.get("matched_by") or ""])
    doc = {k: v for k, v in result.items() if k != "rows"}
    doc["policies"] = [{k: v for k, v in row.items() if k != "timeseries"} for row in result["rows"]]
    with open(logdir / "summary.json", "w") as fh:
        json.dump(jsonable(doc), fh, indent=1)


def _live_tag(result: dict) -> str:
    """`` (live)`` for a comparison run on the board itself, else nothing."""
    return " (live)" if result.get("backend") == "live" else ""


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_tradeoff(result: dict, path: Path) -> None:
    """Accuracy against mean latency, one labelled point per policy, colour and size =
    energy per inference.

    :param result: what :func:`rlrm.compare.runner.run_compare` returns
    :param path: the PNG to write
    """
    plt = _plt()
    rows = [r for r in result["rows"] if math.isfinite(r["latency_mean_ms"]) and math.isfinite(r["accuracy_mean"])]
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=100)
    if rows:
        energy = [r["energy_per_inference_mj"] if math.isfinite(r["energy_per_inference_mj"]) else 0.0 for r in rows]
        lo, hi = min(energy), max(energy)
        norm = plt.Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1.0)
        markers = "osD^vP*Xhp<>"
        for i, (r, e) in enumerate(zip(rows, energy)):
            ax.scatter([r["latency_mean_ms"]], [r["accuracy_mean"]], c=[e], norm=norm, cmap="viridis",
                       marker=markers[i % len(markers)], s=80 + 220 * (e - lo) / ((hi - lo) or 1.0),
                       edgecolors="black", zorder=3, label=f"{r['policy']} ({e:.0f} mJ)")
        sm = plt.cm.ScalarMappable(norm=norm, cmap="viridis")
        fig.colorbar(sm, ax=ax, label="energy per inference (mJ)")
        ax.margins(0.12)
    targets = {s["target_latency_ms"] for r in result["rows"][:1] for s in r["timeseries"]
               if s["target_latency_ms"] is not None and math.isfinite(s["target_latency_ms"])}
    if len(targets) == 1:
        ax.axvline(targets.pop(), color="red", linestyle="--", linewidth=1, label="deadline")
    ax.legend(loc="best", fontsize=7, markerscale=0.6)
    ax.set_xlabel("mean latency (ms)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(f"{result['platform']} / {result['scenario']}{_live_tag(result)}: accuracy vs latency\n"
                 "marker size and colour = energy per inference (mJ)", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def scenario_events(series: list[dict]) -> list[tuple[int, str]]:
    """Steps where the scenario changed: an application started or stopped, the deadline or
    the power budget changed (``(step, label)``, in order)."""
    events: list[tuple[int, str]] = []
    prev: Optional[dict] = None
    for s in series:
        if prev is not None:
            apps, before = s.get("apps") or [], prev.get("apps") or []
            for i, (a, b) in enumerate(zip(apps, before)):
                if (a is None) != (b is None):
                    events.append((s["step"], f"app {i} {'starts' if a is not None else 'stops'}"))
            if s.get("target_latency_ms") != prev.get("target_latency_ms"):
                events.append((s["step"], "deadline changes"))
            if s.get("power_budget_w") != prev.get("power_budget_w"):
                events.append((s["step"], "power budget changes"))
        prev = s
    return events


def plot_timeseries(result: dict, path: Path) -> None:
    """One episode (the first seed) of the first policy, like the Dynamic-OFA demo figure:
    target and latency over time, the chosen subnetwork, and the frequency of the unit
    running each application; every application is drawn, and scenario events (an
    application starting, a deadline or budget change) are marked.

    :param result: what :func:`rlrm.compare.runner.run_compare` returns
    :param path: the PNG to write
    """
    plt = _plt()
    row = result["rows"][0]
    series = row["timeseries"]

    def col(key: str) -> list[float]:
        return [float(s[key]) if s.get(key) is not None else math.nan for s in series]

    def app_col(i: int, key: str) -> list[float]:
        out = []
        for s in series:
            apps = s.get("apps") or []
            a = apps[i] if i < len(apps) else None
            out.append(float(a[key]) if a is not None and a.get(key) is not None else math.nan)
        return out

    n_apps = max([len(s.get("apps") or []) for s in series] + [0])
    t = [s["step"] for s in series]
    fig, axes = plt.subplots(3, 1, figsize=(7.5, 6.4), dpi=100, sharex=True)
    colours = ["tab:blue", "tab:purple", "tab:brown", "tab:olive"]
    if n_apps:
        for i in range(n_apps):
            c = colours[i % len(colours)]
            axes[0].plot(t, app_col(i, "latency_ms"), label=f"app {i} latency", color=c)
            axes[1].step(t, app_col(i, "subnet"), where="post", color=c, label=f"app {i}")
            units = sorted({str(a["unit"]) for s in series for a in [(s.get("apps") or [None] * n_apps)[i]]
                            if a is not None})
            axes[2].step(t, [f / 1000.0 for f in app_col(i, "freq_khz")], where="post", color=c,
                         label=f"app {i} ({'/'.join(units)})")
    else:  # a series from before per-app logging
        axes[0].plot(t, col("latency_ms"), label="latency", color="tab:blue")
        axes[1].step(t, col("subnet"), where="post", color="tab:green")
        axes[2].step(t, [f / 1000.0 for f in col("freq_khz")], where="post", color="tab:orange")
    axes[0].plot(t, col("target_latency_ms"), label="deadline", color="tab:red", linestyle="--")
    axes[0].set_ylabel("latency (ms)")
    axes[0].legend(loc="upper right", fontsize=7)
    axes[1].set_ylabel("subnetwork level")
    axes[2].set_ylabel("frequency (MHz)")
    if n_apps > 1:
        axes[1].legend(loc="upper right", fontsize=7)
    if n_apps:
        axes[2].legend(loc="upper right", fontsize=7)
    axes[2].set_xlabel("control step")
    for step, label in scenario_events(series):
        for ax in axes:
            ax.axvline(step, color="grey", linestyle=":", linewidth=1)
        axes[0].annotate(label, (step, 1.0), xycoords=("data", "axes fraction"), rotation=90, fontsize=7,
                         va="top", ha="right", color="dimgrey")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(f"{row['policy']} on {result['platform']} / {result['scenario']}{_live_tag(result)} "
                 f"(seed {result['seed']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_bars(result: dict, path: Path) -> None:
    """Energy per inference and deadline-miss rate per policy, as bars.

    :param result: what :func:`rlrm.compare.runner.run_compare` returns
    :param path: the PNG to write
    """
    plt = _plt()
    rows = result["rows"]
    names = [r["policy"] for r in rows]
    x = list(range(len(rows)))

    def val(r: dict, k: str) -> float:
        v = r.get(k, math.nan)
        return v if math.isfinite(v) else 0.0

    def spread(r: dict, k: str) -> float:
        values = [e[k] for e in r.get("per_episode") or [] if isinstance(e.get(k), (int, float)) and math.isfinite(e[k])]
        return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0

    several = any(len(r.get("per_episode") or []) > 1 for r in rows)
    err = (lambda k: [spread(r, k) for r in rows]) if several else (lambda k: None)
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 4.0), dpi=100)
    axes[0].bar(x, [val(r, "energy_per_inference_mj") for r in rows], color="tab:blue",
                yerr=err("energy_per_inference_mj"), capsize=3)
    axes[0].set_ylabel("energy per inference (mJ)")
    axes[1].bar(x, [val(r, "deadline_miss_rate") for r in rows], color="tab:red", yerr=err("deadline_miss_rate"),
                capsize=3)
    axes[1].set_ylabel("deadline-miss rate")
    for ax in axes:
        ax.set_xticks(x)
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"{result['platform']} / {result['scenario']}{_live_tag(result)}: {result['seeds']} episodes per "
                 "policy" + (" (error bars: standard deviation over the episodes)" if several else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_pareto(result: dict, path: Path) -> None:
    """Every policy and the static frontier in (energy per inference, top-1), the deadline-miss
    rate as marker colour; dominated policies hollow.

    :param result: what :func:`rlrm.compare.runner.run_compare` returns
    :param path: the PNG to write
    """
    plt = _plt()

    def ok(r: dict) -> bool:
        return all(isinstance(r.get(k), (int, float)) and math.isfinite(r[k])
                   for k in ("energy_per_inference_mj", "accuracy_mean", "deadline_miss_rate"))

    rows = [r for r in result["rows"] if ok(r)]
    static = [r for r in result.get("static_frontier") or [] if ok(r)]
    fig, ax = plt.subplots(figsize=(6.8, 4.6), dpi=100)
    misses = [r["deadline_miss_rate"] for r in rows + static] or [0.0]
    norm = plt.Normalize(vmin=0.0, vmax=max(max(misses), 1e-3))
    if static:
        ax.plot([r["energy_per_inference_mj"] for r in static], [r["accuracy_mean"] for r in static],
                color="grey", linewidth=1, linestyle=":", zorder=1)
        ax.scatter([r["energy_per_inference_mj"] for r in static], [r["accuracy_mean"] for r in static],
                   c=[r["deadline_miss_rate"] for r in static], cmap="plasma", norm=norm, marker=".", s=40,
                   zorder=2, label="static frontier")
    markers = "osD^vP*Xhp<>"
    for i, r in enumerate(rows):
        hollow = bool(r.get("pareto_dominated"))
        ax.scatter([r["energy_per_inference_mj"]], [r["accuracy_mean"]], c=[r["deadline_miss_rate"]], cmap="plasma",
                   norm=norm, marker=markers[i % len(markers)], s=110, edgecolors="black",
                   linewidths=2.0 if hollow else 0.8, zorder=3,
                   label=f"{r['policy']}{' (dominated)' if hollow else ''}")
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="plasma"), ax=ax, label="deadline-miss rate")
    ax.legend(loc="best", fontsize=7, markerscale=0.6)
    ax.set_xlabel("energy per inference (mJ)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(f"{result['platform']} / {result['scenario']}: energy vs top-1", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_report(result: dict, logdir: Path) -> list[Path]:
    """Write every file of :data:`REPORT_FILES` into ``logdir``.

    :param result: what :func:`rlrm.compare.runner.run_compare` returns
    :param logdir: the comparison's logdir
    :return: the paths written
    """
    logdir = Path(logdir)
    logdir.mkdir(parents=True, exist_ok=True)
    write_tables(result, logdir)
    plot_tradeoff(result, logdir / "tradeoff.png")
    plot_timeseries(result, logdir / "timeseries.png")
    plot_bars(result, logdir / "bars.png")
    plot_pareto(result, logdir / "pareto.png")
    return [logdir / f for f in REPORT_FILES]
