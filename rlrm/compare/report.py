"""Summary tables (terminal, Markdown, CSV, JSON) and figures of a comparison."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from rlrm.evaluate import SUMMARY_KEYS, format_table, format_value

#: the files :func:`write_report` writes into the logdir
REPORT_FILES = ("summary.md", "summary.csv", "summary.json", "tradeoff.png", "timeseries.png", "bars.png")


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
    lines = ["| policy | " + " | ".join(SUMMARY_KEYS) + " |", "| --- " * (len(SUMMARY_KEYS) + 1) + "|"]
    for row in result["rows"]:
        lines.append(f"| {row['policy']} | " + " | ".join(format_value(row.get(k)) for k in SUMMARY_KEYS) + " |")
    return head + "\n".join(lines) + "\n"


def _jsonable(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


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
        w.writerow(["policy", "source", *SUMMARY_KEYS])
        for row in result["rows"]:
            w.writerow([row["policy"], row["source"], *(repr(float(row.get(k, math.nan))) for k in SUMMARY_KEYS)])
    doc = {k: v for k, v in result.items() if k != "rows"}
    doc["policies"] = [{k: v for k, v in row.items() if k != "timeseries"} for row in result["rows"]]
    with open(logdir / "summary.json", "w") as fh:
        json.dump(_jsonable(doc), fh, indent=1)


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
    ax.set_title(f"{result['platform']} / {result['scenario']}: accuracy vs latency", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_timeseries(result: dict, path: Path) -> None:
    """One episode (the first seed) of the first policy, like the Dynamic-OFA demo figure:
    target and latency over time, the chosen subnetwork, and the frequency of the unit
    running the DNN.

    :param result: what :func:`rlrm.compare.runner.run_compare` returns
    :param path: the PNG to write
    """
    plt = _plt()
    row = result["rows"][0]
    series = row["timeseries"]

    def col(key: str) -> list[float]:
        return [float(s[key]) if s[key] is not None else math.nan for s in series]

    t = [s["step"] for s in series]
    fig, axes = plt.subplots(3, 1, figsize=(7.5, 6.4), dpi=100, sharex=True)
    axes[0].plot(t, col("latency_ms"), label="latency", color="tab:blue")
    axes[0].plot(t, col("target_latency_ms"), label="target", color="tab:red", linestyle="--")
    axes[0].set_ylabel("latency (ms)")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[1].step(t, col("subnet"), where="post", color="tab:green")
    axes[1].set_ylabel("subnetwork level")
    axes[2].step(t, [f / 1000.0 for f in col("freq_khz")], where="post", color="tab:orange")
    units = sorted({str(s["unit"]) for s in series})
    axes[2].set_ylabel(f"{'/'.join(units)} freq (MHz)")
    axes[2].set_xlabel("control step")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(f"{row['policy']} on {result['platform']} / {result['scenario']} (seed {result['seed']})", fontsize=10)
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

    fig, axes = plt.subplots(1, 2, figsize=(9.6, 4.0), dpi=100)
    axes[0].bar(x, [val(r, "energy_per_inference_mj") for r in rows], color="tab:blue")
    axes[0].set_ylabel("energy per inference (mJ)")
    axes[1].bar(x, [val(r, "deadline_miss_rate") for r in rows], color="tab:red")
    axes[1].set_ylabel("deadline-miss rate")
    for ax in axes:
        ax.set_xticks(x)
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"{result['platform']} / {result['scenario']}: {result['seeds']} episodes per policy", fontsize=10)
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
    return [logdir / f for f in REPORT_FILES]
