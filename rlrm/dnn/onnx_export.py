"""Export a Dynamic-OFA model to ONNX: one file per subnetwork level plus a manifest.

``rlrm dnn export-onnx --model demo -o DIR`` writes, atomically (a folder filled aside, then
moved into place)::

    DIR/level-0.onnx ... level-<n-1>.onnx   each level's static network (its BatchNorm
                                            statistics folded in), input (1, 3, r, r)
    DIR/manifest.json                       format, source model, levels with resolution,
                                            file, SHA-256, and the largest difference from
                                            the torch model's output on a random input

:mod:`rlrm.dnn.onnx_model` runs them with ONNX Runtime and no torch. Exporting needs torch
and ONNX Runtime (the check); the TorchScript exporter is used where it exists (any torch
from 1.13 on, and faster than the dynamo one), else the dynamo one (needs onnxscript).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform as _platform
import warnings
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from rlrm import __version__
from rlrm.atomic import atomic_replace_dir, make_staging_dir
from rlrm.dnn.onnx_model import FORMAT, FORMAT_VERSION, INPUT_NAME, MANIFEST_NAME, OUTPUT_NAME, sha256_file

#: default ONNX opset (ONNX Runtime 1.14 and later; HardSwish needs 14)
DEFAULT_OPSET = 17


def export_onnx(model: Any, out_dir: Union[str, Path], source: str = "", opset: int = DEFAULT_OPSET,
                seed: int = 0) -> Path:
    """Write every level of ``model`` (a :class:`~rlrm.dnn.dynamic_ofa.DynamicOFA`) to ``out_dir``.

    :param model: the model; its active level is restored afterwards
    :param out_dir: the export folder (replaced if it exists)
    :param source: where the model came from (recorded in the manifest)
    :param opset: the ONNX opset
    :param seed: seed of the random input the export is checked with
    :return: the manifest's path
    """
    import torch

    out = Path(out_dir)
    staging = make_staging_dir(out)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # a folder like any other (mkdtemp makes it private)
    gen = torch.Generator().manual_seed(seed)
    current = model.level
    levels = []
    try:
        for level in range(model.n_levels):
            net = model.static_subnet(level).eval()
            r = int(model.library[level].resolution)
            x = torch.randn(1, 3, r, r, generator=gen)
            name = f"level-{level}.onnx"
            _export_one(net, x, staging / name, opset)
            with torch.no_grad():
                ref = net(x).numpy()
            got = _run_onnx(staging / name, x.numpy())
            levels.append({"level": level, "resolution": r, "file": name, "sha256": sha256_file(staging / name),
                           "max_abs_diff": float(np.max(np.abs(got - ref)))})
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "source": source, "supernet": str(model.library.arch.name), "library": str(model.library.name),
            "n_classes": int(model.library.arch.n_classes),
            "input": {"name": INPUT_NAME, "layout": "NCHW", "dtype": "float32"},
            "output": {"name": OUTPUT_NAME},
            "opset": opset, "levels": levels,
            "versions": {"rlrm": __version__, "torch": torch.__version__, "python": _platform.python_version()},
        }
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1) + "\n")
        atomic_replace_dir(staging, out)
    except BaseException:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if current is not None and current >= 0 and current != model.level:
            model.switch(current)
    return out / MANIFEST_NAME


def _export_one(net: Any, x: Any, path: Path, opset: int) -> None:
    import torch

    kwargs: dict = dict(input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], opset_version=opset)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(net, (x,), str(path), dynamo=False, **kwargs)
        except TypeError:  # torch < 2.5 has no `dynamo` argument: its exporter is the TorchScript one
            torch.onnx.export(net, (x,), str(path), **kwargs)


def _run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {INPUT_NAME: x})[0])


def default_source(spec: str, directory: Optional[Path]) -> str:
    """What to record as the exported model's source."""
    return spec if directory is None else f"{spec} ({directory})"
