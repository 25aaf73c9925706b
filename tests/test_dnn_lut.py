"""Latency prediction from once-for-all-format look-up tables."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rlrm.dnn.library import load_library
from rlrm.dnn.lut import LUT_ARCH, load_table, operator_keys, predict_latency
from rlrm.errors import InputError
from rlrm.paths import PROJECT_ROOT

LUT_DIR = PROJECT_ROOT.parent / "shared" / "reference" / "ofa_latency_lut"
needs_lut = pytest.mark.skipif(not LUT_DIR.is_dir(), reason="reference look-up tables not available")

# reference/README.md: table sums for the six-level library (ms)
README_CPU = [1208.5, 1295.1, 1580.8, 1766.5, 2128.8, 2902.4]
README_GPU = [18.24, 19.87, 23.70, 24.79, 27.29, 30.17]


@needs_lut
@pytest.mark.parametrize("unit,expected", [("cpu", README_CPU), ("gpu", README_GPU)])
def test_table_sums_equal_reference_readme(unit: str, expected: list[float]) -> None:
    lib = load_library("dynamic-ofa-6")
    got = [predict_latency(LUT_DIR / f"jetson_xavier_nx_{unit}", spec) for spec in lib.levels]
    assert got == pytest.approx(expected, abs=0.1)
    assert [round(g, 2 if unit == "gpu" else 1) for g in got] == expected


@needs_lut
def test_spec_forms_and_table_forms_agree() -> None:
    lib = load_library("dynamic-ofa-6")
    spec = lib[2]
    ofa_spec = {"r": [spec.resolution], "ks": list(spec.kernel), "e": list(spec.expand), "d": list(spec.depth)}
    table = load_table(LUT_DIR / "jetson_xavier_nx_gpu" / f"{spec.resolution}.json")
    a = predict_latency(LUT_DIR / "jetson_xavier_nx_gpu", spec)
    assert predict_latency(LUT_DIR / "jetson_xavier_nx_gpu", ofa_spec) == a
    assert predict_latency(table, spec.to_json()) == a
    assert predict_latency({spec.resolution: table}, spec) == a


def test_walk_matches_readme_description() -> None:
    spec = load_library("dynamic-ofa-6")[0]
    keys = operator_keys(spec, LUT_ARCH)
    assert keys[0] == "Conv-input:176x176x3-output:88x88x24"
    assert keys[1] == "expanded_conv-input:88x88x24-output:88x88x24-expand:24-kernel:3-stride:1-idskip:1-se:0-hs:0"
    # stage 0 first block: stride 2, no skip, mid round(24 * 6) = 144
    assert keys[2] == "expanded_conv-input:88x88x24-output:44x44x32-expand:144-kernel:5-stride:2-idskip:0-se:0-hs:0"
    assert keys[-4:] == [
        "Conv_1-input:6x6x192-output:6x6x1152", "AvgPool2D-input:6x6x1152-output:1x1x1152",
        "Conv_2-input:1x1x1152-output:1x1x1536", "Logits-input:1x1x1536-output:1000",
    ]
    assert len(keys) == 2 + sum(spec.depth) + 4


def test_missing_operator_and_bad_table_are_input_errors(tmp_path) -> None:
    spec = load_library("dynamic-ofa-6")[0]
    with pytest.raises(InputError) as exc:
        predict_latency({"Conv-input:1x1x3-output:1x1x24": {"mean": 1.0}}, spec)
    assert exc.value.field.startswith("Conv-input:176x176x3") and "missing" in str(exc.value)
    with pytest.raises(InputError):
        predict_latency(tmp_path, spec)  # no 176.json
    (tmp_path / "176.json").write_text("{not json")
    with pytest.raises(InputError) as exc:
        predict_latency(tmp_path, spec)
    assert "\n" not in str(exc.value)
    (tmp_path / "176.json").write_text(json.dumps({"Conv-input:176x176x3-output:88x88x24": {"mean": "fast"}}))
    with pytest.raises(InputError):
        predict_latency(tmp_path, spec)


def test_lut_and_library_import_without_torch() -> None:
    code = ("import sys, rlrm.dnn.lut, rlrm.dnn.library, rlrm.dnn.flops; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PROJECT_ROOT)
