"""Wall time until PPO's evaluation reward reaches 90 % of the run's final value.

Run: ``python experiments/bench_train.py [--platform P] [--timesteps N] [--config ppo]``.
It trains with ``rlrm train`` (scenario mix, the config's held-out evaluation), reads the
run's ``eval/eval_log.jsonl`` and prints, as its last line, ``train_minutes_to_90pct: X``
(target <= 15 on this 2-core machine). The evaluations (a few episodes each) are noisy, so
the curve is first smoothed with a running mean over ``--window`` evaluations; "90 % of the
final value" is measured on the reward scale relative to the start: the first time the
smoothed reward reaches ``r0 + 0.9 * (r_final - r0)`` and stays there, with ``r0`` and
``r_final`` the first and last smoothed values.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from rlrm.train.api import train


def minutes_to_90pct(log: list[dict], window: int = 10) -> tuple[float, float, float]:
    rewards = [e["mean_reward"] for e in log]
    smooth = [sum(rewards[max(0, i - window + 1): i + 1]) / len(rewards[max(0, i - window + 1): i + 1])
              for i in range(len(rewards))]
    r0, final = smooth[0], smooth[-1]
    threshold = r0 + 0.9 * (final - r0)
    for i in range(len(smooth)):
        if all(v >= threshold for v in smooth[i:]):
            return log[i]["wall_s"] / 60.0, final, threshold
    return log[-1]["wall_s"] / 60.0, final, threshold


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--platform", default="jetson-xavier-nx")
    ap.add_argument("--scenario", default="mix")
    ap.add_argument("--config", default="ppo")
    ap.add_argument("--timesteps", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", default=None, help="keep the run in this folder")
    ap.add_argument("--window", type=int, default=10, help="evaluations in the running mean")
    args = ap.parse_args()
    logdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="rlrm-bench-"))
    run = train(platform=args.platform, scenario=args.scenario, config=args.config, timesteps=args.timesteps,
                seed=args.seed, logdir=logdir, run_name="bench", progress_bar=False).run_dir
    log = [json.loads(line) for line in (run / "eval" / "eval_log.jsonl").read_text().splitlines()]
    minutes, final, threshold = minutes_to_90pct(log, args.window)
    total = json.loads((run / "train_log.jsonl").read_text().splitlines()[-1])
    print(f"{len(log)} evaluations; smoothed final {final:.3f}, threshold {threshold:.3f}; "
          f"{total['timesteps']} steps in {total['wall_s'] / 60:.1f} min")
    if not args.keep:
        shutil.rmtree(logdir, ignore_errors=True)
    print(f"train_minutes_to_90pct: {minutes:.2f}")


if __name__ == "__main__":
    main()
