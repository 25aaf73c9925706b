"""Train, export and evaluate a shipped policy for one board, from scratch.

Run: ``python experiments/shipped_policy.py --platform jetson-xavier-nx`` (or ``odroid-xu3``).

1. ``rlrm train --platform P --scenario mix`` with ``agents/ppo.yaml`` (its training set, its
   domain randomisation) and a fixed seed (run folder ``experiments/runs/<P>-ppo``, not
   committed), and the same with ``agents/ppo-two-models.yaml`` for the scenario with two
   managed applications;
2. ``rlrm export`` to ``checkpoints/<P>-ppo`` and ``checkpoints/<P>-ppo-2apps``;
3. unless ``--no-eval``: ``--episodes`` seeded episodes of every shipped scenario for the
   policy, every Linux governor baseline (with the largest subnetwork and with Dynamic-OFA's
   manager) and the oracle; writes ``experiments/results/shipped-<P>.md`` and ``.json`` (read by
   ``experiments/papers_claims.py``).

The shipped policies are judged by ``experiments/fair_comparison.py`` (issue 13's targets: the
test scenarios, the strongest baselines, normalised scores); this script's own table compares
with the governors only, as the papers do. ``--skip-train`` re-evaluates the shipped checkpoints.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path

from rlrm.agents.registry import GOVERNOR_BASELINES, make_policy
from rlrm.env import ENV_ID, DynamicDNNEnv
from rlrm.evaluate import resolve_policy, run_episodes
from rlrm.paths import CHECKPOINTS_DIR, PROJECT_ROOT
from rlrm.sim import available_scenarios
from rlrm.train.config import load_config

RESULTS = PROJECT_ROOT / "experiments" / "results"
BASELINES = [*GOVERNOR_BASELINES, *(f"{g}+dofa" for g in GOVERNOR_BASELINES)]


def evaluate_all(checkpoints: dict, platform: str, episodes: int, seed: int, units: list) -> dict:
    """Every scenario: the policy for its number of managed apps, the baselines, the oracle."""
    out: dict = {}
    for scenario in available_scenarios():
        env = DynamicDNNEnv(platform=platform, scenario=scenario, units=units)
        checkpoint = checkpoints[len(env.managed)]
        rows = {"ppo": run_episodes(resolve_policy(str(checkpoint)), env, episodes, seed)[0]}
        for name in BASELINES + ["oracle"]:
            rows[name] = run_episodes(make_policy(name), env, episodes, seed)[0]
        out[scenario] = rows
        print(f"{scenario}: ppo reward {rows['ppo']['reward_mean']:.3f} vs oracle {rows['oracle']['reward_mean']:.3f}",
              flush=True)
    return out


def verdict(rows: dict) -> dict:
    ppo, oracle = rows["ppo"], rows["oracle"]
    eligible = [n for n in BASELINES if rows[n]["deadline_miss_rate"] <= ppo["deadline_miss_rate"] + 1e-12]
    best = min(eligible, key=lambda n: rows[n]["energy_per_inference_mj"]) if eligible else None
    saving = (1 - ppo["energy_per_inference_mj"] / rows[best]["energy_per_inference_mj"]) if best else math.nan
    fraction = ppo["reward_mean"] / oracle["reward_mean"] if oracle["reward_mean"] > 0 else math.nan
    vs = {g: 1 - ppo["energy_per_inference_mj"] / rows[g]["energy_per_inference_mj"] for g in ("performance", "schedutil")}
    return {"best_baseline": best, "energy_saving": saving, "oracle_fraction": fraction, "vs": vs,
            "energy_ok": bool(saving >= 0.20) if best else None, "reward_ok": bool(fraction >= 0.90)}


def aggregate(results: dict) -> dict:
    """Means over scenarios of each policy's metrics (every scenario weighs the same)."""
    names = next(iter(results.values())).keys()
    keys = ("energy_per_inference_mj", "deadline_miss_rate", "accuracy_mean", "latency_mean_ms", "reward_mean",
            "power_violation_rate")
    return {n: {k: sum(r[n][k] for r in results.values()) / len(results) for k in keys} for n in names}


