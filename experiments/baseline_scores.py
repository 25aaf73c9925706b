"""Normalised scores of the baselines and a PPO checkpoint, every policy in the same environment.

Every policy runs on the same board, scenarios, seeds and compute units (by default the
shipped policy's ``units = [gpu]``, so PPO, the baselines, random and the oracle choose from
the same action table); the normalised score of each row is against the random and oracle
rows of its scenario. Tuned baselines (``static-best``, ``lut``) tune on the seeds of
:mod:`rlrm.agents.tuning` (10000 + k), never on the evaluation seeds given here.

    PYTHONPATH=$PWD python experiments/baseline_scores.py --platform jetson-xavier-nx --episodes 5

prints a table per scenario and the mean normalised score per policy, and writes
``experiments/results/baseline-scores-<platform>.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Optional

from rlrm.scores import add_energy_vs_matched, add_normalized_scores, mark_pareto, mean_score
from rlrm.jsonable import jsonable

from fair_comparison import static_rows  # experiments/ is this script's folder

ONE_APP = ["steady", "bursty", "changing-target", "power-cap", "mixed", "second-app"]
POLICIES = ["lut", "static-best", "schedutil", "checkpoints/{platform}-ppo", "oracle", "random"]
RESULTS = Path(__file__).resolve().parent / "results"


def evaluate_row(policy: str, platform: str, scenario: str, episodes: int, seed: int,
                 units: Optional[list]) -> dict:
    """One policy's summary (the one place this script runs episodes: rlrm.evaluate.evaluate)."""
    from rlrm.evaluate import evaluate

    kwargs = {"units": units} if units else {}
    start = time.perf_counter()
    out = evaluate(policy, platform, scenario, episodes, seed, env_kwargs=kwargs, oracle=False)
    out.pop("per_episode", None)
    out["wall_s"] = time.perf_counter() - start
    out["policy"] = "ppo" if "ppo" in policy else out["policy"]
    return out


def load_rows(path: Path) -> list[dict]:
    """Rows of a JSON this script wrote (null: NaN, "inf": infinity)."""
    rows = json.loads(path.read_text())
    for r in rows:
        r.update({k: math.nan if v is None else math.copysign(math.inf, 1 if v == "inf" else -1)
                  for k, v in r.items() if v is None or v in ("inf", "-inf")})
    return rows


def fmt(v: object) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:.3f}"
    return str(v)


def main(argv: Optional[list] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--platform", default="jetson-xavier-nx")
    ap.add_argument("--scenarios", nargs="+", default=ONE_APP)
    ap.add_argument("--policies", nargs="+", default=POLICIES)
    ap.add_argument("--episodes", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--units", nargs="*", default=["gpu"], help="compute units of every policy (none: all)")
    ap.add_argument("--out", default=None, help="results stem (default experiments/results/baseline-scores-<platform>)")
    ap.add_argument("--rescore", default=None, help="score the rows of an earlier run's JSON instead of running")
    ap.add_argument("--no-static", action="store_true", help="leave out the static frontier (every fixed point)")
    args = ap.parse_args(argv)
    rows: list = []
    static: list = []
    if args.rescore:
        rows = load_rows(Path(args.rescore))
        beside = Path(args.rescore).with_name(Path(args.rescore).stem + "-static.json")
        static = load_rows(beside) if beside.is_file() and not args.no_static else []
    for scenario in [] if args.rescore else args.scenarios:
        for p in args.policies:
            row = evaluate_row(p.format(platform=args.platform), args.platform, scenario, args.episodes, args.seed,
                               args.units or None)
            rows.append(row)
            print(f"{scenario:16s} {row['policy']:12s} reward {row['reward_mean']:.4f} ({row['wall_s']:.0f} s)",
                  file=sys.stderr)
        if not args.no_static:
            static += static_rows(args.platform, scenario, args.episodes, args.seed, args.units or None)
    add_normalized_scores(rows)
    mark_pareto(rows, others=static)
    add_energy_vs_matched(rows, others=static)
    seeds = f"seeds {args.seed}-{args.seed + args.episodes - 1}"
    units = " ".join(args.units) if args.units else ""
    lines = [f"# Normalised scores on {args.platform} ({seeds}, units {args.units or 'all'})", "",
             f"Reproduce: `PYTHONPATH=$PWD python experiments/baseline_scores.py --platform {args.platform} "
             f"--episodes {args.episodes} --seed {args.seed} --units {units}`. Score: random 0, oracle 1 on the same "
             "seeds and units; tuned baselines tuned on seeds 10000+k. dominated: Pareto-dominated by a deployable "
             "policy of the table or a static point in (mJ/inference down, miss rate down, top-1 up). vs matched: "
             "energy saving against the cheapest other policy or static point (`fixed:...`, measured on the same "
             "seeds: a hindsight frontier, not a deployable choice) with top-1 >= this - 0.5 and misses <= this + "
             f"0.005. Static points: {len(static) // max(1, len(set(r['scenario'] for r in rows)))} per scenario.",
             "",
             "| scenario | policy | score | reward | mJ/inf | miss | top-1 | dominated | vs matched |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        vm = r["energy_vs_matched"]
        vm = vm if isinstance(vm, str) else f"{100 * vm:+.1f} % vs {r['matched_by']}"
        lines.append(f"| {r['scenario']} | {r['policy']} | {fmt(r['normalized_score'])} | {fmt(r['reward_mean'])} | "
                     f"{fmt(r['energy_per_inference_mj'])} | {fmt(r['deadline_miss_rate'])} | "
                     f"{fmt(r['accuracy_mean'])} | {'yes' if r['pareto_dominated'] else 'no'} | {vm} |")
    lines += ["", "| policy | mean score | scenarios (n/a) |", "| --- | --- | --- |"]
    for name in dict.fromkeys(r["policy"] for r in rows):
        m, n, bad = mean_score(r["normalized_score"] for r in rows if r["policy"] == name)
        lines.append(f"| {name} | {fmt(m)} | {n} ({bad}) |")
    text = "\n".join(lines)
    print(text)
    stem = Path(args.out) if args.out else RESULTS / f"baseline-scores-{args.platform}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".md").write_text(text + "\n")
    stem.with_suffix(".json").write_text(json.dumps([{k: jsonable(v) for k, v in r.items()} for r in rows], indent=1) + "\n")
    if static:
        stem.with_name(stem.name + "-static.json").write_text(
            json.dumps([{k: jsonable(v) for k, v in r.items()} for r in static], indent=0) + "\n")
    print(f"wrote {stem.with_suffix('.md')} and .json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
