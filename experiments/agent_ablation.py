"""Which changes to the PPO agent measurably help on the training scenarios (issue 13, item 5).

Each variant overrides ``agents/ppo.yaml`` (``rlrm.train.train(hyperparameters=...)``), is
trained on the training set (``--scenario mix``, with the config's domain randomisation), and
its final policy is exported and evaluated on every *training* scenario on validation seeds
(default 3000..3002): never the test scenarios and never the fair comparison's evaluation seeds
(1000..1004), so choosing a variant here does not tune on what is reported. The score is the
mean normalised score ((R - R_random) / (R_oracle - R_random), :mod:`rlrm.scores`) over the
training scenarios; the random and oracle rewards are computed once per scenario and seed set
and cached in the output folder.

One variant per process, so two can train side by side on a 2-core machine::

    PYTHONPATH=$PWD python experiments/agent_ablation.py --variant base --timesteps 1000000 &
    PYTHONPATH=$PWD python experiments/agent_ablation.py --variant long-horizon --timesteps 1000000 &
    wait; PYTHONPATH=$PWD python experiments/agent_ablation.py --report

writes ``experiments/results/agent-ablation-<platform>.md`` (and a JSON per variant in
``--out``, default ``experiments/runs/ablation``, not committed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "experiments" / "results"

#: overrides of agents/ppo.yaml per variant (absolute: each names every key the variants vary,
#: so a variant means the same whatever ppo.yaml's defaults for them are; ppo.yaml ships
#: ``history``'s settings)
VARIANTS: dict[str, dict[str, Any]] = {
    "base": {"gamma": 0.5, "gae_lambda": 0.9, "history": 0},
    # a horizon of ~20 control periods (s): queues, temperatures and energy windows outlive one step
    "long-horizon": {"gamma": 0.95, "gae_lambda": 0.95, "history": 0},
    # the measured elements of the 2 previous steps in the observation (trends)
    "history": {"gamma": 0.5, "gae_lambda": 0.9, "history": 2},
    "long-horizon-history": {"gamma": 0.95, "gae_lambda": 0.95, "history": 2},
    "mid-horizon": {"gamma": 0.8, "gae_lambda": 0.9, "history": 0},
    "long-horizon-wide": {"gamma": 0.95, "gae_lambda": 0.95, "history": 0,
                          "policy_kwargs": {"net_arch": {"pi": [256, 256], "vf": [256, 256]}, "activation_fn": "tanh"}},
    # the scenarios whose targets the Odroid XU3 can meet (its training set before saturated-two)
    "own-five": {"gamma": 0.5, "gae_lambda": 0.9, "history": 0,
                 "train_scenarios": ["steady", "second-app", "bursty", "changing-target", "power-cap"]},
    # the Odroid XU3's own set plus two of the scenarios whose targets it cannot meet (frame queues
    # full whatever the policy), so that it sees that regime; encode-burst and second-model stay
    # out for validation (--validate-on)
    "saturated-two": {"gamma": 0.5, "gae_lambda": 0.9, "history": 0,
                      "train_scenarios": ["steady", "second-app", "bursty", "changing-target", "power-cap",
                                          "camera-30fps", "battery-30s"]},
}


def training_scenarios(platform: str) -> list[str]:
    """The board's training set (agents/ppo.yaml, with its ``boards`` override where it has one)."""
    from rlrm.env import ENV_ID
    from rlrm.train.config import load_config

    return list(load_config("ppo", ENV_ID, platform=platform)["train_scenarios"])


