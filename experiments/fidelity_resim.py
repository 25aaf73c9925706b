"""The simulator against live measurements already taken: re-simulate the points of a
``bench_fidelity.py`` results table (its live column kept as measured) on a given profile.

An offline check, not a live benchmark: it says how a change to the simulator or to the
profile moves the error against live data measured earlier, and it needs no idle machine (the
simulator is deterministic). The live figures are those of the table, with their date.

Run: ``PYTHONPATH=$PWD python experiments/fidelity_resim.py --live-table FIDELITY.md
--profile RLRM_HOME [--analytical]`` (``--analytical``: drop the profile's contention table,
so the simulator's analytical model is used).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_fidelity import scenario_text, without_contention  # noqa: E402

ROW = re.compile(r"^\| (\d+) \| (\d+) \| ([0-9.]+) \| [0-9.]+ \| ([0-9.]+) \|")


def live_rows(path: Path) -> list[tuple[int, int, float, float]]:
    """``(level, cores, background, live mean ms)`` of every row of a results table."""
    rows = []
    for line in path.read_text().splitlines():
        m = ROW.match(line)
        if m:
            rows.append((int(m.group(1)), int(m.group(2)), float(m.group(3)), float(m.group(4))))
    if not rows:
        raise SystemExit(f"{path}: no results row found")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--live-table", type=Path, required=True, help="a fidelity.md written by bench_fidelity.py")
    ap.add_argument("--profile", type=Path, required=True, help="an RLRM_HOME profiled by rlrm profile (name host)")
    ap.add_argument("--analytical", action="store_true", help="ignore the profile's contention table")
    ap.add_argument("--steps", type=int, default=8)
    args = ap.parse_args()
    from rlrm.agents.registry import make_policy
    from rlrm.env import DynamicDNNEnv
    from rlrm.evaluate.episodes import run_episodes
    from rlrm.platform import load_platform

    platform_path = args.profile / "envs" / "platforms" / "host.toml"
    plat = load_platform(platform_path)
    table = plat.units["cpu"].contention
    work = Path(tempfile.mkdtemp(prefix="rlrm-resim-"))
    if args.analytical and table is not None:  # the same profile and trace, without the table
        platform_path = without_contention(args.profile, work)
        table = None
    errs = {"in_sample": [], "out_of_sample": []}
    print("| level | cores | background | sim ms | live ms (mean) | rel. error | sample |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for level, cores, bg, live_ms in live_rows(args.live_table):
        scenario = work / f"bg{int(bg * 100)}.toml"
        scenario.write_text(scenario_text(bg))
        env = DynamicDNNEnv(str(platform_path), str(scenario), episode_steps=args.steps)
        sims = []
        for seed in range(3):
            summary, _ = run_episodes(make_policy(f"fixed:subnet={level},unit=cpu,freq=max,cores={cores}"), env, 1, seed=seed)
            sims.append(float(summary["latency_mean_ms"]))
        sim_ms = statistics.mean(sims)
        err = (sim_ms - live_ms) / live_ms
        inside = bool(table is not None and bg > 0 and level == table.level and cores in table.cores)
        errs["in_sample" if inside else "out_of_sample"].append(abs(err))
        print(f"| {level} | {cores} | {bg:.1f} | {sim_ms:.2f} | {live_ms:.2f} | {err:+.3f} | {'in' if inside else 'out'} |")
    every = errs["in_sample"] + errs["out_of_sample"]
    print(f"contention: {'analytical model' if table is None else f'measured table, level {table.level}'}")
    print(f"fidelity_latency_median_abs_err: {statistics.median(every):.4f}")
    print(f"fidelity_latency_max_abs_err: {max(every):.4f}")
    for name, part in errs.items():
        if part:
            print(f"fidelity_latency_median_abs_err_{name}: {statistics.median(part):.4f} ({len(part)} points)")
            print(f"fidelity_latency_max_abs_err_{name}: {max(part):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
