"""How long does switching the Dynamic-OFA sub-network take, in-process?

Builds the real-size supernet (ofa_mbv3_d234_e346_k357_w1.2, 1000 classes; random weights,
nothing downloaded: switching cost does not depend on weight values), wraps it with the
six-level Dynamic-OFA library, gives every level its own BatchNorm statistics, then times
``switch(level)`` over many switches between random levels. A switch is complete when it
returns: the next inference runs the new level (checked below by comparing the first
inference after a switch with the level's static sub-network).

The Dynamic-OFA runtime demo instead starts a new process per switch (5-6 s).

    PYTHONPATH=$PWD python3 experiments/bench_switch.py [--switches 5000] [--library dynamic-ofa-6]

Last line: ``switch_ms_median: X``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch

from rlrm.dnn.dynamic_ofa import DynamicOFA
from rlrm.dnn.library import load_library
from rlrm.dnn.supernet import OFAMobileNetV3


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--switches", type=int, default=5000)
    parser.add_argument("--library", default="dynamic-ofa-6")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the inference checks")
    parser.add_argument("--inference-checks", type=int, default=30, help="switches followed by timed inferences")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    library = load_library(args.library)
    arch = library.arch
    supernet = OFAMobileNetV3(
        n_classes=arch.n_classes, width_mult=arch.width_mult, ks_list=arch.ks_list,
        expand_ratio_list=arch.expand_ratio_list, depth_list=arch.depth_list, dropout_rate=0.0,
    )
    model = DynamicOFA(supernet, library).eval()
    # Per-level BatchNorm statistics from a small random sample (values do not matter here).
    model.calibrate([torch.randn(2, 3, 64, 64)])

    times: list[float] = []
    level = model.level
    for _ in range(args.switches):
        nxt = rng.choice([x for x in range(model.n_levels) if x != level])
        t0 = time.perf_counter()
        model.switch(nxt)
        times.append((time.perf_counter() - t0) * 1e3)
        level = nxt

    # The switch is complete on return: the first inference after it is the level's network
    # (equal to its static sub-network) and, once every level has run once (one-time
    # kernel set-up per input shape), no slower than the inferences that follow.
    xs = {lv: torch.randn(1, 3, library[lv].resolution, library[lv].resolution) for lv in range(model.n_levels)}
    checks = []
    ratios = []
    with torch.no_grad():
        for lv in range(model.n_levels):
            model.switch(lv)
            model(xs[lv])
        for lv in rng.sample(range(model.n_levels), k=min(3, model.n_levels)):
            model.switch(lv)
            y = model(xs[lv])
            ref = model.static_subnet(lv).eval()(xs[lv])
            checks.append((lv, float((y - ref).abs().max()), bool(torch.equal(y, model(xs[lv])))))
        level = model.level
        for _ in range(args.inference_checks):
            nxt = rng.choice([x for x in range(model.n_levels) if x != level])
            model.switch(nxt)
            level = nxt
            t0 = time.perf_counter()
            model(xs[nxt])
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            model(xs[nxt])
            ratios.append(first / (time.perf_counter() - t0))

    print(f"supernet {arch.name}, {arch.n_classes} classes, {sum(p.numel() for p in supernet.parameters()) / 1e6:.2f} M parameters")
    print(f"library {library.name}: {model.n_levels} levels, torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print(f"switches: {len(times)}  median {statistics.median(times):.4f} ms  p90 {percentile(times, 90):.4f} ms  "
          f"p99 {percentile(times, 99):.4f} ms  max {max(times):.4f} ms")
    for lv, diff, same in checks:
        print(f"level {lv}: first inference after switch: max |supernet - static subnet| = {diff:.2e}, repeatable: {same}")
    print(f"first / second inference time after a switch, {len(ratios)} random switches: median "
          f"{statistics.median(ratios):.3f}, p90 {percentile(ratios, 90):.3f}")
    print("Dynamic-OFA runtime demo (new process per switch): 5-6 s")
    print(f"switch_ms_median: {statistics.median(times):.4f}")


if __name__ == "__main__":
    main()
