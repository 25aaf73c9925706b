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
(:mod:`rlrm.scores`). The scenarios are ``agents/ppo.yaml``'s ``test_scenarios`` (never trained
or tuned on) and ``train_scenarios`` (each board's own where the config gives one), plus ``two-models`` (``agents/ppo-two-models.yaml``'s
training scenario for the two-app checkpoint), reported in separate sections; the headline is
the test set's. ``energy vs baselines`` is the issue's matched comparison: PPO's energy saving
against the cheapest deployable baseline of the table (``static-best``, ``lut``, ``G@L best``,
a governor or ``G+dofa``) whose top-1 is no lower and misses no higher (the tolerances of
:mod:`rlrm.scores`), averaged over the *dynamic* test scenarios (load, targets or board state
change within an episode) and reported per *steady* one (:data:`STEADY`).

Seeds: evaluation seeds default to 1000..1004: below the tuning seeds (10000+k, used by
``static-best``, ``lut`` and PPO's periodic evaluation during training, which selects
nothing) and away from the training environments' first-reset seeds (0..n_envs-1).

    PYTHONPATH=$PWD python experiments/fair_comparison.py            # both boards, one process
    PYTHONPATH=$PWD python experiments/fair_comparison.py --boards odroid-xu3 --out /tmp/odroid
    PYTHONPATH=$PWD python experiments/fair_comparison.py --from-json /tmp/xavier.json /tmp/odroid.json

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

from rlrm.agents.registry import GOVERNOR_BASELINES
from rlrm.env import ENV_ID
from rlrm.train.config import load_config
from rlrm.scores import add_energy_vs_matched, add_normalized_scores, energy_vs_matched, mark_pareto, mean_score
from rlrm.jsonable import jsonable

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "experiments" / "results"
BOARDS = ["jetson-xavier-nx", "odroid-xu3"]
#: test scenarios whose load, targets and board state stay the same within an episode (a
#: constant frame rate and a stationary background): "never worse than 2 %" applies to these;
#: the others are the dynamic ones
STEADY = ("steady", "fanless-heat")
#: policies that are not deployable baselines for ``energy vs baselines``
NOT_BASELINES = ("ppo", "oracle", "random")
GOVERNORS = list(GOVERNOR_BASELINES)
FIXED = ["ppo", "static-best", "lut"]


def config_entry(config: Path, board: Optional[str] = None) -> dict:
    """The environment entry of a PPO config (agents/*.yaml), merged over its ``default`` and,
    for ``board``, with that board's ``boards`` overrides (rlrm.train.config.load_config)."""
    return load_config(config, ENV_ID, platform=board)


def trained_on(config: Path, board: Optional[str] = None) -> list[str]:
    """``train_scenarios`` of the environment entry of a PPO config (agents/*.yaml) on ``board``."""
    return list(config_entry(config, board).get("train_scenarios") or [])


def scenario_sets(board: Optional[str] = None) -> dict[str, list[str]]:
    """``{"test": [...], "train": [...], "two-models": ["two-models"]}`` from the shipped configs
    (for ``board``: its own training set where the config gives one)."""
    entry = config_entry(ROOT / "agents" / "ppo.yaml", board)
    return {"test": list(entry.get("test_scenarios") or []), "train": list(entry.get("train_scenarios") or []),
            "two-models": trained_on(ROOT / "agents" / "ppo-two-models.yaml", board)}


def set_of(scenario: str, sets: dict[str, list[str]]) -> str:
    """The set a scenario belongs to (``test``, ``train``, ``two-models`` or ``other``)."""
    return next((name for name, members in sets.items() if scenario in members), "other")


#: every scenario of the comparison: the test set first, then each board's training set
SCENARIOS = list(dict.fromkeys(s for b in [None, *BOARDS] for members in scenario_sets(b).values() for s in members))


def checkpoint_for(board: str, scenario: str) -> tuple[str, list[str]]:
    """The shipped checkpoint for the scenario's number of managed apps, and what it trained on."""
    if scenario == "two-models":
        return str(ROOT / "checkpoints" / f"{board}-ppo-2apps"), trained_on(ROOT / "agents" / "ppo-two-models.yaml", board)
    return str(ROOT / "checkpoints" / f"{board}-ppo"), trained_on(ROOT / "agents" / "ppo.yaml", board)


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
    sets = scenario_sets(board)
    for r in rows:
        r["trained_on"] = scenario in train
        r["set"] = set_of(scenario, sets)
    static = static_rows(board, scenario, episodes, seed, units)
    add_normalized_scores(rows)
    mark_pareto(rows, others=static)
    add_energy_vs_matched(rows, others=static)
    baselines = [r for r in rows if r["policy"] not in NOT_BASELINES]
    for r in rows:
        r["energy_vs_baselines"], r["baseline_matched_by"] = energy_vs_matched(r, baselines)
    return rows, static, train


