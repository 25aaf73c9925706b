"""OFA-compatible state dict: keys and shapes as once-for-all's, weights-only loading,
one-line errors for corrupt or mismatched files."""

from __future__ import annotations

import json
import math

import pytest
import torch

from rlrm.dnn.checkpoint import load_weights, read_tensors, save_weights
from rlrm.dnn import OFAMobileNetV3  # the package-level name the issue specifies
from rlrm.errors import InputError
from rlrm.paths import PROJECT_ROOT



REFERENCE = PROJECT_ROOT.parent / "shared" / "reference"
SHAPES = REFERENCE / "ofa_mbv3_state_dict_shapes.json"


@pytest.fixture(scope="module")
def net10() -> OFAMobileNetV3:
    torch.manual_seed(0)
    return OFAMobileNetV3(width_mult=1.0, dropout_rate=0).eval()


@pytest.mark.skipif(not SHAPES.is_file(), reason="reference shapes file not available")
@pytest.mark.parametrize("width", [1.0, 1.2])
def test_state_dict_keys_and_shapes_match_once_for_all(width: float) -> None:
    ref = json.loads(SHAPES.read_text())[f"ofa_mbv3_d234_e346_k357_w{width}"]
    net = OFAMobileNetV3(n_classes=1000, dropout_rate=0, width_mult=width)
    sd = {k: list(v.shape) for k, v in net.state_dict().items()}
    assert list(sd) == list(ref)  # same keys, same order
    assert sd == ref
    n_params = sum(p.numel() for p in net.parameters())
    n_all = sum(math.prod(s) for s in ref.values())  # the reference's 7.72 M / 10.77 M count buffers too
    n_buffers = sum(b.numel() for b in net.buffers())
    assert n_params + n_buffers == n_all


def test_once_for_all_checkpoint_layout_loads_strict(tmp_path, net10) -> None:
    """A published-style .pth: {"state_dict": ...} with the older `.mobile_inverted_conv.` names."""
    sd = {k.replace(".conv.", ".mobile_inverted_conv.", 1) if k.startswith("blocks.") else k: v
          for k, v in net10.state_dict().items()}
    assert any(".mobile_inverted_conv." in k for k in sd)
    path = tmp_path / "ofa_mbv3_d234_e346_k357_w1.0.pth"
    torch.save({"state_dict": sd}, path)
    other = OFAMobileNetV3(width_mult=1.0, dropout_rate=0).eval()
    load_weights(other, path)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(other(x), net10(x))
    # exactly the keys: the plain torch loader accepts the file's tensors with strict=True
    plain = OFAMobileNetV3(width_mult=1.0, dropout_rate=0)
    plain.load_state_dict(net10.state_dict(), strict=True)


def test_safetensors_round_trip(tmp_path, net10) -> None:
    path = tmp_path / "w.safetensors"
    save_weights(net10, path)
    other = load_weights(OFAMobileNetV3(width_mult=1.0, dropout_rate=0), path).eval()
    x = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        assert torch.equal(other(x), net10(x))


def _one_line(err: InputError) -> str:
    text = str(err)
    assert "\n" not in text
    return text


def test_width_mismatch_names_the_key_and_shapes(tmp_path, net10) -> None:
    path = tmp_path / "w10.safetensors"
    save_weights(net10, path)
    with pytest.raises(InputError) as exc:
        load_weights(OFAMobileNetV3(width_mult=1.2), path)
    text = _one_line(exc.value)
    assert exc.value.field == "first_conv.conv.weight"
    assert "[16, 3, 3, 3]" in text and "[24, 3, 3, 3]" in text


def test_class_count_mismatch(tmp_path, net10) -> None:
    path = tmp_path / "w.safetensors"
    save_weights(net10, path)
    with pytest.raises(InputError) as exc:
        load_weights(OFAMobileNetV3(width_mult=1.0, n_classes=10), path)
    assert exc.value.field == "classifier.linear.weight"


def test_missing_and_unexpected_keys(tmp_path, net10) -> None:
    sd = dict(net10.state_dict())
    sd.pop("blocks.7.conv.depth_conv.conv.7to5_matrix")
    save_weights(sd, tmp_path / "missing.safetensors")
    with pytest.raises(InputError) as exc:
        load_weights(OFAMobileNetV3(width_mult=1.0), tmp_path / "missing.safetensors")
    assert exc.value.field == "blocks.7.conv.depth_conv.conv.7to5_matrix"
    assert "missing" in _one_line(exc.value)
    sd = dict(net10.state_dict())
    sd["blocks.99.conv.weight"] = torch.zeros(1)
    save_weights(sd, tmp_path / "extra.safetensors")
    with pytest.raises(InputError) as exc:
        load_weights(OFAMobileNetV3(width_mult=1.0), tmp_path / "extra.safetensors")
    assert exc.value.field == "blocks.99.conv.weight"


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_corrupt_file_is_one_line_error(tmp_path, net10, suffix: str) -> None:
    good = tmp_path / f"good{suffix}"
    if suffix == ".pth":
        torch.save(net10.state_dict(), good)
    else:
        save_weights(net10, good)
    data = good.read_bytes()
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(data[: len(data) // 2])  # truncated download
    with pytest.raises(InputError) as exc:
        load_weights(OFAMobileNetV3(width_mult=1.0), bad)
    assert exc.value.field == "<file>"
    _one_line(exc.value)
    junk = tmp_path / f"junk{suffix}"
    junk.write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(InputError):
        read_tensors(junk)


def test_non_finite_values_are_refused(tmp_path, net10) -> None:
    sd = {k: v.clone() for k, v in net10.state_dict().items()}
    sd["blocks.3.conv.point_linear.bn.bn.weight"][0] = float("nan")
    save_weights(sd, tmp_path / "nan.safetensors")
    with pytest.raises(InputError) as exc:
        load_weights(OFAMobileNetV3(width_mult=1.0), tmp_path / "nan.safetensors")
    assert exc.value.field == "blocks.3.conv.point_linear.bn.bn.weight"


class Payload:
    """Any class: unpickling it would run arbitrary code paths."""

    def __reduce__(self):  # noqa: D105
        return (print, ("unpickled!",))


def test_pickled_objects_are_never_unpickled(tmp_path, net10, capsys) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": dict(net10.state_dict()), "extra": Payload()}, path)
    with pytest.raises(InputError) as exc:
        read_tensors(path)
    assert "weights-only" in _one_line(exc.value)
    assert "unpickled!" not in capsys.readouterr().out
