"""rlrm dnn eval / library: tables, and one-line errors for bad input (exit code 2)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from rlrm.cli import main
from rlrm.dnn.dynamic_ofa import DynamicOFA
from rlrm.dnn.library import SubnetLibrary, SubnetSpec
from rlrm.dnn.supernet import OFAMobileNetV3
from rlrm.paths import PROJECT_ROOT

LUT = PROJECT_ROOT.parent / "shared" / "reference" / "ofa_latency_lut"




@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.manual_seed(0)
    net = OFAMobileNetV3(width_mult=0.35, n_classes=10, dropout_rate=0)
    n = net.arch.n_blocks
    lib = SubnetLibrary("tiny", net.arch, [
        SubnetSpec(0, 16, (2,) * 5, (3,) * n, (3,) * n, top1=50.0),
        SubnetSpec(1, 24, (4,) * 5, (7,) * n, (6,) * n, top1=60.0),
    ])
    model = DynamicOFA(net, lib)
    model.calibrate([torch.randn(4, 3, 24, 24)])
    d = tmp_path_factory.mktemp("m") / "tiny"
    model.save_pretrained(d)
    return d


def test_eval_model_directory(model_dir, capsys) -> None:
    assert main(["dnn", "eval", "--model", str(model_dir), "--repeats", "2", "--warmup", "0"]) == 0
    out = capsys.readouterr().out
    assert "from the library" in out and "50.00" in out and "60.00" in out


def test_library_table_with_lut(capsys) -> None:
    args = ["dnn", "library", "dynamic-ofa-6", "--json"]
    if LUT.is_dir():
        args += ["--lut", str(LUT / "jetson_xavier_nx_gpu")]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["levels"]) == 6 and out["levels"][5]["mflops"] == pytest.approx(731.1, abs=0.05)
    if LUT.is_dir():
        assert out["levels"][0]["lut:jetson_xavier_nx_gpu"] == pytest.approx(18.24, abs=0.01)


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rlrm: error: ")
    return err


def test_corrupt_weights_give_one_line_error(model_dir, tmp_path, capsys) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(model_dir, bad)
    data = (bad / "weights.safetensors").read_bytes()
    (bad / "weights.safetensors").write_bytes(data[:1000])
    assert main(["dnn", "eval", "--model", str(bad)]) == 2
    assert "weights.safetensors: <file>:" in _error_line(capsys)


def test_mismatched_weights_name_the_key(model_dir, tmp_path, capsys) -> None:
    bad = tmp_path / "mismatch"
    shutil.copytree(model_dir, bad)
    lib = json.loads((bad / "library.json").read_text())
    lib["supernet"] = "ofa_mbv3_d234_e346_k357_w0.5"
    (bad / "library.json").write_text(json.dumps(lib))
    assert main(["dnn", "eval", "--model", str(bad)]) == 2
    assert "model.json: supernet: 'ofa_mbv3_d234_e346_k357_w0.35' disagrees with library.json" in _error_line(capsys)
    info = json.loads((bad / "model.json").read_text())
    info["supernet"] = lib["supernet"]  # both edited: the weights themselves are checked
    (bad / "model.json").write_text(json.dumps(info))
    assert main(["dnn", "eval", "--model", str(bad)]) == 2
    line = _error_line(capsys)
    # widths 0.35 and 0.5 share the 8-channel stem; stage 1's output width (8 vs 16) differs
    assert "weights.safetensors: blocks.1.conv.point_linear.conv.conv.weight: shape [8, 48, 1, 1]" in line
    assert "expects [16, 48, 1, 1]" in line


def test_bad_levels_and_missing_model(model_dir, capsys) -> None:
    assert main(["dnn", "eval", "--model", str(model_dir), "--levels", "7"]) == 2
    _error_line(capsys)
    assert main(["dnn", "eval", "--model", "/no/such/model"]) == 2
    _error_line(capsys)
    assert main(["dnn", "library", "no-such-library"]) == 2
    _error_line(capsys)
