"""Benchmark of the controller's own cost per control step, and a 100,000-decision soak.

The controller's time per step is everything but the inferences: building the observation,
the action mask (cached per power mode), the NumPy policy's decision, decoding it to an
operating point and the metrics bookkeeping. It is measured on the simulated backend (whose
``step`` stands in for the inferences and is not timed), with the shipped Xavier NX policy,
and compared with the smallest demo subnetwork's inference time on this machine.

Run: ``PYTHONPATH=$PWD python3 experiments/bench_controller.py [--steps N] [--soak N]``.
The last line is ``decision_us_median: X``.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rlrm.env import DynamicDNNEnv  # noqa: E402
from rlrm.evaluate import checkpoint_env_kwargs, resolve_policy  # noqa: E402
from rlrm.live.controller import FastDecider, MaskCache  # noqa: E402
from rlrm.metrics import MetricsAccumulator  # noqa: E402

POLICY = str(ROOT / "checkpoints" / "jetson-xavier-nx-ppo")


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def controller_steps(n: int, timed: bool = True) -> tuple[list[float], float]:
    """Run ``n`` control steps on the simulator; returns per-step controller times (us) and
    the fraction of decisions equal to ``predict(deterministic=True)`` (checked on a sample)."""
    policy = resolve_policy(POLICY)
    env = DynamicDNNEnv("jetson-xavier-nx", "steady", **checkpoint_env_kwargs(policy))
    env.reset(seed=0)
    policy.reset(env)
    decider = FastDecider(policy.policy)
    masks = MaskCache(env)
    acc = MetricsAccumulator()
    clock = time.perf_counter_ns
    times: list[float] = []
    agree = checked = 0
    result = None
    reward = 0.0
    for i in range(n):
        t0 = clock()
        obs = env._observation()
        if result is not None:
            acc.add(result, reward)
        mask = masks.get()
        action = decider.decide(obs, mask)
        points, _ = env.points_for(action)
        t1 = clock()
        if timed:
            times.append((t1 - t0) / 1000.0)
        if i % 97 == 0:
            checked += 1
            agree += int(action == policy.policy.predict(obs, action_masks=mask)[0])
        # the "inference": the simulator's step, not timed
        result = env.sim.step(points)
        reward, _ = env.reward_of(result)
        env._last, env._prev = result, points
        env._t += 1
        if env._t >= env.episode_steps:
            env.reset()
            acc.reset()
            result = None
    return times, agree / max(1, checked)


def smallest_inference_ms() -> float:
    """Median latency of the demo model's smallest level (level 0) on this machine, one thread
    (as `rlrm run` would run it with one core)."""
    import torch

    from rlrm.dnn.demo import load_demo, measure_latency_ms

    model = load_demo()
    model.switch(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            return measure_latency_ms(model, model.resolution, warmup=20, repeats=200)[0]
    finally:
        torch.set_num_threads(threads)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20000, help="timed control steps")
    ap.add_argument("--soak", type=int, default=100000, help="decisions of the soak")
    args = ap.parse_args()

    controller_steps(2000, timed=False)  # warm up
    times, agree = controller_steps(args.steps)
    med = statistics.median(times)
    p99 = float(np.percentile(times, 99))
    print(f"controller per step ({args.steps} steps, simulated backend, shipped Xavier NX policy): "
          f"median {med:.1f} us, p99 {p99:.1f} us; decisions equal to predict(): {agree * 100:.1f} %")

    inf_ms = smallest_inference_ms()
    print(f"smallest demo subnetwork (level 0), one inference here: {inf_ms * 1000:.0f} us; "
          f"controller / inference = {med / (inf_ms * 1000) * 100:.2f} % (target <= 2 %)")

    gc.collect()
    rss0, fd0 = _rss_mb(), _fds()
    t0 = time.perf_counter()
    controller_steps(args.soak, timed=False)
    gc.collect()
    rss1, fd1 = _rss_mb(), _fds()
    print(f"soak: {args.soak} decisions on the simulated backend in {time.perf_counter() - t0:.1f} s; "
          f"memory growth {rss1 - rss0:.2f} MB (RSS {rss0:.1f} -> {rss1:.1f} MB, target < 5); "
          f"open file descriptors {fd0} -> {fd1}")
    print(f"decision_us_median: {med:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