def fmt(v: object, digits: int = 3) -> str:
    """A table cell: floats with ``digits`` decimals, NaN as n/a."""
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:.{digits}f}"
    return str(v)


def vs_matched(r: dict, key: str = "energy_vs_matched", by: str = "matched_by") -> str:
    vm = r.get(key, "n/a")
    return vm if isinstance(vm, str) else f"{100 * vm:+.1f} % vs {r[by]}"


def scenario_table(rows: list[dict]) -> list[str]:
    """The Markdown table of one scenario."""
    out = ["| policy | score | reward | mJ/inf | miss | top-1 | dominated | energy vs baselines | energy vs matched |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        out.append(f"| {r['policy']} | {fmt(r['normalized_score'])} | {fmt(r['reward_mean'])} | "
                   f"{fmt(r['energy_per_inference_mj'], 1)} | {fmt(r['deadline_miss_rate'])} | "
                   f"{fmt(r['accuracy_mean'], 2)} | {'yes' if r['pareto_dominated'] else 'no'} | "
                   f"{vs_matched(r, 'energy_vs_baselines', 'baseline_matched_by')} | {vs_matched(r)} |")
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


def headline(rows: list[dict], board: str, test: list[str], train: list[str]) -> dict:
    """The issue's done-when figures for one board: PPO's mean normalised score over the test
    and the training scenarios, its lowest test score, lut's and static-best's test means, and
    PPO's energy saving against the best matched deployable baseline (mean over the dynamic test
    scenarios, each steady one apart; an unmatched scenario is listed, not averaged)."""
    mine = [r for r in rows if r["platform"] == board]

    def scores(policy: str, scen: list[str]) -> list[float]:
        return [r["normalized_score"] for r in mine if r["policy"] == policy and r["scenario"] in scen]

    ppo_test = scores("ppo", test)
    finite = [v for v in ppo_test if isinstance(v, float) and math.isfinite(v)]
    saving: dict = {}
    for r in mine:
        if r["policy"] == "ppo" and r["scenario"] in test:
            saving[r["scenario"]] = r.get("energy_vs_baselines", "n/a")
    dynamic = [v for s, v in saving.items() if s not in STEADY and not isinstance(v, str)]
    return {"board": board, "ppo": mean_score(ppo_test)[0], "ppo_min": min(finite) if finite else math.nan,
            "ppo_train": mean_score(scores("ppo", train))[0], "lut": mean_score(scores("lut", test))[0],
            "static_best": mean_score(scores("static-best", test))[0],
            "ppo_minus_lut": mean_score(ppo_test)[0] - mean_score(scores("lut", test))[0],
            "energy_vs_baselines": saving,
            "energy_dynamic_mean": sum(dynamic) / len(dynamic) if dynamic else math.nan,
            "unmatched": [s for s, v in saving.items() if isinstance(v, str)]}


