"""How fast does the demo model run through ONNX Runtime, against the torch path?

Exports the shipped demo supernet (``checkpoints/demo``) with ``rlrm dnn export-onnx``'s code
(one ONNX file per level), loads both the torch model (:class:`DynamicOFA`, what ``rlrm run
--model demo`` runs) and the export (:class:`OnnxDynamicModel`, what ``--model onnx:DIR``
runs), and times single-image inferences of every level in alternating rounds (torch, ONNX,
torch, ...: both see the same machine load), each path with the same number of threads.
Also times ``switch(level)`` of both. Inputs are the level's resolution, as ``rlrm run
--input synthetic`` feeds them.

    PYTHONPATH=$PWD python3 experiments/bench_onnx.py [--rounds 20] [--per-round 25] [--threads 1]

Writes ``experiments/results/bench-onnx.json``. Last line: ``onnx_over_torch_latency: X``
(geometric mean over levels of the ratio of medians; below 1: ONNX Runtime faster).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rlrm.dnn.onnx_export import export_onnx
from rlrm.dnn.onnx_model import OnnxDynamicModel
from rlrm.live.inference import load_model

RESULTS = Path(__file__).resolve().parent / "results"


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def time_calls(fn, x, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn(x)
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--per-round", type=int, default=25, help="inferences per level, path and round")
    parser.add_argument("--threads", type=int, default=1, help="threads of both paths (torch intra-op, ORT intra-op)")
    parser.add_argument("--switches", type=int, default=2000)
    parser.add_argument("--export", type=Path, default=None, help="reuse this export folder (else a fresh one)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)

    model = load_model("demo")
    tmp = None
    export = args.export
    if export is None or not (export / "manifest.json").is_file():
        if export is None:
            tmp = tempfile.TemporaryDirectory()
            export = Path(tmp.name) / "demo-onnx"
        t0 = time.perf_counter()
        export_onnx(model, export, source="demo")
        print(f"exported {model.n_levels} levels in {time.perf_counter() - t0:.1f} s")
    onnx = OnnxDynamicModel(export, device="cpu", threads=args.threads)

    levels = list(range(model.n_levels))
    xs = {lv: torch.randn(1, 3, model.library[lv].resolution, model.library[lv].resolution) for lv in levels}
    xn = {lv: xs[lv].numpy() for lv in levels}
    t_torch: dict[int, list[float]] = {lv: [] for lv in levels}
    t_onnx: dict[int, list[float]] = {lv: [] for lv in levels}
    with torch.inference_mode():
        for lv in levels:  # one-time set-up per shape, untimed
            model.switch(lv)
            onnx.switch(lv)
            for _ in range(5):
                model(xs[lv])
                onnx(xn[lv])
        for _ in range(args.rounds):
            for lv in rng.sample(levels, len(levels)):
                model.switch(lv)
                onnx.switch(lv)
                t_torch[lv] += time_calls(model, xs[lv], args.per_round)
                t_onnx[lv] += time_calls(onnx, xn[lv], args.per_round)
        # same outputs (the export is the model)
        diffs = []
        for lv in levels:
            model.switch(lv)
            onnx.switch(lv)
            diffs.append(float(np.max(np.abs(model(xs[lv]).numpy() - onnx(xn[lv])))))

    sw_torch, sw_onnx = [], []
    level = 0
    for _ in range(args.switches):
        nxt = rng.choice([x for x in levels if x != level])
        t0 = time.perf_counter()
        model.switch(nxt)
        t1 = time.perf_counter()
        onnx.switch(nxt)
        t2 = time.perf_counter()
        sw_torch.append((t1 - t0) * 1e3)
        sw_onnx.append((t2 - t1) * 1e3)
        level = nxt

    import onnxruntime as ort

    print(f"demo model, {model.n_levels} levels; torch {torch.__version__}, onnxruntime {ort.__version__} "
          f"({', '.join(onnx.providers)}); {args.threads} thread(s) each; {args.rounds} rounds x {args.per_round} inferences")
    print(f"{'level':>5} {'res':>4} {'torch ms median':>16} {'p90':>7} {'onnx ms median':>15} {'p90':>7} {'onnx/torch':>10} {'max |diff|':>10}")
    ratios = []
    rows = []
    for lv in levels:
        mt, mo = statistics.median(t_torch[lv]), statistics.median(t_onnx[lv])
        ratios.append(mo / mt)
        rows.append({"level": lv, "resolution": model.library[lv].resolution, "torch_ms_median": mt,
                     "torch_ms_p90": percentile(t_torch[lv], 90), "onnx_ms_median": mo,
                     "onnx_ms_p90": percentile(t_onnx[lv], 90), "ratio": mo / mt, "max_abs_diff": diffs[lv]})
        print(f"{lv:>5} {model.library[lv].resolution:>4} {mt:>16.3f} {percentile(t_torch[lv], 90):>7.3f} "
              f"{mo:>15.3f} {percentile(t_onnx[lv], 90):>7.3f} {mo / mt:>10.3f} {diffs[lv]:>10.1e}")
    geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    print(f"switch(level): torch median {statistics.median(sw_torch):.4f} ms (p99 {percentile(sw_torch, 99):.4f}), "
          f"onnx median {statistics.median(sw_onnx):.4f} ms (p99 {percentile(sw_onnx, 99):.4f})")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench-onnx.json").write_text(json.dumps({
        "threads": args.threads, "rounds": args.rounds, "per_round": args.per_round,
        "torch": torch.__version__, "onnxruntime": ort.__version__, "levels": rows,
        "switch_ms_median": {"torch": statistics.median(sw_torch), "onnx": statistics.median(sw_onnx)},
        "onnx_over_torch_latency": geo,
    }, indent=1) + "\n")
    if tmp is not None:
        tmp.cleanup()
    print(f"onnx_over_torch_latency: {geo:.3f}")


if __name__ == "__main__":
    main()
