"""ONNX export and the ONNX Runtime path of ``rlrm run --model onnx:DIR``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from rlrm.cli import main
from rlrm.errors import InputError

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from rlrm.dnn.onnx_model import FORMAT, FORMAT_VERSION, OnnxDynamicModel, choose_providers  # noqa: E402
from rlrm.live.onnx_inference import OnnxInferenceRunner, load_onnx_runner  # noqa: E402
from tests.hw_support import board_dir, state_dir, xavier  # noqa: E402,F401


def _level_model(resolution: int, scale: float) -> bytes:
    """A tiny stand-in for a level: logits = scale * global average of the input, 10 classes."""
    from onnx import TensorProto, helper

    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, resolution, resolution])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])
    w = helper.make_tensor("w", TensorProto.FLOAT, [3, 10], [scale] * 30)
    nodes = [helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w"], ["logits"])]
    graph = helper.make_graph(nodes, "level", [inp], [out], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


@pytest.fixture
def export(tmp_path: Path) -> Path:
    out = tmp_path / "export"
    out.mkdir()
    levels = []
    for lv, (r, scale) in enumerate([(8, 1.0), (16, 2.0), (12, 3.0)]):
        data = _level_model(r, scale)
        (out / f"level-{lv}.onnx").write_bytes(data)
        levels.append({"level": lv, "resolution": r, "file": f"level-{lv}.onnx",
                       "sha256": hashlib.sha256(data).hexdigest(), "max_abs_diff": 0.0})
    (out / "manifest.json").write_text(json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION,
                                                   "library": "tiny", "levels": levels}))
    return out


def test_levels_switch_in_process(export: Path) -> None:
    model = OnnxDynamicModel(export, threads=1)
    assert model.n_levels == 3 and model.level == 0 and model.resolution == 8
    for lv, scale in [(1, 2.0), (2, 3.0), (0, 1.0)]:
        model.switch(lv)
        x = np.ones((1, 3, model.resolution, model.resolution), dtype=np.float32)
        np.testing.assert_allclose(model(x), np.full((1, 10), 3 * scale), rtol=1e-6)
    with pytest.raises(ValueError):
        model.switch(3)


def test_runner_runs_each_level_at_its_resolution(export: Path) -> None:
    runner = OnnxInferenceRunner(OnnxDynamicModel(export))
    for lv in (2, 1, 0):
        runner.switch(lv)
        lat = runner.run_for(0.0, max_inferences=3)
        assert len(lat) >= 1 and all(t >= 0 for t in lat)
    assert runner.level == 0 and runner.n_levels == 3


def test_changed_file_is_refused_naming_the_field(export: Path) -> None:
    path = export / "level-1.onnx"
    path.write_bytes(_level_model(16, 5.0))
    with pytest.raises(InputError) as err:
        OnnxDynamicModel(export)
    assert "levels[1].sha256" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("edit,field", [({"format": "other"}, "format"), ({"format_version": 9}, "format_version"),
                                        ({"levels": []}, "levels")])
def test_bad_manifest_one_line(export: Path, edit: dict, field: str) -> None:
    manifest = export / "manifest.json"
    data = {**json.loads(manifest.read_text()), **edit}
    manifest.write_text(json.dumps(data))
    with pytest.raises(InputError) as err:
        OnnxDynamicModel(export)
    assert field in str(err.value)


def test_not_an_export_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        load_onnx_runner(f"onnx:{tmp_path}", "synthetic", "cpu")
    assert "manifest.json" in str(err.value)


def test_providers() -> None:
    assert choose_providers("cpu", ["CUDAExecutionProvider", "CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert choose_providers("auto", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert choose_providers("cuda", ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]) == [
        "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    with pytest.raises(InputError):
        choose_providers("cuda", ["CPUExecutionProvider"])


def test_rlrm_run_with_an_onnx_model(export: Path, xavier: Path, tmp_path: Path,  # noqa: F811
                                     capsys: pytest.CaptureFixture) -> None:
    code = main(["run", "--platform", "jetson-xavier-nx", "--policy", "schedutil+dofa", "--model", f"onnx:{export}",
                 "--scenario", "steady", "--duration", "0.4s", "--period", "0.1", "--no-background",
                 "--logdir", str(tmp_path / "runs"), "--sysfs-root", str(xavier)])
    out = capsys.readouterr().out
    assert code == 0
    assert f"model onnx:{export}" in out and "lat ms" in out  # the summary table's latency column


@pytest.mark.slow
def test_export_demo_matches_torch(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    torch = pytest.importorskip("torch")
    from rlrm.live.inference import load_model

    out = tmp_path / "demo-onnx"
    assert main(["dnn", "export-onnx", "--model", "demo", "-o", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    model = load_model("demo")
    assert len(manifest["levels"]) == model.n_levels
    onnx_model = OnnxDynamicModel(out)
    with torch.no_grad():
        for lv in range(model.n_levels):
            model.switch(lv)
            onnx_model.switch(lv)
            x = torch.randn(1, 3, onnx_model.resolution, onnx_model.resolution)
            np.testing.assert_allclose(onnx_model(x.numpy()), model(x).numpy(), atol=1e-4)


BOARD = """
import sys
BLOCKED = {"torch", "stable_baselines3", "sb3_contrib", "tensorboard", "matplotlib", "sklearn", "yaml", "tqdm", "rich"}
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError("No module named " + repr(name), name=name)
        return None
sys.meta_path.insert(0, Block())
from rlrm.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_rlrm_run_onnx_on_a_board_without_torch(export: Path, xavier: Path, tmp_path: Path) -> None:  # noqa: F811
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    script = tmp_path / "board.py"
    script.write_text(BOARD)
    done = subprocess.run([sys.executable, str(script), "run", "--platform", "jetson-xavier-nx", "--policy",
                           "jetson-xavier-nx-ppo", "--model", f"onnx:{export}", "--scenario", "steady",
                           "--duration", "0.3", "--period", "0.1", "--no-background",
                           "--logdir", str(tmp_path / "runs"), "--sysfs-root", str(xavier)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(root)})
    assert done.returncode == 0, done.stderr
    assert "ppo:jetson-xavier-nx-ppo" in done.stdout and "TensorBoard: off (no torch)" in done.stdout
