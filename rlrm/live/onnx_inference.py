"""Inference through ONNX Runtime for the live backend (``rlrm run --model onnx:DIR``).

The counterpart of :class:`rlrm.live.inference.InferenceRunner` without torch: the same
``switch``/``run_for`` interface, over an :class:`~rlrm.dnn.onnx_model.OnnxDynamicModel`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from rlrm.dnn.onnx_model import MANIFEST_NAME, OnnxDynamicModel
from rlrm.errors import InputError
from rlrm.live.inference import IMAGE_SUFFIXES, load_image, timed_inferences
from rlrm.paths import resolve_checkpoint


class OnnxInferenceRunner:
    """Runs an ONNX export's active level back to back (or at a frame rate) for a period and
    measures each inference's latency (wall clock; ONNX Runtime's ``run`` returns when done).

    :param model: an :class:`~rlrm.dnn.onnx_model.OnnxDynamicModel`
    :param inputs: ``synthetic`` (random images of the level's resolution) or a directory of
        images (cycled through; resized to each level's resolution once, bilinear)
    :param seed: seed of the synthetic inputs
    """

    def __init__(self, model: Any, inputs: str = "synthetic", seed: int = 0) -> None:
        self.model = model
        self.inputs = inputs
        self._rng = np.random.default_rng(seed)
        self._files: Optional[List[Path]] = None
        self._cache: Dict[int, List[np.ndarray]] = {}
        self._next = 0
        self.intervals: List[tuple] = []  # the last run_for's inferences as (start, end), perf_counter s
        if inputs != "synthetic":
            folder = Path(inputs)
            if not folder.is_dir():
                raise InputError(str(folder), "input", "not a directory (use --input synthetic or a folder of images)")
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise InputError(str(folder), "input", f"no image ({', '.join(IMAGE_SUFFIXES)}) in the folder")
            self._files = files[:256]
        self.level = int(model.level)

    @property
    def n_levels(self) -> int:
        return int(self.model.n_levels)

    def switch(self, level: int) -> None:
        """Make ``level`` the subnetwork that runs (no-op when it already is)."""
        if level != self.level:
            self.model.switch(level)
            self.level = level

    def _images(self, r: int) -> List[np.ndarray]:
        batch = self._cache.get(r)
        if batch is not None:
            return batch
        if self._files is None:
            batch = [self._rng.standard_normal((1, 3, r, r)).astype(np.float32)]
        else:  # decoded at bounded size, as the torch path does (rlrm.live.inference.load_image)
            batch = [np.ascontiguousarray(load_image(f, r).transpose(2, 0, 1)[None]) for f in self._files]
        self._cache[r] = batch
        return batch

    def _input(self) -> np.ndarray:
        batch = self._images(int(self.model.resolution))
        x = batch[self._next % len(batch)]
        self._next += 1
        return x

    def run_for(self, seconds: float, fps: float = 0.0, max_inferences: Optional[int] = None) -> List[float]:
        """Run inferences for ``seconds`` (back to back, or at ``fps`` when > 0); returns each
        one's latency in ms. At least one inference runs."""
        return timed_inferences(self._input, self.model, seconds, fps, max_inferences, intervals=self.intervals)


def load_onnx_runner(spec: str, inputs: str, device: str) -> OnnxInferenceRunner:
    """The runner of ``--model onnx:DIR`` (DIR: a path, or an export's name in ``checkpoints/``)."""
    text = spec[5:] if spec.startswith("onnx:") else spec
    path = resolve_checkpoint(text, MANIFEST_NAME) or Path(text)
    return OnnxInferenceRunner(OnnxDynamicModel(path, device=device), inputs)
