"""The shipped PPO policies against every baseline a practitioner would deploy, both boards.

For every board and every shipped scenario, in the environment the shipped policy was made
for (its checkpoint's compute units: the GPU only), on evaluation seeds nobody tuned or
trained on, every policy is run with :func:`rlrm.evaluate.evaluate` (what ``rlrm evaluate``
runs):

* ``ppo``: ``checkpoints/<board>-ppo`` (one managed application) or ``-ppo-2apps`` (two);
* ``static-best`` (best static point or ``G@L`` on tuning seeds 10000+k) and ``lut`` (margin
  tuned on the same tuning seeds), with their choices recorded;
* ``G@L best``: the best governor with a pinned subnetwork on the tuning seeds (read from
  ``static-best``'s confirmed shortlist, which rolls every ``G@L`` out on the tuning seeds);
* every governor with the largest subnetwork and every governor with Dynamic-OFA's manager
  (``G+dofa``); GPU units run the profile's GPU governor (``nvhost_podgov`` on the Xavier NX,
  ``simple_ondemand`` on the Odroid's Mali);
* the oracle (1) and the masked uniform random policy (0) of the normalised score.

Every static operating point is also measured on the evaluation seeds (a hindsight frontier,
not a deployable choice) for Pareto marking and ``energy_vs_matched``
(:mod:`rlrm.scores`). Scenarios the shipped policies were trained on (``agents/ppo.yaml``
and ``agents/ppo-two-models.yaml`` ``train_scenarios``) and the held-out ones are reported
in separate sections.

Seeds: evaluation seeds default to 1000..1004: below the tuning seeds (10000+k, used by
``static-best``, ``lut`` and PPO's periodic evaluation during training, which selects
nothing) and away from the training environments' first-reset seeds (0..n_envs-1).

    PYTHONPATH=$PWD python experiments/fair_comparison.py            # ~10 min here, 2 boards
    PYTHONPATH=$PWD python experiments/fair_comparison.py --episodes 20 --boards odroid-xu3

writes ``experiments/results/fair-comparison.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Optional

import yaml

from rlrm.agents.registry import GOVERNOR_BASELINES
from rlrm.scores import add_energy_vs_matched, add_normalized_scores, mark_pareto, mean_score
from rlrm.jsonable import jsonable

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "experiments" / "results"
BOARDS = ["jetson-xavier-nx", "odroid-xu3"]
#: every shipped scenario, the one-app ones first
SCENARIOS = ["steady", "bursty", "changing-target", "power-cap", "mixed", "second-app", "two-models"]
GOVERNORS = list(GOVERNOR_BASELINES)
FIXED = ["ppo", "static-best", "lut"]


def trained_on(config: Path) -> list[str]:
    """``train_scenarios`` of the environment entry of a PPO config (agents/*.yaml)."""
    doc = yaml.safe_load(config.read_text())
    entry = {**doc.get("default", {}), **doc.get("rlrm/DynamicDNN-v0", {})}
    return list(entry.get("train_scenarios") or [])


def checkpoint_for(board: str, scenario: str) -> tuple[str, list[str]]:
    """The shipped checkpoint for the scenario's number of managed apps, and what it trained on."""
    if scenario == "two-models":
        return str(ROOT / "checkpoints" / f"{board}-ppo-2apps"), trained_on(ROOT / "agents" / "ppo-two-models.yaml")
    return str(ROOT / "checkpoints" / f"{board}-ppo"), trained_on(ROOT / "agents" / "ppo.yaml")


def evaluate_row(policy: str, label: str, board: str, scenario: str, episodes: int, seed: int,
                 units: Optional[list]) -> dict:
    """One policy's summary from :func:`rlrm.evaluate.evaluate` (references: the random and
    oracle rows of the same scenario, on the same seeds and units)."""
    from rlrm.evaluate import evaluate

    start = time.perf_counter()
    out = evaluate(policy, board, scenario, episodes, seed, env_kwargs={"units": units} if units else {},
                   oracle=False)
    out.pop("per_episode", None)
    for key in ("random_reward_mean", "oracle_reward_mean", "normalized_score"):
        out.pop(key, None)  # set from the random and oracle rows below
    out.update(policy=label, source=policy, wall_s=time.perf_counter() - start)
    return out


def best_gl(static_best_row: dict) -> Optional[str]:
    """The best ``G@L`` on the tuning seeds, from ``static-best``'s confirmed shortlist."""
    confirmed = (static_best_row.get("choice") or {}).get("confirmed") or {}
    gl = {k: v for k, v in confirmed.items() if "@" in k}
    return max(gl, key=lambda k: gl[k]) if gl else None


def static_rows(board: str, scenario: str, episodes: int, seed: int, units: Optional[list]) -> list[dict]:
    """Every static point's metrics on the evaluation seeds (the hindsight frontier)."""
    from rlrm.agents.static_best import static_frontier_rows
    from rlrm.env.dynamic_dnn import DynamicDNNEnv

    env = DynamicDNNEnv(platform=board, scenario=scenario, **({"units": units} if units else {}))
    rows = static_frontier_rows(env, list(range(seed, seed + episodes)))
    for r in rows:
        r.update(platform=env.platform.name, scenario=env.scenario.name)
    return rows


def run_scenario(board: str, scenario: str, episodes: int, seed: int, units: Optional[list],
                 governors: list[str]) -> tuple[list[dict], list[dict], list[str]]:
    """Every policy on one board and scenario: rows, static points, and PPO's training scenarios."""
    ckpt, train = checkpoint_for(board, scenario)
    rows = [evaluate_row(ckpt, "ppo", board, scenario, episodes, seed, units),
            evaluate_row("static-best", "static-best", board, scenario, episodes, seed, units),
            evaluate_row("lut", "lut", board, scenario, episodes, seed, units)]
    gl = best_gl(rows[1])
    if gl is not None:
        rows.append(evaluate_row(gl, f"G@L best ({gl})", board, scenario, episodes, seed, units))
    for g in governors:
        rows.append(evaluate_row(g, g, board, scenario, episodes, seed, units))
        rows.append(evaluate_row(f"{g}+dofa", f"{g}+dofa", board, scenario, episodes, seed, units))
    rows += [evaluate_row(p, p, board, scenario, episodes, seed, units) for p in ("oracle", "random")]
    for r in rows:
        r["trained_on"] = scenario in train
    static = static_rows(board, scenario, episodes, seed, units)
    add_normalized_scores(rows)
    mark_pareto(rows, others=static)
    add_energy_vs_matched(rows, others=static)
    return rows, static, train


def fmt(v: object, digits: int = 3) -> str:
    """A table cell: floats with ``digits`` decimals, NaN as n/a."""
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:.{digits}f}"
    return str(v)


def vs_matched(r: dict) -> str:
    vm = r["energy_vs_matched"]
    return vm if isinstance(vm, str) else f"{100 * vm:+.1f} % vs {r['matched_by']}"


def scenario_table(rows: list[dict]) -> list[str]:
    """The Markdown table of one scenario."""
    out = ["| policy | score | reward | mJ/inf | miss | top-1 | dominated | energy vs matched |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        out.append(f"| {r['policy']} | {fmt(r['normalized_score'])} | {fmt(r['reward_mean'])} | "
                   f"{fmt(r['energy_per_inference_mj'], 1)} | {fmt(r['deadline_miss_rate'])} | "
                   f"{fmt(r['accuracy_mean'], 2)} | {'yes' if r['pareto_dominated'] else 'no'} | {vs_matched(r)} |")
    return out


def choices(rows: list[dict]) -> list[str]:
    """What the tuned baselines picked on the tuning seeds."""
    out = []
    for r in rows:
        c = r.get("choice") or {}
        if "point" in c:
            out.append(f"static-best chose `{c['point']}` (tuning reward {c['reward']:.4f}, seeds "
                       f"{c['tuning_seeds'][0]}..{c['tuning_seeds'][-1]}, {c['candidates']} candidates)")
        elif "margin" in c and r["policy"] == "lut":
            seeds = c.get("seeds") or []
            out.append(f"lut chose margin {c['margin']} (seeds {seeds[0]}..{seeds[-1]})" if seeds
                       else f"lut margin {c['margin']}")
    return out


def mean_table(rows: list[dict], scenarios: list[str]) -> list[str]:
    """Mean normalised score per policy over ``scenarios`` (G@L best pooled as one policy)."""
    def key(r: dict) -> str:
        return "G@L best" if r["policy"].startswith("G@L best") else r["policy"]

    out = ["| policy | mean score | scenarios (n/a) | Pareto-dominated in |", "| --- | --- | --- | --- |"]
    sel = [r for r in rows if r["scenario"] in scenarios]
    for name in dict.fromkeys(key(r) for r in sel):
        mine = [r for r in sel if key(r) == name]
        m, n, bad = mean_score(r["normalized_score"] for r in mine)
        dom = sum(1 for r in mine if r["pareto_dominated"])
        out.append(f"| {name} | {fmt(m)} | {n} ({bad}) | {dom} of {len(mine)} |")
    return out


def headline(rows: list[dict], board: str, scenarios: list[str]) -> dict:
    """PPO's and lut's mean normalised score over the one-app scenarios of a board."""
    sel = [r for r in rows if r["platform"] == board and r["scenario"] in scenarios]
    ppo = mean_score(r["normalized_score"] for r in sel if r["policy"] == "ppo")[0]
    lut = mean_score(r["normalized_score"] for r in sel if r["policy"] == "lut")[0]
    sb = mean_score(r["normalized_score"] for r in sel if r["policy"] == "static-best")[0]
    return {"board": board, "ppo": ppo, "lut": lut, "static_best": sb, "ppo_minus_lut": ppo - lut}


def unjson(v: object) -> object:
    """The inverse of :func:`jsonable` for a row's top-level values (null: NaN)."""
    if v is None:
        return math.nan
    if v in ("inf", "-inf"):
        return math.inf if v == "inf" else -math.inf
    return v


def main(argv: Optional[list] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boards", nargs="+", default=BOARDS)
    ap.add_argument("--scenarios", nargs="+", default=SCENARIOS)
    ap.add_argument("--episodes", type=int, default=5, help="evaluation episodes per policy and scenario")
    ap.add_argument("--seed", type=int, default=1000, help="first evaluation seed (must be below 10000)")
    ap.add_argument("--units", nargs="*", default=["gpu"],
                    help="compute units of every policy (default: the shipped checkpoints' units, gpu)")
    ap.add_argument("--governors", nargs="*", default=GOVERNORS, help="governor baselines (each also +dofa)")
    ap.add_argument("--out", default=str(RESULTS / "fair-comparison"), help="results stem (.md and .json)")
    ap.add_argument("--from-json", default=None,
                    help="write the Markdown again from an earlier run's JSON instead of running")
    args = ap.parse_args(argv)
    if args.seed + args.episodes > 10_000:
        ap.error("evaluation seeds must stay below the tuning seeds (10000)")
    start = time.perf_counter()
    rows: list[dict] = []
    trained: dict = {}
    if args.from_json:
        old = json.loads(Path(args.from_json).read_text())
        rows = [{k: unjson(v) for k, v in r.items()} for r in old["rows"]]
        trained, args.episodes, args.seed = old["trained_on"], len(old["seeds"]), old["seeds"][0]
        args.units, args.boards = old["units"], list(dict.fromkeys(r["platform"] for r in rows))
        args.scenarios = list(dict.fromkeys(r["scenario"] for r in rows))
    for board in [] if args.from_json else args.boards:
        for scenario in args.scenarios:
            t0 = time.perf_counter()
            r, _, train = run_scenario(board, scenario, args.episodes, args.seed, args.units or None, args.governors)
            rows += r
            trained[scenario] = train
            ppo = next(x for x in r if x["policy"] == "ppo")
            lut = next(x for x in r if x["policy"] == "lut")
            print(f"{board} {scenario}: ppo {ppo['normalized_score']:.3f} lut {lut['normalized_score']:.3f} "
                  f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    wall = old["wall_s"] if args.from_json else time.perf_counter() - start
    one_app = [s for s in args.scenarios if s != "two-models"]
    seeds = f"{args.seed}..{args.seed + args.episodes - 1}"
    lines = ["# Fair comparison: the shipped PPO policies against the baselines", "",
             f"Reproduce: `PYTHONPATH=$PWD python experiments/fair_comparison.py --episodes {args.episodes} "
             f"--seed {args.seed}` ({wall / 60:.0f} min on a 2-core machine shared with other jobs).", "",
             f"- Evaluation seeds {seeds} ({args.episodes} episodes per policy and scenario, full scenario length); "
             "tuning seeds 10000+k (static-best: 3, lut: 3), disjoint from them.",
             f"- Compute units: {', '.join(args.units) if args.units else 'all'} for every policy (the shipped "
             "checkpoints manage the GPU only; on both boards no CPU option comes near a shipped deadline).",
             "- score: normalised score (R - R_random) / (R_oracle - R_random), random 0 and oracle 1 on the same "
             "seeds and units. Governors run the largest subnetwork; GPU units run the profile's GPU governor "
             "(nvhost_podgov on the Xavier NX, simple_ondemand on the Odroid).",
             "- dominated: Pareto-dominated (energy per inference down, miss rate down, top-1 up) by another "
             "deployable policy of the table or by a static point. energy vs matched: energy saving against the "
             "cheapest other policy or static point with top-1 >= this - 0.5 points and misses <= this + 0.005 "
             "(static points measured on the evaluation seeds: a hindsight frontier no deployable policy can pick), "
             "or unmatched.",
             "- ppo: `checkpoints/<board>-ppo` on the one-app scenarios (trained on "
             f"{', '.join(trained.get('steady', []))}, with domain randomisation), `checkpoints/<board>-ppo-2apps` on "
             "two-models (trained on it). Evaluation runs without randomisation.",
             "- Governors: `G` runs the largest subnetwork; `G+dofa` Dynamic-OFA's manager; `G@L best` is the best "
             "`G@L` on the tuning seeds (from static-best's shortlist).", ""]
    verdicts = [headline(rows, b, one_app) for b in args.boards]
    lines += ["## Headline: PPO vs lut, mean normalised score over the one-app scenarios", "",
              f"One-app scenarios: {', '.join(one_app)}.", "",
              "| board | ppo | lut | static-best | ppo - lut |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {v['board']} | {fmt(v['ppo'])} | {fmt(v['lut'])} | {fmt(v['static_best'])} | "
              f"{v['ppo_minus_lut']:+.3f} |" for v in verdicts]
    for v in verdicts:
        verdict = "at least lut's" if v["ppo_minus_lut"] >= 0 else f"below lut's by {-v['ppo_minus_lut']:.3f}"
        lines.append(f"\n{v['board']}: PPO's mean normalised score over the one-app scenarios is {verdict}.")
    lines.append("")
    for board in args.boards:
        mine = [r for r in rows if r["platform"] == board]
        for title, pick in (("trained on", True), ("not trained on (held out)", False)):
            scen = [s for s in args.scenarios if any(r["scenario"] == s and r["trained_on"] == pick for r in mine)]
            if not scen:
                continue
            lines += [f"## {board}: scenarios the shipped policy was {title}", "",
                      f"Scenarios: {', '.join(scen)}.", "", *mean_table(mine, scen), ""]
            for s in scen:
                sr = [r for r in mine if r["scenario"] == s]
                lines += [f"### {board} / {s}", "", *scenario_table(sr), ""]
                lines += [f"- {c}" for c in choices(sr)] + [""]
    text = "\n".join(lines)
    print(text)
    stem = Path(args.out)
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".md").write_text(text)
    doc = {"seeds": list(range(args.seed, args.seed + args.episodes)), "units": args.units,
           "trained_on": trained, "headline": verdicts, "wall_s": wall, "rows": rows}
    stem.with_suffix(".json").write_text(json.dumps(jsonable(doc), indent=1) + "\n")
    print(f"wrote {stem.with_suffix('.md')} and .json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
