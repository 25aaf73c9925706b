"""``rlrm dnn eval`` / ``rlrm dnn library``: the Dynamic-OFA model from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

from rlrm.dnn.library import load_library
from rlrm.dnn.lut import predict_latency
from rlrm.dnn.onnx_export import DEFAULT_OPSET, export_onnx
from rlrm.errors import InputError
from rlrm.paths import CHECKPOINTS_DIR, ENVS_DIR, resolve_checkpoint, user_dir
from rlrm.rollout.progress import progress_enabled
from rlrm.validate import read_json


def add_parser(subparsers: Any) -> None:
    """Add ``dnn`` (with ``eval`` and ``library``) to the ``rlrm`` command."""
    dnn = subparsers.add_parser("dnn", help="the Dynamic-OFA model: evaluate levels, inspect libraries")
    sub = dnn.add_subparsers(dest="dnn_command", metavar="SUBCOMMAND")

    ev = sub.add_parser(
        "eval", help="accuracy, latency (measured here) and FLOPs per level of a trained model",
        description="Evaluate every level of a Dynamic-OFA model directory (weights.safetensors, "
                    "bn_stats.safetensors, library.json, model.json): top-1 on its test split when "
                    "the dataset ships with a package (the demo), latency of one image measured on "
                    "this machine (median and p90), multiply-accumulates and parameters.",
    )
    ev.add_argument("--model", default="demo", help="'demo' or a model directory (default: demo)")
    ev.add_argument("--levels", default=None, help="comma-separated levels (default: all)")
    ev.add_argument("--repeats", type=int, default=30, help="timed runs per level (default: 30)")
    ev.add_argument("--warmup", type=int, default=5, help="untimed runs per level (default: 5)")
    ev.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    ev.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ev.set_defaults(func=run_eval)

    lib = sub.add_parser(
        "library", help="levels of a sub-network library: architecture, FLOPs, parameters, LUT latency",
    )
    lib.add_argument("library", nargs="?", default="dynamic-ofa-6",
                     help="name under envs/libraries/ or a JSON path, optionally path#library (default: dynamic-ofa-6)")
    lib.add_argument("--lut", action="append", default=[], metavar="DIR",
                     help="once-for-all look-up-table directory ({r}.json); repeatable")
    lib.add_argument("--json", action="store_true", help="print JSON instead of a table")
    lib.set_defaults(func=run_library)

    onx = sub.add_parser(
        "export-onnx", help="export every level of a model to ONNX (one file per level + manifest.json)",
        description="Write one ONNX file per subnetwork level (its BatchNorm statistics folded in) and a "
                    "manifest with their SHA-256s, checked against the torch model with ONNX Runtime. "
                    "`rlrm run --model onnx:DIR` runs them without torch. Needs torch and rlrm[onnx].",
    )
    onx.add_argument("--model", default="demo", help="'demo' or a model directory (default: demo)")
    onx.add_argument("-o", "--output", required=True, type=Path, metavar="DIR", help="the export folder (replaced)")
    onx.add_argument("--opset", type=int, default=None, help="ONNX opset (default: 17)")
    onx.set_defaults(func=run_export_onnx)

    dnn.set_defaults(func=lambda args: (dnn.print_help(), 2)[1])

    prof = subparsers.add_parser(
        "profile", help="measure a sub-network library on this machine; write a board profile and a trace",
        description="Measure every level of a sub-network library on this machine for every compute "
                    "option it can use here (CPU thread counts pinned to as many cores, CUDA if present, "
                    "every CPU frequency where cpufreq is writable): warm-up, repeats, median and p90, "
                    "power where a sensor exists. Writes envs/platforms/NAME.toml and "
                    "envs/traces/NAME/LIBRARY.json, which the simulator loads.",
    )
    prof.add_argument("--library", default=None,
                      help="library name or JSON path (default: dynamic-ofa-6, or the --model's own)")
    prof.add_argument("--model", default=None,
                      help="a model directory ('demo' or a path) to run; default: the library's supernet "
                           "with random weights (latency does not depend on weight values)")
    prof.add_argument("--weights", type=Path, default=None, help="weights file for the library's supernet")
    prof.add_argument("--name", default="host", help="profile name (default: host)")
    prof.add_argument("--envs", type=Path, default=None, help="where platforms/ and traces/ go (default: $RLRM_HOME/envs, where every command finds them by name)")
    prof.add_argument("--threads", default=None, help="comma-separated thread counts (default: 1..usable cores)")
    prof.add_argument("--warmup", type=int, default=3, help="untimed runs per measurement (default: 3)")
    prof.add_argument("--repeats", type=int, default=20, help="timed runs per measurement (default: 20)")
    prof.add_argument("--ci-width", type=float, default=0.05,
                      help="repeat each measurement beyond --repeats until its median's 95%% confidence interval "
                           "is at most this wide relative to the median (default: 0.05; 0 = just --repeats)")
    prof.add_argument("--max-repeats", type=int, default=500,
                      help="at most this many timed runs per measurement (default: 500)")
    prof.add_argument("--time-budget", type=float, default=5.0,
                      help="at most this many seconds of timed runs per measurement (default: 5)")
    prof.add_argument("--rounds", type=int, default=5,
                      help="sweeps over every measurement, pooled, each taking 1/N of --repeats, --max-repeats and "
                           "--time-budget: a slow or fast moment of the machine does not make the profile "
                           "(default: 5; the spread of the round medians is printed)")
    prof.add_argument("--sysfs-root", default=None,
                      help="root of the sysfs/procfs tree to read and pin (default: $RLRM_SYSFS_ROOT or /)")
    prof.add_argument("--no-freqs", action="store_true", help="do not step CPU frequencies even if writable")
    prof.add_argument("--freq-steps", type=int, default=None,
                      help="measure only N frequencies, evenly spread, lowest and highest included (default: all)")
    prof.add_argument("--no-cuda", action="store_true", help="skip CUDA even if available")
    prof.add_argument("--contention-s", type=float, default=6.0,
                      help="seconds of timed runs per core count and background load (none, 0.5 and 1 busy core "
                           "of the live backend's background worker) for the CPU unit's measured contention "
                           "table (default: 6; 0 = not measured, the simulator's analytical model is used); with --rounds 3 or "
                           "more, twice that in all, one round per level after each profile round")
    prof.add_argument("--contention-level", default=None, metavar="L[,L...]",
                      help="subnetwork levels the contention table is measured at, comma-separated (default: the "
                           "lowest, the middle and the highest; the simulator interpolates between them)")
    prof.add_argument("--quiet", action="store_true", help="no progress bar")
    prof.set_defaults(func=run_profile)


def _model_dir(name: str) -> Path:
    p = Path(name)
    if p.is_dir() or "/" in name:
        return p
    return resolve_checkpoint(name, "model.json") or CHECKPOINTS_DIR / name


def _parse_levels(text: Optional[str], n: int, source: str, flag: str = "--levels") -> list[int]:
    """Comma-separated levels of ``flag``, each in 0..n-1 (None: every level)."""
    if text is None:
        return list(range(n))
    try:
        levels = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(source, flag, f"expected comma-separated integers, got {text!r}") from None
    if not levels:
        raise InputError(source, flag, f"expected at least one level, got {text!r}")
    for lv in levels:
        if not 0 <= lv < n:
            raise InputError(source, flag, f"level {lv} out of range 0..{n - 1}")
    return levels


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))


def run_eval(args: argparse.Namespace) -> int:
    import torch

    from rlrm.dnn.demo import accuracy, load_digits_data, measure_latency_ms
    from rlrm.dnn.dynamic_ofa import MODEL_FILE, DynamicOFA

    torch.set_num_threads(max(1, args.threads))
    directory = _model_dir(args.model)
    model = DynamicOFA.from_pretrained(directory)
    levels = _parse_levels(args.levels, model.n_levels, str(directory))
    info: dict[str, Any] = {}
    info_path = directory / MODEL_FILE
    if info_path.is_file():
        info = read_json(info_path)
        if not isinstance(info, dict):
            raise InputError(info_path, "<top>", "expected a JSON object")
    data = None
    if info.get("dataset") == "sklearn.datasets.load_digits":
        data = load_digits_data(int(info.get("split_seed", 0)))
    results = []
    from tqdm import tqdm

    for level in tqdm(levels, desc="rlrm dnn eval", unit="level", file=sys.stderr, leave=False,
                      disable=not progress_enabled()):
        model.switch(level)
        spec, cost = model.library[level], model.library.cost(level)
        if data is not None:
            top1, source = accuracy(model, data.test_x, data.test_y), "measured"
        else:
            top1, source = spec.top1, "library"
        med, p90 = measure_latency_ms(model, spec.resolution, args.warmup, args.repeats)
        results.append({
            "level": level, "resolution": spec.resolution, "top1": top1, "top1_source": source,
            "latency_ms": med, "latency_p90_ms": p90, "mflops": cost.mflops, "mparams": cost.mparams,
        })
    if args.json:
        print(json.dumps({"model": str(directory), "threads": args.threads, "levels": results}, indent=1))
        return 0
    where = f"test split, {len(data.test_y)} images" if data is not None else "from the library"
    if data is not None and "eval_draws" in info.get("split", {}):
        where = f"test split, {info['split']['test']} digits x {info['split']['eval_draws']} distortions"
    print(f"model {directory} ({model.supernet.arch.name}, {model.supernet.arch.n_classes} classes); "
          f"top-1 {where}; latency: 1 image, {args.threads} thread(s), median/p90 of {args.repeats}")
    rows = [[str(r["level"]), str(r["resolution"]),
             "-" if r["top1"] is None else f"{r['top1']:.2f}",
             f"{r['latency_ms']:.2f}", f"{r['latency_p90_ms']:.2f}", f"{r['mflops']:.3f}", f"{r['mparams']:.3f}"]
            for r in results]
    _print_table(["level", "res", "top1 %", "lat ms", "p90 ms", "MMACs", "Mparams"], rows)
    return 0


def run_profile(args: argparse.Namespace) -> int:
    from rlrm.dnn.dynamic_ofa import DynamicOFA
    from rlrm.dnn.profile import HostProfiler, build_model, write_profile

    if args.repeats < 1 or args.warmup < 0:
        raise InputError("--repeats", "repeats", "need --repeats >= 1 and --warmup >= 0")
    threads = None
    if args.threads:
        try:
            threads = [int(t) for t in args.threads.split(",") if t.strip()]
        except ValueError:
            raise InputError("--threads", "threads", f"expected comma-separated integers, got {args.threads!r}") from None
    if args.model is not None:
        model = DynamicOFA.from_pretrained(_model_dir(args.model))
        if args.library is not None:
            model = DynamicOFA(model.supernet, load_library(args.library))
    else:
        model = build_model(load_library(args.library or "dynamic-ofa-6"), args.weights)
    if not args.ci_width >= 0:
        raise InputError("--ci-width", "ci_width", f"need a relative width >= 0, got {args.ci_width!r}")
    if args.max_repeats < args.repeats:
        raise InputError("--max-repeats", "max_repeats", f"need >= --repeats ({args.repeats}), got {args.max_repeats}")
    if not args.time_budget > 0:
        raise InputError("--time-budget", "time_budget", f"need seconds > 0, got {args.time_budget!r}")
    if not 0 <= args.contention_s <= 3600:
        raise InputError("--contention-s", "contention_s", f"need seconds in 0..3600, got {args.contention_s!r}")
    if args.freq_steps is not None and args.freq_steps < 2:
        raise InputError("--freq-steps", "freq_steps", "need at least 2 (lowest and highest)")
    profiler = HostProfiler(model, args.name, threads, args.warmup, args.repeats,
                            frequencies=not args.no_freqs, cuda=not args.no_cuda, freq_steps=args.freq_steps,
                            root=args.sysfs_root, target_ci=args.ci_width or None, max_repeats=args.max_repeats,
                            budget_s=args.time_budget, contention_s=args.contention_s,
                            contention_levels=None if args.contention_level is None else _parse_levels(
                                args.contention_level, model.n_levels, "--contention-level", "--contention-level"),
                            rounds=args.rounds)
    results = profiler.run(progress=not args.quiet)
    plat_path, trace_path = write_profile(profiler, results, args.envs or user_dir(ENVS_DIR))
    rep = profiler.last_repeatability or {}
    worst = rep.get("worst") or {}
    print(f"repeatability: {rep.get('measurements', 0)} medians, 95% CI width median {rep.get('ci_width_median', 0):.3f}"
          f" max {rep.get('ci_width_max', 0):.3f} of the median (worst: level {worst.get('level')}, "
          f"{worst.get('unit')}x{worst.get('cores')}, {worst.get('repeats')} runs); "
          f"{rep.get('not_converged', 0)} short of --ci-width {args.ci_width:g}; {rep.get('repeats_total', 0)} timed runs"
          + (f"; {rep['rounds']} rounds, round medians spread by a median {rep['round_spread_median']:.3f} "
             f"(max {rep['round_spread_max']:.3f})" if rep.get("rounds", 1) > 1 else ""))
    if profiler.contention is not None:
        t = profiler.contention
        for lv in t.levels:
            print(f"contention (level {lv}, mean latency over none; busy cores {list(t.background[1:])}): "
                  + "; ".join(f"{n} core{'s' if n > 1 else ''} x{', x'.join(f'{x:.2f}' for x in row[1:])}"
                              for n, row in zip(t.cores, t.rows_at(lv))))
    print(f"wrote {plat_path}")
    print(f"wrote {trace_path}")
    return 0


def run_export_onnx(args: argparse.Namespace) -> int:
    from rlrm.dnn.dynamic_ofa import DynamicOFA

    opset = DEFAULT_OPSET if args.opset is None else args.opset
    if not 14 <= opset <= 25:
        raise InputError("--opset", "opset", f"expected 14..25 (HardSwish needs 14), got {opset}")
    path = _model_dir(args.model)
    if not (path / "model.json").is_file():
        raise InputError(path / "model.json", "<file>", "no such file (use demo or a model directory)")
    model = DynamicOFA.from_pretrained(path)
    model.eval()
    manifest = export_onnx(model, args.output, source=args.model if args.model == "demo" else str(path), opset=opset)
    levels = json.loads(manifest.read_text())["levels"]
    for lv in levels:
        print(f"level {lv['level']}  {lv['resolution']:>4} px  {lv['file']}  sha256 {lv['sha256'][:12]}  "
              f"max |onnx - torch| {lv['max_abs_diff']:.1e}")
    print(f"wrote {manifest.parent} ({len(levels)} levels); run it with: rlrm run --model onnx:{manifest.parent}")
    return 0


def run_library(args: argparse.Namespace) -> int:
    lib = load_library(args.library)
    results = []
    for spec in lib.levels:
        cost = lib.cost(spec.level)
        row: dict[str, Any] = {
            "level": spec.level, "resolution": spec.resolution, "depth": list(spec.depth),
            "top1": spec.top1, "latency_ms": spec.latency_ms, "mflops": cost.mflops, "mparams": cost.mparams,
        }
        for lut in args.lut:
            row[f"lut:{Path(lut).name}"] = predict_latency(lut, spec, lib.arch, lib.arch.n_classes)
        results.append(row)
    if args.json:
        print(json.dumps({"library": lib.name, "supernet": lib.arch.name, "levels": results}, indent=1))
        return 0
    print(f"library {lib.name} ({lib.source}): {len(lib)} levels of {lib.arch.name}, {lib.arch.n_classes} classes")
    header = ["level", "res", "depth", "top1 %", "lat ms", "MMACs", "Mparams"] + [f"LUT {Path(x).name} ms" for x in args.lut]
    rows = []
    for r in results:
        rows.append([
            str(r["level"]), str(r["resolution"]), "".join(str(d) for d in r["depth"]),
            "-" if r["top1"] is None else f"{r['top1']:.2f}",
            "-" if r["latency_ms"] is None else f"{r['latency_ms']:.2f}",
            f"{r['mflops']:.2f}", f"{r['mparams']:.3f}",
        ] + [f"{r[f'lut:{Path(x).name}']:.2f}" for x in args.lut])
    _print_table(header, rows)
    return 0
