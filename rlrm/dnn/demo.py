"""A real, small Dynamic-OFA model: a narrow OFA supernet trained on scikit-learn's digits.

The dataset ships inside scikit-learn (1797 8x8 grey-scale digits, 10 classes), so nothing
is downloaded. Images are upscaled to 32x32 (bilinear) and repeated to 3 channels; each
level runs at its own resolution (12..32 px). Clean upscaled digits are too easy to tell
sub-networks apart (a first run gave 95.3 % for the smallest and 97.8 % for the largest), so
every image is distorted: random rotation (+-20 deg), scale (0.8..1.15), shift (+-15 %) and
Gaussian pixel noise (sigma 0.25); training images afresh each step, validation and test
images three times each with fixed seeds. The split is fixed (seeded, stratified): 60 % train, 15 %
validation (used to choose the levels), 25 % test (only used to report).

Training follows once-for-all's progressive shrinking with the sandwich rule:

1. the full network (largest kernel, expand ratio and depth) with labels;
2. elastic kernel size, 3. elastic depth, 4. elastic expand ratio (middle channels
   importance-sorted first), each phase widening the sampled space; every step trains the
   largest sub-network on labels and the smallest plus ``n_random`` random ones on the
   largest one's soft outputs (in-place distillation), each at a random resolution.

Then candidate sub-networks are scored on the validation split (each with recalibrated
BatchNorm statistics), the accuracy/MACs Pareto front is thinned to the levels of the
library, and test accuracy is measured per level.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from rlrm.dnn.arch import SupernetArch
from rlrm.dnn.dynamic_ofa import DynamicOFA
from rlrm.dnn.flops import count_subnet
from rlrm.dnn.library import SubnetLibrary, SubnetSpec
from rlrm.dnn.supernet import OFAMobileNetV3
from rlrm.paths import CHECKPOINTS_DIR

DEMO_DIR = CHECKPOINTS_DIR / "demo"
DEMO_WIDTH = 0.35
DEMO_CLASSES = 10
BASE_RESOLUTION = 32
RESOLUTIONS = (12, 16, 20, 24, 28, 32)
SPLIT = (0.60, 0.15, 0.25)


@dataclass
class DigitsData:
    """The digits split at 32x32, 3 channels.

    ``train_x`` holds clean images in [0, 1]; :meth:`train_batch` distorts and normalises a
    fresh copy each time. ``val_x`` / ``test_x`` are distorted once (seeded) and normalised.

    :param train_x: clean training images in [0, 1]
    :param train_y: training labels
    :param val_x: validation images (level selection), distorted and normalised
    :param val_y: validation labels
    :param test_x: test images (reported accuracy only), distorted and normalised
    :param test_y: test labels
    :param seed: split and distortion seed
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    seed: int = 0

    def train_batch(self, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return normalise(distort(self.train_x[idx], gen))

    def calibration_batch(self, n: int = 500) -> torch.Tensor:
        """The first ``n`` training images, distorted with a fixed seed (BatchNorm statistics)."""
        gen = torch.Generator().manual_seed(self.seed + 7)
        return normalise(distort(self.train_x[:n], gen))


#: Input normalisation (distorted training images have about this mean and deviation).
MEAN, STD = 0.2, 0.4
#: Distortion: rotation (degrees), scale range, shift (fraction of the image), pixel noise.
ROTATE_DEG, SCALE, SHIFT, NOISE = 20.0, (0.8, 1.15), 0.15, 0.25
#: Validation and test images are each distorted this many times (independent seeded
#: draws), so a level's accuracy is less at the mercy of one draw.
EVAL_DRAWS = 3


def normalise(x: torch.Tensor) -> torch.Tensor:
    return (x - MEAN) / STD


def distort(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random rotation, scale and shift (bilinear, zero background) plus Gaussian pixel noise:
    what makes small digits a task on which a sub-network's capacity shows."""
    n = x.size(0)
    u = torch.rand(n, 4, generator=gen)
    ang = (u[:, 0] * 2 - 1) * math.radians(ROTATE_DEG)
    sc = SCALE[0] + u[:, 1] * (SCALE[1] - SCALE[0])
    tx, ty = (u[:, 2] * 2 - 1) * SHIFT * 2, (u[:, 3] * 2 - 1) * SHIFT * 2
    cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out + NOISE * torch.randn(out.shape, generator=gen)


def load_digits_data(seed: int = 0) -> DigitsData:
    """scikit-learn's digits, upscaled to 32x32, split 60/15/25 (stratified, seeded);
    validation and test images distorted ``EVAL_DRAWS`` times each with seeded generators."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = F.interpolate(x, size=(BASE_RESOLUTION, BASE_RESOLUTION), mode="bilinear", align_corners=False)
    x = x.repeat(1, 3, 1, 1)
    y = torch.tensor(digits.target, dtype=torch.long)
    idx = list(range(len(y)))
    train_val, test = train_test_split(idx, test_size=SPLIT[2], random_state=seed, stratify=digits.target)
    train, val = train_test_split(
        train_val, test_size=SPLIT[1] / (SPLIT[0] + SPLIT[1]), random_state=seed,
        stratify=digits.target[train_val],
    )
    t = torch.tensor

    def draws(ix: list[int], offset: int) -> tuple[torch.Tensor, torch.Tensor]:
        xs = [distort(x[t(ix)], torch.Generator().manual_seed(seed + offset + 10 * k)) for k in range(EVAL_DRAWS)]
        return normalise(torch.cat(xs)), y[t(ix)].repeat(EVAL_DRAWS)

    val_x, val_y = draws(val, 1)
    test_x, test_y = draws(test, 2)
    return DigitsData(x[t(train)], y[t(train)], val_x, val_y, test_x, test_y, seed)


def build_demo_supernet(dropout_rate: float = 0.1) -> OFAMobileNetV3:
    """The demo's supernet: OFA MobileNetV3, width 0.35, 10 classes."""
    return OFAMobileNetV3(n_classes=DEMO_CLASSES, width_mult=DEMO_WIDTH, dropout_rate=dropout_rate)


def _resize(x: torch.Tensor, r: int) -> torch.Tensor:
    if x.shape[-1] == r:
        return x
    return F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False)


@dataclass
class Phase:
    """One progressive-shrinking phase.

    :param name: label for the log
    :param epochs: epochs to train
    :param lr: peak learning rate (cosine to 0 within the phase)
    :param ks: kernel sizes sampled
    :param e: expand ratios sampled
    :param d: depths sampled
    :param sandwich: train min and random sub-networks too (False: the largest only)
    :param reorganize: expand-ratio stage for ``re_organize_middle_weights`` before the phase
    """

    name: str
    epochs: int
    lr: float
    ks: Sequence[int]
    e: Sequence[int]
    d: Sequence[int]
    sandwich: bool = True
    reorganize: Optional[int] = None


def default_phases(scale: float = 1.0) -> list[Phase]:
    """Full network, then elastic kernel, depth (2 steps) and expand ratio (2 steps)."""
    def ep(n: int) -> int:
        return max(1, int(round(n * scale)))

    return [
        Phase("full", ep(16), 0.1, [7], [6], [4], sandwich=False),
        Phase("kernel", ep(2), 0.03, [3, 5, 7], [6], [4]),
        Phase("depth-3", ep(2), 0.03, [3, 5, 7], [6], [3, 4]),
        Phase("depth-2", ep(2), 0.03, [3, 5, 7], [6], [2, 3, 4]),
        Phase("expand-4", ep(2), 0.03, [3, 5, 7], [4, 6], [2, 3, 4], reorganize=1),
        Phase("expand-3", ep(3), 0.03, [3, 5, 7], [3, 4, 6], [2, 3, 4], reorganize=2),
    ]


def _sample(net: OFAMobileNetV3, phase: Phase, rng: random.Random, which: str) -> int:
    n = len(net.blocks) - 1
    if which == "max":
        net.set_active_subnet(max(phase.ks), max(phase.e), max(phase.d))
        return max(RESOLUTIONS)
    if which == "min":
        net.set_active_subnet(min(phase.ks), min(phase.e), min(phase.d))
        return min(RESOLUTIONS)
    net.set_active_subnet(
        [rng.choice(phase.ks) for _ in range(n)],
        [rng.choice(phase.e) for _ in range(n)],
        [rng.choice(phase.d) for _ in range(len(net.block_group_info))],
    )
    return rng.choice(RESOLUTIONS)


def train_supernet(
    net: OFAMobileNetV3,
    data: DigitsData,
    phases: Sequence[Phase],
    batch_size: int = 64,
    n_random: int = 1,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> None:
    """Progressive shrinking with the sandwich rule and in-place distillation."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    decay, no_decay = [], []
    for name, p in net.named_parameters():
        (no_decay if p.dim() <= 1 or "matrix" in name else decay).append(p)
    n_train = len(data.train_y)
    steps_per_epoch = math.ceil(n_train / batch_size)
    for phase in phases:
        if phase.reorganize is not None:
            net.re_organize_middle_weights(phase.reorganize)
        opt = torch.optim.SGD(
            [{"params": decay, "weight_decay": 4e-5}, {"params": no_decay, "weight_decay": 0.0}],
            lr=phase.lr, momentum=0.9, nesterov=True,
        )
        total = phase.epochs * steps_per_epoch
        step = 0
        t0 = time.time()
        for epoch in range(phase.epochs):
            net.train()
            perm = torch.randperm(n_train, generator=gen)
            loss_sum = 0.0
            for b in range(steps_per_epoch):
                lr = 0.5 * phase.lr * (1 + math.cos(math.pi * step / total))
                for g in opt.param_groups:
                    g["lr"] = lr
                idx = perm[b * batch_size : (b + 1) * batch_size]
                x = data.train_batch(idx, gen)
                y = data.train_y[idx]
                opt.zero_grad(set_to_none=True)
                r = _sample(net, phase, rng, "max")
                logits = net(_resize(x, r))
                loss = F.cross_entropy(logits, y, label_smoothing=0.1)
                loss.backward()
                loss_sum += float(loss.detach())
                if phase.sandwich:
                    soft = F.softmax(logits.detach(), dim=1)
                    for which in ["min"] + ["random"] * n_random:
                        r = _sample(net, phase, rng, which)
                        out = net(_resize(x, r))
                        kd = F.kl_div(F.log_softmax(out, dim=1), soft, reduction="batchmean")
                        (kd + F.cross_entropy(out, y, label_smoothing=0.1)).backward()
                nn.utils.clip_grad_norm_(net.parameters(), 5.0)
                opt.step()
                step += 1
            log(f"[{phase.name}] epoch {epoch + 1}/{phase.epochs} loss {loss_sum / steps_per_epoch:.3f} "
                f"({time.time() - t0:.0f} s)")
        net.set_max_net()


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> float:
    """Top-1 accuracy in % of ``model`` (already at the right level/resolution handling)."""
    model.eval()
    correct = 0
    for i in range(0, len(y), batch_size):
        correct += int((model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum())
    return 100.0 * correct / len(y)


def _spec(level: int, cfg: dict[str, list[Any]], r: int) -> SubnetSpec:
    return SubnetSpec(level, r, tuple(cfg["d"]), tuple(cfg["ks"]), tuple(cfg["e"]))


def _candidates(net: OFAMobileNetV3, n_random: int, rng: random.Random) -> list[tuple[dict[str, list[Any]], int]]:
    n = len(net.blocks) - 1
    out = []
    for r in RESOLUTIONS:  # uniform sub-networks at every resolution
        for k, e, d in ((3, 3, 2), (5, 4, 3), (7, 6, 4), (3, 6, 2), (7, 4, 4), (5, 6, 3)):
            out.append(({"ks": [k] * n, "e": [e] * n, "d": [d] * 5}, r))
    for _ in range(n_random):
        cfg = {
            "ks": [rng.choice(net.ks_list) for _ in range(n)],
            "e": [rng.choice(net.expand_ratio_list) for _ in range(n)],
            "d": [rng.choice(net.depth_list) for _ in range(5)],
        }
        out.append((cfg, rng.choice(RESOLUTIONS)))
    return out


def select_levels(
    net: OFAMobileNetV3,
    data: DigitsData,
    n_levels: int = 5,
    n_random: int = 30,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> list[SubnetSpec]:
    """Score candidates on the validation split; keep ``n_levels`` of the Pareto front,
    spread evenly in log-MACs from the cheapest to the most accurate."""
    rng = random.Random(seed)
    arch = net.arch
    scored = []
    calib = [data.calibration_batch()]
    for cfg, r in _candidates(net, n_random, rng):
        spec = _spec(0, cfg, r)
        lib = SubnetLibrary("probe", arch, [spec])
        model = DynamicOFA(net, lib)
        model.calibrate(calib)
        acc = accuracy(model, data.val_x, data.val_y)
        model.use_supernet_stats()
        macs = count_subnet(arch, r, spec.kernel, spec.expand, spec.depth).macs
        scored.append((macs, acc, cfg, r))
    scored.sort(key=lambda s: (s[0], -s[1]))
    front: list[tuple[int, float, dict[str, list[Any]], int]] = []
    for s in scored:
        if not front or s[1] > front[-1][1]:
            front.append(s)
    log(f"validation Pareto front ({len(scored)} candidates): "
        + ", ".join(f"{m / 1e6:.2f}M:{a:.1f}%" for m, a, _, _ in front))
    if len(front) <= n_levels:
        chosen = front
    else:
        lo, hi = math.log(front[0][0]), math.log(front[-1][0])
        chosen = []
        for i in range(n_levels):
            target = lo + (hi - lo) * i / (n_levels - 1)
            best = min((s for s in front if s not in chosen), key=lambda s: abs(math.log(s[0]) - target))
            chosen.append(best)
        chosen.sort(key=lambda s: s[0])
    return [_spec(i, cfg, r) for i, (_, _, cfg, r) in enumerate(chosen)]


@torch.no_grad()
def measure_latency_ms(model: nn.Module, resolution: int, warmup: int = 5, repeats: int = 30) -> tuple[float, float]:
    """Median and 90th-percentile latency of one image, in ms, on this machine."""
    model.eval()
    x = torch.randn(1, 3, resolution, resolution)
    for _ in range(warmup):
        model(x)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model(x)
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(round(0.9 * (len(times) - 1))))]


def evaluate_levels(model: DynamicOFA, data: DigitsData) -> list[dict[str, Any]]:
    """Per level: test accuracy (%), latency on this machine, MACs and parameters."""
    rows = []
    current = model.level
    for level in range(model.n_levels):
        model.switch(level)
        spec = model.library[level]
        cost = model.library.cost(level)
        acc = accuracy(model, data.test_x, data.test_y)
        med, p90 = measure_latency_ms(model, spec.resolution)
        rows.append({
            "level": level, "resolution": spec.resolution, "top1": acc, "latency_ms": med,
            "latency_p90_ms": p90, "mflops": cost.mflops, "mparams": cost.mparams,
        })
    model.switch(current)
    return rows


def train_demo(
    out_dir: Path = DEMO_DIR,
    seed: int = 0,
    epoch_scale: float = 1.0,
    n_levels: int = 5,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Train the demo supernet, choose and calibrate its levels, write ``out_dir``.

    :param out_dir: checkpoint directory (``weights.safetensors``, ``bn_stats.safetensors``,
        ``library.json``, ``model.json``, ``README.md``)
    :param seed: seed of data split, initialisation, sampling
    :param epoch_scale: multiply every phase's epochs (quick runs: 0.1)
    :param n_levels: levels in the library
    """
    torch.manual_seed(seed)
    random.seed(seed)
    t0 = time.time()
    data = load_digits_data(seed)
    net = build_demo_supernet()
    phases = default_phases(epoch_scale)
    train_supernet(net, data, phases, seed=seed, log=log)
    net.eval()
    # Ship half-precision weights; measure what ships (round-trip before calibration).
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(p.half().float())
    levels = select_levels(net, data, n_levels=n_levels, seed=seed, log=log)
    library = SubnetLibrary(
        "demo", net.arch, levels,
        dataset="scikit-learn digits upscaled to 32x32 and distorted (rotation, scale, shift, "
                f"noise; rlrm.dnn.demo), levels resized to their resolution; test split, "
                f"{len(data.test_y) // EVAL_DRAWS} digits x {EVAL_DRAWS} distortions, top-1 %",
    )
    model = DynamicOFA(net, library)
    model.calibrate([data.calibration_batch()])
    rows = evaluate_levels(model, data)
    library.levels = [
        SubnetSpec(s.level, s.resolution, s.depth, s.kernel, s.expand, top1=round(r["top1"], 2),
                   mflops=round(r["mflops"], 4), mparams=round(r["mparams"], 4))
        for s, r in zip(levels, rows)
    ]
    train_s = time.time() - t0
    library.extra = {
        "provenance": {
            "kind": "measured",
            "method": "trained by rlrm.dnn.demo.train_demo (progressive shrinking, sandwich rule, "
                      "in-place distillation); levels chosen on the validation split's "
                      "accuracy/MACs Pareto front; top1 measured on the held-out test split with "
                      "per-level recalibrated BatchNorm statistics",
            "sources": [f"experiments/train_demo.py --seed {seed} --epoch-scale {epoch_scale:g}"],
            "created": time.strftime("%Y-%m-%d"),
        }
    }
    model.library = library
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir, {
        "dataset": "sklearn.datasets.load_digits",
        "split_seed": seed,
        "split": {"train": len(data.train_y), "val": len(data.val_y) // EVAL_DRAWS,
                  "test": len(data.test_y) // EVAL_DRAWS, "eval_draws": EVAL_DRAWS},
        "input": {"normalise": {"mean": MEAN, "std": STD}, "distortion": {
            "rotate_deg": ROTATE_DEG, "scale": list(SCALE), "shift": SHIFT, "noise": NOISE}},
        "train_seconds": round(train_s, 1),
        "torch": torch.__version__,
        "weights_dtype": "float16 in the file, loaded as float32",
    })
    _halve_weights_file(out_dir)
    _write_readme(out_dir, rows, train_s, seed, epoch_scale, data)
    return rows


def _halve_weights_file(out_dir: Path) -> None:
    from safetensors.torch import load_file, save_file

    path = out_dir / "weights.safetensors"
    state = load_file(str(path))
    half = {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}
    save_file(half, str(path), metadata={"arch": f"ofa_mbv3 demo w{DEMO_WIDTH}", "dtype": "float16"})


def _write_readme(out_dir: Path, rows: list[dict[str, Any]], train_s: float, seed: int, scale: float, data: DigitsData) -> None:
    lines = [
        "# Demo Dynamic-OFA model",
        "",
        f"An OFA MobileNetV3 supernet (`{SupernetArch(DEMO_WIDTH, DEMO_CLASSES).name}`, "
        f"{DEMO_CLASSES} classes) trained on scikit-learn's digits (8x8, upscaled to 32x32, then "
        f"distorted: rotation +-{ROTATE_DEG:g} deg, scale {SCALE[0]:g}..{SCALE[1]:g}, shift +-{SHIFT:.0%}, "
        f"Gaussian noise sigma {NOISE:g}), "
        "with its own sub-network library (`library.json`) and per-level BatchNorm "
        "statistics (`bn_stats.safetensors`). Weights are stored as float16 safetensors; "
        "they are loaded into float32 and all figures below were measured with exactly those values.",
        "",
        "Provenance: `PYTHONPATH=$PWD python3 experiments/train_demo.py "
        f"--seed {seed} --epoch-scale {scale:g}` ({train_s / 60:.1f} min on this machine, "
        f"torch {torch.__version__}). Split: {len(data.train_y)} train / {len(data.val_y) // EVAL_DRAWS} "
        f"validation (level choice) / {len(data.test_y) // EVAL_DRAWS} test digits (reported), "
        f"validation and test digits each distorted {EVAL_DRAWS} times with fixed seeds.",
        "",
        f"| level | resolution | test top-1 % | latency ms (median, 1 image, {torch.get_num_threads()} thread(s), here) | MMACs | M params |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(f"| {r['level']} | {r['resolution']} | {r['top1']:.2f} | {r['latency_ms']:.2f} | "
                     f"{r['mflops']:.3f} | {r['mparams']:.3f} |")
    lines += ["", "Re-evaluate: `PYTHONPATH=$PWD python3 -m rlrm dnn eval --model demo` (chance: 10 %).", ""]
    (out_dir / "README.md").write_text("\n".join(lines))


def load_demo(directory: Path = DEMO_DIR) -> DynamicOFA:
    """The shipped demo model (weights-only files)."""
    return DynamicOFA.from_pretrained(directory)


__all__ = [
    "DEMO_DIR",
    "DigitsData",
    "Phase",
    "accuracy",
    "build_demo_supernet",
    "default_phases",
    "evaluate_levels",
    "load_demo",
    "load_digits_data",
    "measure_latency_ms",
    "select_levels",
    "train_demo",
    "train_supernet",
]