def write_report(platform: str, results: dict, episodes: int, seed: int, checkpoints: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    names = ", ".join(f"`{c.name}`" for c in checkpoints.values())
    lines = [f"# Shipped policies {names} on `{platform}` (simulated)", "",
             f"{episodes} seeded episodes per scenario (seeds {seed}..{seed + episodes - 1}); "
             f"`python experiments/shipped_policy.py --platform {platform}` reproduces this file.", "",
             "Energy target: at least 20 % less energy per inference than the best governor baseline whose "
             "deadline-miss rate is no worse than the policy's (\"none\": no governor baseline reaches the "
             "policy's miss rate, so none qualifies). The papers compare against performance and schedutil at "
             "similar latency: those savings are in their own columns. Reward target: at least 90 % of the "
             "oracle's mean reward.", "",
             "| scenario | ppo energy/inf mJ | ppo miss | ppo accuracy | best governor (miss <= ppo's) | its energy/inf mJ "
             "| saving vs it | saving vs performance | saving vs schedutil | ppo reward | oracle reward | fraction |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    allrows = dict(results)
    allrows["all scenarios (mean)"] = aggregate(results)
    for scenario, rows in allrows.items():
        v = verdict(rows)
        best = v["best_baseline"]
        best_e = f"{rows[best]['energy_per_inference_mj']:.1f}" if best else "-"
        ppo = rows["ppo"]
        saving = f"{v['energy_saving'] * 100:.1f} %" if best else "-"
        lines.append(f"| {scenario} | {ppo['energy_per_inference_mj']:.1f} | {ppo['deadline_miss_rate']:.4f} | "
                     f"{ppo['accuracy_mean']:.2f} | {best or 'none'} | {best_e} | {saving} | "
                     f"{v['vs']['performance'] * 100:.1f} % | {v['vs']['schedutil'] * 100:.1f} % | "
                     f"{ppo['reward_mean']:.3f} | {rows['oracle']['reward_mean']:.3f} | {v['oracle_fraction']:.3f} |")
    lines += ["", "With the DNN on the GPU, ondemand, conservative and schedutil all leave the GPU to devfreq's "
              "simple_ondemand (the CPU governor only drives the CPU clusters, which the simulator runs under "
              "schedutil's rule), so their rows coincide.", "", "Every policy, every scenario (energy per inference mJ / deadline-miss rate / reward):", "",
              "| policy | " + " | ".join(results) + " |", "| --- |" + " --- |" * len(results)]
    for name in ["ppo", *BASELINES, "oracle"]:
        cells = [f"{results[s][name]['energy_per_inference_mj']:.0f} / {results[s][name]['deadline_miss_rate']:.3f} / "
                 f"{results[s][name]['reward_mean']:.3f}" for s in results]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    md = RESULTS / f"shipped-{platform}.md"
    md.write_text("\n".join(lines) + "\n")
    (RESULTS / f"shipped-{platform}.json").write_text(json.dumps(results, indent=1, default=str))
    return md


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--platform", default="jetson-xavier-nx")
    ap.add_argument("--timesteps", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--skip-train", action="store_true", help="evaluate the shipped checkpoints as they are")
    ap.add_argument("--report-only", action="store_true", help="rewrite the Markdown from the saved JSON")
    ap.add_argument("--no-eval", action="store_true", help="train and export only")
    ap.add_argument("--configs", nargs="+", default=["ppo", "ppo-two-models"], choices=["ppo", "ppo-two-models"],
                    help="which policies to train (default both)")
    args = ap.parse_args()
    checkpoints = {1: CHECKPOINTS_DIR / f"{args.platform}-ppo", 2: CHECKPOINTS_DIR / f"{args.platform}-ppo-2apps"}
    if args.report_only:
        results = json.loads((RESULTS / f"shipped-{args.platform}.json").read_text())
        print(f"wrote {write_report(args.platform, results, args.episodes, 1000, checkpoints)}")
        return
    configs = {k: c for k, c in {1: "ppo", 2: "ppo-two-models"}.items() if c in args.configs}
    if not args.skip_train:
        from rlrm.policy.export import export_run
        from rlrm.train.api import train

        runs = PROJECT_ROOT / "experiments" / "runs"
        for k, config in configs.items():
            name = f"{args.platform}-{config}"
            shutil.rmtree(runs / name, ignore_errors=True)
            run = train(platform=args.platform, scenario="mix", config=config, timesteps=args.timesteps,
                        seed=args.seed, logdir=runs, run_name=name, progress_bar=False).run_dir
            export_run(run, checkpoints[k], force=True)
    if args.no_eval:
        return
    units = load_config("ppo", ENV_ID).get("units")
    results = evaluate_all(checkpoints, args.platform, args.episodes, seed=1000, units=units)
    print(f"wrote {write_report(args.platform, results, args.episodes, 1000, checkpoints)}")


if __name__ == "__main__":
    main()
