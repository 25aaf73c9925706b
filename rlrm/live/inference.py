"""Real inferences of a Dynamic-OFA model for one control period, timed by the wall clock."""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Optional, Union

from rlrm.errors import InputError
from rlrm.paths import resolve_checkpoint
from rlrm.policy.weights import read_file_bytes

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm")
#: Bounds on ``--input`` images: files read, bytes per file, pixels an image may claim (checked
#: from its header, before anything is decoded: a decompression bomb is refused unread).
MAX_IMAGES = 256
MAX_IMAGE_BYTES = 64 << 20
MAX_IMAGE_PIXELS = 40_000_000


def input_side(model: Any) -> int:
    """The biggest input side any level of ``model`` runs at (images are reduced to it on load)."""
    library = getattr(model, "library", None)
    sides = [int(getattr(l, "resolution", 0)) for l in getattr(library, "levels", [])]
    side = max(sides + [int(getattr(model, "resolution", 0) or 0)])
    return side if 0 < side <= 4096 else 224


def load_image(path: Path, side: int) -> Any:
    """An image as a ``(side, side, 3)`` float32 array in [0, 1], decoded at bounded size: the file
    must be a regular file of at most 64 MiB whose header claims at most 40 Mpixels; JPEGs are
    decoded at a reduced scale when they are much bigger than ``side``. InputError otherwise."""
    import io

    import numpy as np
    from PIL import Image

    data = read_file_bytes(path, "an image", MAX_IMAGE_BYTES)
    try:
        with warnings.catch_warnings():  # PIL warns of sizes rlrm refuses anyway, below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
        with img:
            w, h = img.size
            if w <= 0 or h <= 0 or w * h > MAX_IMAGE_PIXELS:
                raise InputError(str(path), "input", f"{w}x{h} pixels, more than the {MAX_IMAGE_PIXELS} "
                                                     "allowed (refused before decoding)")
            img.draft("RGB", (side, side))  # JPEG: let the decoder scale down by 2, 4 or 8
            rgb = img.convert("RGB").resize((side, side), Image.BILINEAR)
            return np.asarray(rgb, dtype=np.float32) / 255.0
    except InputError:
        raise
    except Image.DecompressionBombError as err:
        raise InputError(str(path), "input", f"{str(err)[:80]}: more than the {MAX_IMAGE_PIXELS} pixels allowed "
                                             "(refused before decoding)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise InputError(str(path), "input", f"unreadable image: {str(err)[:160]}") from None


def parse_duration(text: Union[str, float, int], field: str = "--duration") -> float:
    """Seconds from ``60s``, ``2m``, ``1h`` or a plain number of seconds.

    :param text: the duration as written
    :param field: the option named in the error
    :raises InputError: when it is not a positive duration
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ms|s|m|min|h)?\s*", str(text))
        if not m:
            raise InputError(field, field.lstrip("-"), f"expected a duration like 60s, 2m or 30, got {text!r}")
        value = float(m.group(1)) * {None: 1.0, "ms": 1e-3, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}[m.group(2)]
    if not value > 0 or value > 7 * 24 * 3600:
        raise InputError(field, field.lstrip("-"), f"must be a positive duration up to a week, got {text!r}")
    return value


def load_model(spec: str) -> Any:
    """The Dynamic-OFA model of ``--model``: ``demo``, ``ofa:PATH`` or a model directory (a
    path, or a name in ``checkpoints/``), run with the torch that imports here (the vendor's
    on a board: any torch >= 1.13; rlrm never installs one). ``onnx:DIR`` goes to
    :mod:`rlrm.live.onnx_inference` instead.

    :param spec: what the user wrote
    """
    import torch

    if _version_tuple(torch.__version__) < (1, 13):
        raise InputError("--model", "model", f"torch {torch.__version__} is too old (need >= 1.13); "
                                             "or export the model to ONNX and use --model onnx:DIR")
    from rlrm.dnn.demo import DEMO_DIR
    from rlrm.dnn.dynamic_ofa import DynamicOFA

    if spec == "demo":
        path = Path(DEMO_DIR)
    else:
        text = spec[4:] if spec.startswith("ofa:") else spec
        path = resolve_checkpoint(text, "model.json") or Path(text)
    if not path.is_dir() or not (path / "model.json").is_file():
        raise InputError(str(path), "model", "not a Dynamic-OFA model directory (model.json missing); use demo or ofa:PATH")
    model = DynamicOFA.from_pretrained(path)
    model.eval()
    return model


def _version_tuple(text: str) -> tuple:
    """``"2.13.0+cpu"`` -> ``(2, 13)``; unparsable parts count as 0."""
    parts = []
    for piece in text.split("+")[0].split(".")[:2]:
        digits = re.match(r"[0-9]*", piece)
        parts.append(int(digits.group(0)) if digits and digits.group(0) else 0)
    return tuple(parts)


class InferenceRunner:
    """Runs a :class:`~rlrm.dnn.dynamic_ofa.DynamicOFA` back to back (or at a frame rate) for a
    period and measures each inference's latency (wall clock; CUDA synchronised on a GPU).

    :param model: the model (``switch(level)`` is called whenever the level changes)
    :param inputs: ``synthetic`` (random images of the level's resolution) or a directory of
        images (cycled through; resized by the model to the level's resolution)
    :param device: ``cpu`` or ``cuda``
    :param seed: seed of the synthetic inputs
    """

    def __init__(self, model: Any, inputs: str = "synthetic", device: str = "cpu", seed: int = 0) -> None:
        import torch

        self.torch = torch
        self.model = model
        self.device = device
        if device != "cpu":
            self.model.to(device)
        self.inputs = inputs
        self._gen = torch.Generator().manual_seed(seed)
        self._images: Optional[list[Any]] = None
        self._next = 0
        self._synthetic: dict[int, Any] = {}
        if inputs != "synthetic":
            self._images = self._load_images(Path(inputs))
        self.level = int(model.level)
        self.intervals: list = []  # the last run_for's inferences as (start, end), perf_counter s

    @property
    def n_levels(self) -> int:
        return int(self.model.n_levels)

    def _load_images(self, folder: Path) -> list[Any]:
        torch = self.torch
        if not folder.is_dir():
            raise InputError(str(folder), "input", "not a directory (use --input synthetic or a folder of images)")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InputError(str(folder), "input", f"no image ({', '.join(IMAGE_SUFFIXES)}) in the folder")
        side = input_side(self.model)
        out = []
        for f in files[:MAX_IMAGES]:
            img = load_image(f, side)
            out.append(torch.from_numpy(img).permute(2, 0, 1).unsqueeze(0).to(self.device))
        return out

    def switch(self, level: int) -> None:
        """Make ``level`` the subnetwork that runs (no-op when it already is)."""
        if level != self.level:
            self.model.switch(level)
            self.level = level

    def _input(self) -> Any:
        if self._images is not None:
            x = self._images[self._next % len(self._images)]
            self._next += 1
            return x
        r = int(self.model.resolution)
        x = self._synthetic.get(r)
        if x is None:
            x = self.torch.randn(1, 3, r, r, generator=self._gen).to(self.device)
            self._synthetic[r] = x
        return x

    def run_for(self, seconds: float, fps: float = 0.0, max_inferences: Optional[int] = None) -> list[float]:
        """Run inferences for ``seconds`` (back to back, or at ``fps`` when > 0); returns each
        one's latency in ms. At least one inference runs."""
        torch = self.torch
        sync = torch.cuda.synchronize if self.device.startswith("cuda") else None

        def infer(x: Any) -> None:
            self.model(x)
            if sync is not None:
                sync()

        with torch.inference_mode():
            return timed_inferences(self._input, infer, seconds, fps, max_inferences, intervals=self.intervals)


def timed_inferences(next_input: Callable[[], Any], infer: Callable[[Any], Any], seconds: float, fps: float = 0.0,
                     max_inferences: Optional[int] = None, intervals: Optional[list] = None) -> list[float]:
    """Call ``infer(next_input())`` for ``seconds`` (back to back, or at ``fps`` when > 0) and
    return each call's latency in ms (the input's preparation not counted); at least one runs.

    :param max_inferences: stop after this many, even before ``seconds``
    :param intervals: cleared, then given each inference's (start, end) ``perf_counter`` seconds
    """
    if intervals is not None:
        intervals.clear()
    lat: list[float] = []
    end = time.perf_counter() + seconds
    frame = 1.0 / fps if fps > 0 else 0.0
    while True:
        x = next_input()
        t0 = time.perf_counter()
        infer(x)
        t1 = time.perf_counter()
        lat.append((t1 - t0) * 1e3)
        if intervals is not None:
            intervals.append((t0, t1))
        if t1 >= end or (max_inferences is not None and len(lat) >= max_inferences):
            break
        if frame:
            wait = t0 + frame - time.perf_counter()
            if wait > 0:
                time.sleep(min(wait, max(0.0, end - time.perf_counter())))
            if time.perf_counter() >= end:
                break
    return lat
