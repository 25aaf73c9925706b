"""Retrain the demo Dynamic-OFA model shipped in checkpoints/demo/.

A narrow OFA MobileNetV3 supernet (width 0.35, 10 classes) trained on scikit-learn's digits
(upscaled to 32x32) with progressive shrinking and the sandwich rule; levels chosen on the
validation split, accuracy measured on the test split. See rlrm/dnn/demo.py.

    PYTHONPATH=$PWD python3 experiments/train_demo.py [--out checkpoints/demo] [--seed 0] [--epoch-scale 1]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from rlrm.dnn.demo import DEMO_DIR, train_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEMO_DIR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epoch-scale", type=float, default=1.0, help="multiply every phase's epochs")
    parser.add_argument("--levels", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (1: small layers gain little from more, and "
                             "a shared machine makes more threads much slower)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = train_demo(args.out, seed=args.seed, epoch_scale=args.epoch_scale, n_levels=args.levels,
                      log=lambda msg: print(msg, flush=True))
    print(f"wrote {args.out}")
    for r in rows:
        print(f"level {r['level']}: {r['resolution']} px  top1 {r['top1']:.2f} %  "
              f"{r['latency_ms']:.2f} ms  {r['mflops']:.3f} MMACs  {r['mparams']:.3f} M params")


if __name__ == "__main__":
    main()
