"""Issue 19: ``--input`` images are decoded at bounded size (no decompression bomb, no 7 GB RSS)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from rlrm.errors import InputError
from rlrm.live.inference import InferenceRunner, load_image


def _png_claiming(path: Path, width: int, height: int) -> None:
    """A small PNG file whose header claims ``width`` x ``height`` (a decompression bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00" * (1 + 3 * width) * 4)  # a few rows; the decoder would want them all
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def _model(resolution: int = 64) -> SimpleNamespace:
    levels = [SimpleNamespace(resolution=48), SimpleNamespace(resolution=resolution)]
    return SimpleNamespace(level=0, n_levels=2, resolution=48, library=SimpleNamespace(levels=levels))


@pytest.mark.parametrize("side", [12000, 20000])
def test_a_png_claiming_a_huge_size_is_refused_before_decoding(tmp_path: Path, side: int) -> None:
    _png_claiming(tmp_path / "bomb.png", side, side)
    with pytest.raises(InputError, match="pixels.*refused before decoding"):
        load_image(tmp_path / "bomb.png", 64)


def test_big_real_images_are_reduced_to_the_models_biggest_input(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (3000, 2000), (255, 0, 0)).save(tmp_path / "a.png")
    Image.new("RGB", (2400, 1600), (0, 255, 0)).save(tmp_path / "b.jpg")
    runner = InferenceRunner(_model(64), str(tmp_path))
    assert [tuple(x.shape) for x in runner._images] == [(1, 3, 64, 64), (1, 3, 64, 64)]
    assert float(runner._images[0][0, 0].mean()) == pytest.approx(1.0)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "garbage"])
def test_odd_image_files_are_one_line_errors(tmp_path: Path, kind: str) -> None:
    import os

    f = tmp_path / "x.png"
    if kind == "fifo":
        os.mkfifo(f)
    elif kind == "dev-zero":
        f.symlink_to("/dev/zero")
    else:
        f.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(InputError) as info:
        InferenceRunner(_model(), str(tmp_path))
    assert "\n" not in str(info.value)
    assert np.isfinite(0.0)


def test_the_onnx_runner_decodes_images_at_bounded_size_too(tmp_path: Path) -> None:
    """``--model onnx:DIR --input DIR``: the same bounded decode as the torch path (a PNG that
    claims 20000x20000 is refused before decoding, in one line)."""
    from rlrm.live.onnx_inference import OnnxInferenceRunner

    _png_claiming(tmp_path / "bomb.png", 20000, 20000)
    runner = OnnxInferenceRunner(SimpleNamespace(resolution=64, level=0), str(tmp_path))
    with pytest.raises(InputError) as err:
        runner._images(64)
    assert "refused before decoding" in str(err.value) and "\n" not in str(err.value)