def references(platform: str, scenarios: list[str], episodes: int, seed: int, units: list, cache: Path) -> dict:
    """Random and oracle mean rewards per scenario on the validation seeds (cached)."""
    from rlrm.agents.registry import make_policy
    from rlrm.env import DynamicDNNEnv
    from rlrm.evaluate.episodes import run_episodes

    path = cache / f"references-{platform}-{seed}-{episodes}.json"
    refs = json.loads(path.read_text()) if path.exists() else {}
    for s in scenarios:
        if s in refs:
            continue
        env = DynamicDNNEnv(platform=platform, scenario=s, units=units)
        refs[s] = {p: run_episodes(make_policy(p), env, episodes, seed)[0]["reward_mean"] for p in ("random", "oracle")}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")  # variants run side by side: never a torn file
        tmp.write_text(json.dumps(refs, indent=1))
        os.replace(tmp, path)
    return refs


def validation_set(platform: str, names: Optional[str]) -> tuple[list[str], str]:
    """The scenarios a variant is scored on and the result file's tag: the board's training set,
    or ``names`` (comma-separated; never a test scenario)."""
    from rlrm.env import ENV_ID
    from rlrm.train.config import load_config

    if not names:
        return training_scenarios(platform), ""
    scenarios = [x.strip() for x in names.split(",") if x.strip()]
    test = set(load_config("ppo", ENV_ID, platform=platform).get("test_scenarios") or [])
    bad = [x for x in scenarios if x in test]
    if bad:
        raise SystemExit(f"--validate-on: {bad[0]} is a test scenario (never scored here)")
    return scenarios, "-val-" + "-".join(sorted(scenarios))


def run_variant(name: str, platform: str, timesteps: int, seed: int, episodes: int, eval_seed: int, out: Path,
                eval_only: bool = False, validate_on: Optional[str] = None) -> dict:
    from rlrm.env import ENV_ID, DynamicDNNEnv
    from rlrm.evaluate.episodes import checkpoint_env_kwargs, resolve_policy, run_episodes
    from rlrm.policy.export import export_run
    from rlrm.scores import normalized_score
    from rlrm.train.api import train
    from rlrm.train.config import load_config

    units = load_config("ppo", ENV_ID).get("units")
    scenarios, tag = validation_set(platform, validate_on)
    ckpt = out / f"{platform}-{name}-s{seed}-policy"
    if eval_only:  # the variant's earlier run, evaluated again
        log = [json.loads(x) for x in (out / f"{platform}-{name}-s{seed}" / "train_log.jsonl").read_text().splitlines()]
        train_s, final = log[-1]["wall_s"], None
    else:
        shutil.rmtree(out / f"{platform}-{name}-s{seed}", ignore_errors=True)  # a re-run starts afresh
        start = time.perf_counter()
        result = train(platform=platform, scenario="mix", hyperparameters=VARIANTS[name], timesteps=timesteps,
                       seed=seed, logdir=out, run_name=f"{platform}-{name}-s{seed}", progress_bar=False)
        train_s, final = time.perf_counter() - start, result.final_reward
        export_run(result.run_dir, ckpt, force=True)
    refs = references(platform, scenarios, episodes, eval_seed, units, out)
    rows = {}
    policy = resolve_policy(str(ckpt))
    kwargs = checkpoint_env_kwargs(policy)  # its units and history
    for s in scenarios:
        env = DynamicDNNEnv(platform=platform, scenario=s, **kwargs)
        summary = run_episodes(policy, env, episodes, eval_seed)[0]
        score = normalized_score(summary["reward_mean"], refs[s]["random"], refs[s]["oracle"])
        rows[s] = {"score": score, "reward": summary["reward_mean"], "miss": summary["deadline_miss_rate"],
                   "energy_per_inference_mj": summary["energy_per_inference_mj"], "top1": summary["accuracy_mean"]}
        print(f"{name} {s}: score {score:.3f} reward {summary['reward_mean']:.3f}", file=sys.stderr, flush=True)
    doc = {"variant": name, "overrides": VARIANTS[name], "platform": platform, "timesteps": timesteps, "seed": seed,
           "eval_seeds": [eval_seed, eval_seed + episodes - 1], "train_minutes": train_s / 60,
           "final_eval_reward": final, "scenarios": rows,
           "mean_score": sum(r["score"] for r in rows.values()) / len(rows)}
    (out / f"{platform}-{name}-s{seed}{tag}.json").write_text(json.dumps(doc, indent=1))
    return doc


