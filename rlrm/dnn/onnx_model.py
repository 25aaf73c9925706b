"""A Dynamic-OFA model exported to ONNX (:mod:`rlrm.dnn.onnx_export`), run with ONNX Runtime.

Needs NumPy and ``onnxruntime`` only (no torch): the board side of ``rlrm run --model
onnx:DIR``. Every level's session is created when the model loads, so :meth:`switch` is a
pointer change, in process, like the torch model's ``switch``. Execution providers: the CPU
here; with ``device="cuda"`` (or ``"auto"``), TensorRT and CUDA first where the installed
ONNX Runtime has them (NVIDIA's ``onnxruntime-gpu`` build on a Jetson).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, List, Optional, Union

import numpy as np

from rlrm.errors import InputError
from rlrm.validate import Fields, read_json

#: ``format`` of manifest.json
FORMAT = "rlrm-dynamic-ofa-onnx"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
INPUT_NAME = "input"
OUTPUT_NAME = "logits"
#: execution providers tried, best first, when a GPU is asked for
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def sha256_file(path: Union[str, Path]) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def choose_providers(device: str, available: List[str]) -> List[str]:
    """Execution providers for ``device`` (``cpu``, ``cuda`` or ``auto``) among ``available``."""
    if device == "cpu":
        return ["CPUExecutionProvider"]
    gpu = [p for p in GPU_PROVIDERS if p in available]
    if device not in ("cuda", "auto") and not device.startswith("cuda:"):
        raise InputError("--device", "device", f"expected cpu, cuda or auto, got {device!r}")
    if not gpu and device != "auto":
        raise InputError("--device", "device", "this onnxruntime has no CUDA or TensorRT execution provider "
                                               f"(has {', '.join(available)}); use --device cpu")
    return [*gpu, "CPUExecutionProvider"]


class OnnxDynamicModel:
    """The levels of an ONNX export, one ONNX Runtime session each, one of them active.

    Mirrors what :class:`~rlrm.live.inference.OnnxInferenceRunner` needs of a Dynamic-OFA model:
    :attr:`level`, :attr:`n_levels`, :attr:`resolution`, :meth:`switch`, and calling it on a
    ``(1, 3, r, r)`` float32 array (r: the active level's resolution), which returns the logits.

    :param directory: the export folder (``manifest.json`` and one ONNX file per level)
    :param device: ``cpu``, ``cuda`` or ``auto`` (GPU providers where present, else the CPU)
    :param threads: intra-op threads per session (default: ONNX Runtime's)
    :raise InputError: one line naming the file and field at fault (a changed file's SHA-256 too)
    """

    def __init__(self, directory: Union[str, Path], device: str = "cpu", threads: Optional[int] = None) -> None:
        import onnxruntime as ort

        self.directory = Path(directory)
        manifest = self.directory / MANIFEST_NAME
        if not manifest.is_file():
            raise InputError(manifest, "<file>", "no such file (not an ONNX export: write one with rlrm dnn export-onnx)")
        top = Fields(read_json(manifest), manifest)
        top.format(FORMAT, FORMAT_VERSION, "an rlrm ONNX export")
        self.providers = choose_providers(device, list(ort.get_available_providers()))
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if threads is not None:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        self.resolutions: List[int] = []
        self._sessions: List[Any] = []
        for i, entry in enumerate(top.tables("levels")):
            level = entry.number("level", integer=True)
            if level != i:
                raise entry.error("level", f"expected {i} (levels in order from 0)")
            resolution = entry.number("resolution", integer=True)
            if not 1 <= resolution <= 4096:
                raise entry.error("resolution", f"expected 1..4096, got {resolution}")
            name = entry.str("file")
            path = self.directory / name
            if Path(name).name != name or not path.is_file():
                raise entry.error("file", f"no file {name!r} in {self.directory}")
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if digest != entry.str("sha256"):
                raise entry.error("sha256", f"{name} has SHA-256 {digest[:12]}..., the manifest says another "
                                            "(changed or corrupt file)")
            try:
                session = ort.InferenceSession(data, opts, providers=self.providers)
            except Exception as err:  # onnxruntime raises its own exception types
                raise InputError(path, "<file>", f"ONNX Runtime cannot load it: {str(err).splitlines()[0]}") from None
            self.resolutions.append(int(resolution))
            self._sessions.append(session)
        if not self._sessions:
            raise top.error("levels", "no level")
        self.library_name = top.str("library", default="")
        self.level = 0
        self._session = self._sessions[0]

    @property
    def n_levels(self) -> int:
        return len(self._sessions)

    @property
    def resolution(self) -> int:
        """The active level's input resolution."""
        return self.resolutions[self.level]

    def switch(self, level: int) -> None:
        """Make ``level`` the subnetwork that runs (its session is already loaded)."""
        if not 0 <= level < len(self._sessions):
            raise ValueError(f"level {level} out of range 0..{len(self._sessions) - 1}")
        self.level = level
        self._session = self._sessions[level]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self._session.run(None, {INPUT_NAME: x})[0]
