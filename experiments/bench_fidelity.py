"""How far the simulator is from this machine: the same fixed operating point simulated and live.

1. ``rlrm profile --model demo --rounds 20`` profiles this machine into a temporary
   ``$RLRM_HOME`` (``--sysfs-root /``: the real machine is what is measured; nothing is
   written); its rounds and contention levels are spread over its ~5 minutes.
2. For every subnetwork level x core count x background level (none, ~50 % of one core, one
   full core), the fixed point ``fixed:subnet=L,unit=cpu,freq=max,cores=N`` runs in the
   simulator on the new profile and live (``rlrm run``, real inferences, real background
   worker processes), interleaved: sim, live, sim, live, ... (3 live repeats), in passes over
   all points (one run of each per pass, alternating order), so that a point's repeats are
   minutes apart: runs seconds apart share the machine's moment (next to a busy core its
   contention moves 10-15 % from one minute to the next here) and agree with each other more
   than with the next minute. Points whose live runs disagree get more passes (up to
   ``--max-repeats``) until the live mean's relative standard error is at most ``--sem``:
   the benchmark measures the simulator, not its own noise.
   A reference point runs live before each of the first passes and at the end (the drift
   probe: ``fidelity_machine_drift_range``): how the machine's own speed moves over the run.
3. Per point: simulated and live mean latency, the relative error ``(sim - live) / live`` of
   the live mean over the repeats, and the live noise floor (coefficient of variation across
   the repeats); the 1-minute load average before each live run says how busy the machine was.

The profile measures the CPU unit's contention table at a few levels (``rlrm profile
--contention-s``; by default the lowest, middle and highest, interpolated in between): the
points at those levels with a background are in-sample (the profile measured their ratio to
no background), the other points out-of-sample; both figures are
printed (``fidelity_latency_*_in_sample`` / ``_out_of_sample``) besides
``fidelity_latency_median_abs_err: X`` and ``fidelity_latency_max_abs_err: Y``, which are over
all points. Writes ``experiments/results/fidelity.md`` (or ``--out``).

Run: ``PYTHONPATH=$PWD python experiments/bench_fidelity.py [--duration 5s] [--repeats 3]
[--levels 0,2,4] [--cores 1,2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "experiments" / "results" / "fidelity.md"
PERIOD_S = 0.5
BACKGROUNDS = (0.0, 0.5, 1.0)  # busy fraction of one core


def rlrm(env: Dict[str, str], *args: str) -> None:
    print("$ rlrm " + " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "rlrm", *args], check=True, env=env, cwd=str(ROOT),
                   stdout=subprocess.DEVNULL)


def scenario_text(background: float) -> str:
    text = ('schema = "rlrm-scenario/1"\nname = "fidelity"\n'
            'description = "one fixed point of the demo model, constant background"\n'
            f'period_s = {PERIOD_S}\nepisode_steps = 1000\nunit = "cpu"\n\n'
            '[[apps]]\nname = "main"\nlibrary = "demo"\n\n')
    if background > 0:
        text += f'[[background]]\nkind = "constant"\nunit = "cpu"\ncores = 1\nlevel = {background}\n\n'
    return text + '[[targets]]\nat_s = 0\nlatency_x = 1.1\naccuracy_level = 0\n'


def without_contention(home: Path, work: Path) -> Optional[Path]:
    """A copy of the profile ``host`` of ``home`` without its contention table (so the simulator
    uses its analytical model), with its trace beside it, under ``work``; None when the
    profile has no table."""
    import dataclasses
    import shutil

    from rlrm.platform import load_platform
    from rlrm.platform.profile import save_platform

    plat = load_platform(home / "envs" / "platforms" / "host.toml")
    cpu = plat.units["cpu"]
    if cpu.contention is None:
        return None
    path = save_platform(dataclasses.replace(plat, units={**plat.units, "cpu": dataclasses.replace(cpu, contention=None)}),
                         work / "analytical" / "envs" / "platforms" / "host.toml")
    traces = work / "analytical" / "envs" / "traces" / "host"
    traces.mkdir(parents=True, exist_ok=True)
    shutil.copy(home / "envs" / "traces" / "host" / "demo.json", traces / "demo.json")
    return path


def simulate(platform: Path, scenario: Path, policy: str, steps: int, seed: int) -> float:
    """Mean latency (ms) of the fixed point in the simulator."""
    from rlrm.agents.registry import make_policy
    from rlrm.env import DynamicDNNEnv
    from rlrm.evaluate.episodes import run_episodes

    env = DynamicDNNEnv(str(platform), str(scenario), episode_steps=steps)
    summary, _ = run_episodes(make_policy(policy), env, 1, seed=seed)
    return float(summary["latency_mean_ms"])


def live(env: Dict[str, str], platform: Path, scenario: Path, policy: str, duration: str, work: Path,
         tag: str) -> float:
    """Mean latency (ms) of the fixed point run live by ``rlrm run``."""
    out = work / f"{tag}.json"
    rlrm(env, "run", "--platform", str(platform), "--scenario", str(scenario), "--policy", policy,
         "--model", "demo", "--input", "synthetic", "--duration", duration, "--logdir", str(work / "runs"),
         "--run-name", tag, "--json", str(out))
    return float(json.loads(out.read_text())["summary"]["latency_mean_ms"])


def cv(values: List[float]) -> float:
    return statistics.stdev(values) / statistics.mean(values) if len(values) > 1 else 0.0


def sem(values: List[float]) -> float:
    """Relative standard error of the mean of ``values`` (inf with fewer than two)."""
    from rlrm.dnn.profile_contention import ratio_sem

    return ratio_sem(values)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", default="5s", help="each live run (default 5s)")
    ap.add_argument("--repeats", type=int, default=3, help="live runs per point, at least (default 3)")
    ap.add_argument("--max-repeats", type=int, default=8,
                    help="more live runs, up to this many, while the live mean's relative standard error is above "
                         "--sem (default 8)")
    ap.add_argument("--sem", type=float, default=0.04,
                    help="relative standard error of the live mean a point is measured to (default 0.04)")
    ap.add_argument("--levels", default=None, help="comma-separated subnetwork levels (default: all)")
    ap.add_argument("--cores", default=None, help="comma-separated core counts (default: 1..this machine's)")
    ap.add_argument("--profile-rounds", type=int, default=20,
                    help="rlrm profile --rounds: sweeps over every measurement, spread over the profile's time "
                         "(default 20)")
    ap.add_argument("--profile", default=None, help="reuse this RLRM_HOME (already profiled) instead of profiling")
    ap.add_argument("--out", type=Path, default=OUT, help=f"the results table (default: {OUT.relative_to(ROOT)})")
    args = ap.parse_args()
    home = Path(args.profile) if args.profile else Path(tempfile.mkdtemp(prefix="rlrm-fidelity-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RLRM_HOME": str(home)}
    os.environ["RLRM_HOME"] = str(home)
    platform = home / "envs" / "platforms" / "host.toml"
    if not args.profile:
        t0 = time.time()
        rlrm(env, "profile", "--model", "demo", "--name", "host", "--envs", str(home / "envs"),
             "--sysfs-root", "/", "--quiet", "--rounds", str(args.profile_rounds))
        print(f"profiled in {time.time() - t0:.0f} s", flush=True)
    trace = json.loads((home / "envs" / "traces" / "host" / "demo.json").read_text())
    from rlrm.platform import load_platform

    table = load_platform(platform).units["cpu"].contention
    measured_levels = set(table.levels) if table is not None else set()
    print("contention: " + ("analytical model (no table in the profile)" if table is None else
                            "measured at " + " | ".join(f"level {lv}: " + "; ".join(
                                f"{n} cores x" + ", x".join(f"{x:.2f}" for x in row[1:])
                                for n, row in zip(table.cores, table.rows_at(lv))) for lv in table.levels)), flush=True)
    levels = sorted({int(e["subnet"]) for e in trace["entries"]})
    cores_all = sorted({int(e["cores"]) for e in trace["entries"] if e.get("cores")})
    if args.levels:
        levels = [int(x) for x in args.levels.split(",")]
    cores_list = [int(x) for x in args.cores.split(",")] if args.cores else cores_all
    work = Path(tempfile.mkdtemp(prefix="fidelity-", dir=home))  # its own: a reused profile keeps earlier runs
    steps = max(4, int(float(args.duration.rstrip("s")) / PERIOD_S))
    analytical = without_contention(home, work)
    rows = []
    # the drift probe: one reference point run live before each of the first --repeats passes and
    # at the end (how the machine's own speed moves over the run)
    probe_scenario = work / "probe.toml"
    probe_scenario.write_text(scenario_text(0.0))
    probe_policy = f"fixed:subnet={levels[len(levels) // 2]},unit=cpu,freq=max,cores={cores_list[0]}"
    probes: List[float] = []

    def probe() -> None:
        probes.append(live(env, platform, probe_scenario, probe_policy, args.duration, work, f"probe-{len(probes)}"))
        print(f"drift probe {len(probes)} ({probe_policy}): {probes[-1]:.2f} ms", flush=True)

    scenarios = {}
    for bg in BACKGROUNDS:
        scenarios[bg] = work / f"bg{int(bg * 100)}.toml"
        scenarios[bg].write_text(scenario_text(bg))
    points = [(bg, cores, level) for bg in BACKGROUNDS for cores in cores_list for level in levels]
    runs: Dict[tuple, Dict[str, List[float]]] = {pt: {"sims": [], "lives": [], "loads": []} for pt in points}

    def wanted(pt: tuple) -> bool:
        lives = runs[pt]["lives"]
        return len(lives) < args.repeats or (len(lives) < args.max_repeats and sem(lives) > args.sem)

    # Passes over the points, one live run of each per pass in alternating order: a point's
    # repeats are spread over the whole run, not taken seconds apart (next to a busy core the
    # machine's contention moves 10-15 % from one minute to the next, and three runs in a row
    # can agree with each other and not with the minute after). Points whose live runs still
    # disagree after --repeats passes get more passes (only they), up to --max-repeats.
    n_pass = 0
    while True:
        todo = [pt for pt in points if wanted(pt)]
        if not todo:
            break
        if n_pass < args.repeats:
            probe()
        print(f"pass {n_pass + 1}: {len(todo)} points", flush=True)
        for bg, cores, level in (todo if n_pass % 2 == 0 else todo[::-1]):
            policy = f"fixed:subnet={level},unit=cpu,freq=max,cores={cores}"
            got = runs[(bg, cores, level)]
            r = len(got["lives"])
            got["sims"].append(simulate(platform, scenarios[bg], policy, steps, seed=r))
            got["loads"].append(os.getloadavg()[0])
            got["lives"].append(live(env, platform, scenarios[bg], policy, args.duration, work,
                                     f"l{level}-c{cores}-bg{int(bg * 100)}-r{r}"))
        n_pass += 1
    for bg, cores, level in points:
        policy = f"fixed:subnet={level},unit=cpu,freq=max,cores={cores}"
        got = runs[(bg, cores, level)]
        sims, lives, loads = got["sims"], got["lives"], got["loads"]
        sim_ms, live_ms = statistics.mean(sims), statistics.mean(lives)
        model_ms = (statistics.mean(simulate(analytical, scenarios[bg], policy, steps, seed=r) for r in range(args.repeats))
                    if analytical is not None else sim_ms)
        err = (sim_ms - live_ms) / live_ms
        row = {"level": level, "cores": cores, "background": bg, "sim_ms": sim_ms, "live_ms": live_ms,
               "live_runs_ms": lives, "err": err, "noise": cv(lives), "sem": sem(lives),
               "load1": statistics.mean(loads),
               "model_ms": model_ms, "model_err": (model_ms - live_ms) / live_ms,
               "in_sample": bool(table is not None and bg > 0 and level in measured_levels and cores in table.cores)}
        rows.append(row)
        print(f"level {level} cores {cores} bg {bg:.1f}: sim {sim_ms:.2f} ms live {live_ms:.2f} ms "
              f"({', '.join(f'{x:.2f}' for x in lives)}) err {err:+.3f} noise {row['noise']:.3f} "
              f"load1 {row['load1']:.2f}", flush=True)
    abs_errs = [abs(r["err"]) for r in rows]
    med, worst = statistics.median(abs_errs), max(abs_errs)
    noise = statistics.median(r["noise"] for r in rows)
    print(f"fidelity_latency_median_abs_err: {med:.4f}")
    print(f"fidelity_latency_max_abs_err: {worst:.4f}")
    for name, part in split(rows).items():
        if part:
            errs = [abs(r["err"]) for r in part]
            print(f"fidelity_latency_median_abs_err_{name}: {statistics.median(errs):.4f} ({len(part)} points)")
            print(f"fidelity_latency_max_abs_err_{name}: {max(errs):.4f}")
    if analytical is not None:
        model = [abs(r["model_err"]) for r in rows]
        print(f"fidelity_latency_median_abs_err_analytical_model: {statistics.median(model):.4f} "
              "(the same profile without its contention table)")
        print(f"fidelity_latency_max_abs_err_analytical_model: {max(model):.4f}")
    print(f"fidelity_live_noise_floor_median_cv: {noise:.4f}")
    probe()
    drift = {"policy": probe_policy, "runs_ms": probes, "cv": cv(probes),
             "range": (max(probes) - min(probes)) / statistics.mean(probes)}
    print(f"fidelity_machine_drift_range: {drift['range']:.4f} (the reference point {probe_policy} live "
          f"{len(probes)} times over the run: {', '.join(f'{x:.2f}' for x in probes)} ms)")
    write_table(rows, med, worst, noise, args, home, table, drift)
    return 0


def split(rows: List[dict]) -> Dict[str, List[dict]]:
    """The points whose contention ratio the profile measured, and the others."""
    return {"in_sample": [r for r in rows if r["in_sample"]], "out_of_sample": [r for r in rows if not r["in_sample"]]}


def write_table(rows: List[dict], med: float, worst: float, noise: float, args: argparse.Namespace,
                home: Optional[Path], table: Any = None, drift: Optional[dict] = None) -> None:
    signed = statistics.median(r["err"] for r in rows)
    within = sum(1 for r in rows if abs(r["err"]) <= 0.05)
    lines = [
        "# Simulator fidelity on this machine (latency)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `python experiments/bench_fidelity.py "
        f"--duration {args.duration} --repeats {args.repeats} --max-repeats {args.max_repeats} --sem {args.sem:g}"
        + (f" --levels {args.levels}" if args.levels else "") + (f" --cores {args.cores}" if args.cores else "")
        + f"` on {os.uname().nodename} ({os.cpu_count()} CPUs, no GPU, no power sensor), demo model, "
        "fixed point at each level x cores x background (none, 50 % of one core, one full core), "
        f"control period {PERIOD_S} s. The profile is a fresh `rlrm profile --model demo --rounds {args.profile_rounds}` "
        "of this machine.",
        "",
        "The table gives the 1-minute load average before each point's live runs (the machine has 2 CPUs; "
        "the benchmark's own inference and background worker account for up to ~2).",
        "",
        "Contention: " + ("the simulator's analytical model (the profile has no contention table)." if table is None else
                          f"the profile's measured table, background {list(table.background)} busy cores, "
                          + "; ".join(f"level {lv}: " + ", ".join(f"{n} core{'s' if n > 1 else ''} x" + ", x".join(
                              f"{x:.2f}" for x in row) for n, row in zip(table.cores, table.rows_at(lv)))
                              for lv in table.levels)
                          + " (levels between them interpolated)"
                          + ". Points marked `in` are in-sample (the profile measured their ratio), the others out-of-sample; "
                          "`model ms` / `model err` simulate the same profile without its table (the analytical model)."),
        "",
        f"- `fidelity_latency_median_abs_err: {med:.4f}` (all {len(rows)} points)",
        f"- `fidelity_latency_max_abs_err: {worst:.4f}` (all points)",
        f"- median signed error {signed:+.4f} (positive: simulated slower than live); "
        f"{within} of {len(rows)} points within 5 %",
        f"- live noise floor (median coefficient of variation across a point's live runs, one per pass over the "
        f"points so minutes apart, at least {args.repeats}, "
        f"more while the live mean's relative standard error was above {args.sem:g}, at most {args.max_repeats}): "
        f"{noise:.4f}; the noisiest point's CV {max(r['noise'] for r in rows):.4f}",
    ]
    if drift is not None:
        lines.append(f"- machine drift (not in the noise floor above): the reference point `{drift['policy']}` run live "
                     f"before each of the first {args.repeats} passes and at the end, {len(drift['runs_ms'])} times over the run: "
                     f"{', '.join(f'{x:.2f}' for x in drift['runs_ms'])} ms, a range of {100 * drift['range']:.1f} % of "
                     f"their mean (CV {drift['cv']:.3f}); the profile is one moment of that drift")
    for name, part in split(rows).items():
        if part:
            errs = [abs(r["err"]) for r in part]
            lines.append(f"- {name.replace('_', '-')} ({len(part)} points): median abs error {statistics.median(errs):.4f}, "
                         f"max {max(errs):.4f}")
    lines += [
        "",
        "| level | cores | background | sim ms | live ms (mean) | live runs ms | rel. error | live CV | load1 | sample "
        "| model ms | model err |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(f"| {r['level']} | {r['cores']} | {r['background']:.1f} | {r['sim_ms']:.2f} | {r['live_ms']:.2f} | "
                     f"{', '.join(f'{x:.2f}' for x in r['live_runs_ms'])} | {r['err']:+.3f} | {r['noise']:.3f} | "
                     f"{r['load1']:.2f} | {'in' if r['in_sample'] else 'out'} | {r['model_ms']:.2f} | {r['model_err']:+.3f} |")
    lines.append("")
    args.out.write_text("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