def headline_lines(verdicts: list[dict], test: list[str], train: dict[str, list[str]]) -> list[str]:
    """The headline section of the report (``train``: each board's training set)."""
    sets = {tuple(t) for t in train.values()}
    trained = (f"Training set: {', '.join(next(iter(sets))) or 'none'}." if len(sets) <= 1 and sets else
               "Training set: none." if not sets else
               "Training sets: " + "; ".join(f"{b}: {', '.join(t)}" for b, t in train.items()) + ".")
    lines = ["## Headline: the test scenarios (never trained or tuned on)", "",
             f"Test set: {', '.join(test)} (steady: {', '.join(s for s in test if s in STEADY) or 'none'}; "
             f"the others dynamic). {trained}", "",
             "| board | ppo (test) | lowest ppo (test) | ppo (train) | lut (test) | static-best (test) | ppo - lut "
             "| energy vs best matched baseline, dynamic test mean |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for v in verdicts:
        lines.append(f"| {v['board']} | {fmt(v['ppo'])} | {fmt(v['ppo_min'])} | {fmt(v['ppo_train'])} | "
                     f"{fmt(v['lut'])} | {fmt(v['static_best'])} | {v['ppo_minus_lut']:+.3f} | "
                     f"{fmt(100 * v['energy_dynamic_mean'], 1)} % |")
    lines.append("")
    for v in verdicts:
        per = "; ".join(f"{s}: {x if isinstance(x, str) else f'{100 * x:+.1f} %'}"
                        for s, x in v["energy_vs_baselines"].items())
        lines.append(f"- {v['board']}: energy saving against the best matched baseline per test scenario: {per}"
                     + (f" (no baseline matches PPO on {', '.join(v['unmatched'])})" if v["unmatched"] else "") + ".")
    return lines + [""]


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
    ap.add_argument("--from-json", nargs="+", default=None,
                    help="write the Markdown again from earlier runs' JSON (several: merged, e.g. one per board)")
    args = ap.parse_args(argv)
    if args.seed + args.episodes > 10_000:
        ap.error("evaluation seeds must stay below the tuning seeds (10000)")
    start = time.perf_counter()
    rows: list[dict] = []
    trained: dict = {}
    wall = 0.0
    if args.from_json:
        for path in args.from_json:
            old = json.loads(Path(path).read_text())
            if rows and (old["seeds"] != list(range(args.seed, args.seed + args.episodes)) or old["units"] != args.units):
                ap.error(f"{path}: seeds or units differ from {args.from_json[0]}'s; cannot merge")
            rows += [{k: unjson(v) for k, v in r.items()} for r in old["rows"]]
            trained.update(old["trained_on"])
            args.episodes, args.seed, args.units = len(old["seeds"]), old["seeds"][0], old["units"]
            wall += old["wall_s"]
        args.boards = list(dict.fromkeys(r["platform"] for r in rows))
        args.scenarios = list(dict.fromkeys(r["scenario"] for r in rows))
    for board in [] if args.from_json else args.boards:
        for scenario in args.scenarios:
            t0 = time.perf_counter()
            r, _, train = run_scenario(board, scenario, args.episodes, args.seed, args.units or None, args.governors)
            rows += r
            trained[f"{board}/{scenario}"] = train
            ppo = next(x for x in r if x["policy"] == "ppo")
            lut = next(x for x in r if x["policy"] == "lut")
            print(f"{board} {scenario}: ppo {ppo['normalized_score']:.3f} lut {lut['normalized_score']:.3f} "
                  f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    wall = wall if args.from_json else time.perf_counter() - start
    seeds = f"{args.seed}..{args.seed + args.episodes - 1}"
    lines = ["# Fair comparison: the shipped PPO policies against the baselines", "",
             f"Reproduce: `PYTHONPATH=$PWD python experiments/fair_comparison.py --episodes {args.episodes} "
             f"--seed {args.seed}` ({wall / 60:.0f} CPU-bound minutes in all on this 2-core machine; boards may run as "
             "separate processes and be merged with `--from-json`).", "",
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
             "or unmatched. energy vs baselines: the same against the deployable baselines of the table only "
             "(static-best, lut, G@L best, the governors, G+dofa): the headline's matched comparison.",
             "- ppo: `checkpoints/<board>-ppo` on the one-app scenarios (trained on its board's training set, "
             "below, with domain randomisation), `checkpoints/<board>-ppo-2apps` on "
             "two-models (trained on it). Evaluation runs without randomisation.",
             "- Governors: `G` runs the largest subnetwork; `G+dofa` Dynamic-OFA's manager; `G@L best` is the best "
             "`G@L` on the tuning seeds (from static-best's shortlist).", ""]
    test = [x for x in scenario_sets()["test"] if x in args.scenarios]
    train = {b: [x for x in scenario_sets(b)["train"] if x in args.scenarios] for b in args.boards}
    verdicts = [headline(rows, b, test, train[b]) for b in args.boards]
    lines += headline_lines(verdicts, test, train)
    for board in args.boards:
        sets = scenario_sets(board)
        mine = [r for r in rows if r["platform"] == board]
        for title, pick in (("the test set (never trained on)", "test"), ("the training set", "train"),
                            ("two-models (the two-app checkpoint's training scenario)", "two-models"),
                            ("other scenarios", "other")):
            scen = [s for s in args.scenarios if set_of(s, sets) == pick and any(r["scenario"] == s for r in mine)]
            if not scen:
                continue
            lines += [f"## {board}: {title}", "",
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