def report(out: Path, platform: str) -> Path:
    every = [json.loads(p.read_text()) for p in sorted(out.glob(f"{platform}-*-s*.json"))]
    if not every:
        raise SystemExit(f"no variant results for {platform} in {out}")
    groups: dict[tuple, list[dict]] = {}
    for d in every:
        groups.setdefault(tuple(d["scenarios"]), []).append(d)
    parts = [table_lines(docs, list(scen)) for scen, docs in groups.items()]
    path = RESULTS / f"agent-ablation-{platform}.md"
    text = "\n\n".join("\n".join(p) for p in parts) + "\n"
    path.write_text(text)
    print(text)
    return path


def table_lines(docs: list[dict], scen: list[str]) -> list[str]:
    """The tables of the variants scored on one scenario set."""
    platform = docs[0]["platform"]
    lines = [f"# PPO agent variants on `{platform}`: {', '.join(scen)}; validation seeds", "",
             "`PYTHONPATH=$PWD python experiments/agent_ablation.py --variant V --timesteps N` per variant, then "
             "`--report`. Normalised score per scenario (random 0, oracle 1) on validation seeds "
             f"{docs[0]['eval_seeds'][0]}..{docs[0]['eval_seeds'][1]} (never the test scenarios, never the fair "
             "comparison's seeds). Training minutes are wall-clock with two variants training side by side "
             "on 2 cores.", "",
             "| variant | overrides | steps | train min | mean score | " + " | ".join(scen) + " |",
             "| --- | --- | --- | --- | --- | " + " --- |" * len(scen)]
    for d in sorted(docs, key=lambda d: -d["mean_score"]):
        cells = " | ".join(f"{d['scenarios'][s]['score']:.3f}" for s in scen)
        lines.append(f"| {d['variant']} (seed {d['seed']}) | `{json.dumps(d['overrides'])}` | {d['timesteps']} | "
                     f"{d['train_minutes']:.1f} | {d['mean_score']:.3f} | {cells} |")
    lines += ["", "Deadline-miss rate per scenario:", "", "| variant | " + " | ".join(scen) + " |",
              "| --- |" + " --- |" * len(scen)]
    for d in sorted(docs, key=lambda d: -d["mean_score"]):
        lines.append(f"| {d['variant']} (seed {d['seed']}) | " + " | ".join(f"{d['scenarios'][s]['miss']:.3f}" for s in scen)
                     + " |")
    return lines


def main(argv: Any = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", choices=sorted(VARIANTS))
    ap.add_argument("--platform", default="jetson-xavier-nx")
    ap.add_argument("--timesteps", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0, help="training seed")
    ap.add_argument("--episodes", type=int, default=3)
    ap.add_argument("--eval-seed", type=int, default=3000, help="first validation seed")
    ap.add_argument("--out", default=str(ROOT / "experiments" / "runs" / "ablation"))
    ap.add_argument("--report", action="store_true", help="write the table from the variants' results")
    ap.add_argument("--eval-only", action="store_true", help="evaluate the variant's earlier run again")
    ap.add_argument("--validate-on", default=None,
                    help="comma-separated scenarios to score on instead of the board's training set (never a test "
                         "scenario; e.g. scenarios a variant's training set leaves out); results tagged apart")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.report:
        print(f"wrote {report(out, args.platform)}", file=sys.stderr)
        return 0
    if not args.variant:
        ap.error("--variant or --report")
    doc = run_variant(args.variant, args.platform, args.timesteps, args.seed, args.episodes, args.eval_seed, out,
                      args.eval_only, args.validate_on)
    print(f"{args.variant}: mean score {doc['mean_score']:.3f} ({doc['train_minutes']:.1f} min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
