"""How the shipped policies hold on a board they were not trained on.

Run: ``python experiments/cross_board.py [--episodes 10]`` after
``experiments/shipped_policy.py`` has written the checkpoints. Writes
``experiments/results/cross-board.md``:

1. each board's policy on the *other* board: refused (the boards' action tables differ:
   other units, core counts and frequency tables), with the one-line error it prints;
2. each policy on an unseen variant of its own board, outside the training randomisation
   (latency x1.15, unit power x1.25, background x1.5, and 20 % of frequencies missing), on
   every single-app scenario, against the oracle and schedutil+dofa on the same variant.
"""

from __future__ import annotations

import argparse

from rlrm.agents.registry import make_policy
from rlrm.env import DynamicDNNEnv
from rlrm.errors import InputError
from rlrm.evaluate import resolve_policy, run_episodes
from rlrm.paths import CHECKPOINTS_DIR, PROJECT_ROOT

BOARDS = ("jetson-xavier-nx", "odroid-xu3")
VARIANT = {"latency_scale": [1.15, 1.15], "power_scale": [1.25, 1.25], "background_scale": [1.5, 1.5],
           "freq_dropout": 0.2}
SCENARIOS = ("steady", "second-app", "bursty", "changing-target", "power-cap", "mixed")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=10)
    args = ap.parse_args()
    lines = ["# Shipped policies on boards they were not trained on", "",
             f"`python experiments/cross_board.py --episodes {args.episodes}` reproduces this file.", "",
             "## On the other board", ""]
    for board in BOARDS:
        other = BOARDS[1 - BOARDS.index(board)]
        try:
            policy = resolve_policy(str(CHECKPOINTS_DIR / f"{board}-ppo"))
            policy.reset(DynamicDNNEnv(platform=other, scenario="steady", units=["gpu"]))
            lines.append(f"- `{board}-ppo` on `{other}`: accepted (unexpected)")
        except InputError as err:
            lines.append(f"- `{board}-ppo` on `{other}`: refused: `{err}`")
    lines += ["", "The two boards have different units (one Carmel cluster vs A7 + A15) and frequency tables, so "
              "their action tables differ and a policy cannot act on the other board; each board ships its own.", "",
              "## On an unseen variant of its own board", "",
              f"Variant (outside the training ranges 0.9-1.1 / 0.5-1.5 / 0.1): {VARIANT}.", "",
              "| board | scenario | ppo reward | oracle reward | fraction | ppo miss | schedutil+dofa reward |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    gaps: list[tuple[float, bool]] = []
    for board in BOARDS:
        for scenario in SCENARIOS:
            env = DynamicDNNEnv(platform=board, scenario=scenario, units=["gpu"], randomization=VARIANT)
            ppo = run_episodes(resolve_policy(str(CHECKPOINTS_DIR / f"{board}-ppo")), env, args.episodes, 2000)[0]
            oracle = run_episodes(make_policy("oracle"), env, args.episodes, 2000)[0]
            dofa = run_episodes(make_policy("schedutil+dofa"), env, args.episodes, 2000)[0]
            frac = ppo["reward_mean"] / oracle["reward_mean"] if oracle["reward_mean"] > 0 else float("nan")
            lines.append(f"| {board} | {scenario} | {ppo['reward_mean']:.3f} | {oracle['reward_mean']:.3f} | {frac:.3f} | "
                         f"{ppo['deadline_miss_rate']:.4f} | {dofa['reward_mean']:.3f} |")
            print(lines[-1], flush=True)
            gaps.append((ppo["reward_mean"] - oracle["reward_mean"], ppo["reward_mean"] > dofa["reward_mean"]))
    lines += ["", f"Reading: the variant makes several scenarios infeasible for every policy (negative oracle reward, "
              f"fraction undefined). The policy's reward is within {max(-g for g, _ in gaps):.3f} of the oracle's "
              f"in every case and above schedutil+dofa's in {sum(b for _, b in gaps)} of {len(gaps)}."]
    out = PROJECT_ROOT / "experiments" / "results" / "cross-board.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
