"""Dynamic-OFA switching: per-level BatchNorm statistics follow switch(); nothing is reloaded."""

from __future__ import annotations

import builtins
import statistics
import time

import pytest
import torch
import torch.nn as nn

from rlrm.dnn import checkpoint
from rlrm.dnn.dynamic_ofa import DynamicOFA
from rlrm.dnn.library import SubnetLibrary, SubnetSpec, load_library
from rlrm.dnn.supernet import OFAMobileNetV3
from rlrm.errors import InputError




def _small_library(arch) -> SubnetLibrary:
    n = arch.n_blocks
    return SubnetLibrary("test", arch, [
        SubnetSpec(0, 20, (2,) * 5, (3,) * n, (3,) * n),
        SubnetSpec(1, 24, (3, 2, 3, 2, 3), tuple([5, 7, 3, 5] * 5), tuple([4, 6, 3, 4] * 5)),
        SubnetSpec(2, 32, (4,) * 5, (7,) * n, (6,) * n),
    ])


@pytest.fixture()
def small() -> DynamicOFA:
    torch.manual_seed(0)
    net = OFAMobileNetV3(width_mult=0.35, n_classes=10, dropout_rate=0.1)
    model = DynamicOFA(net, _small_library(net.arch)).eval()
    g = torch.Generator().manual_seed(0)
    model.calibrate([torch.randn(16, 3, 32, 32, generator=g) for _ in range(2)])
    return model


def _bns(model: DynamicOFA) -> list[nn.BatchNorm2d]:
    return [m for m in model.supernet.modules() if isinstance(m, nn.BatchNorm2d)]


def test_levels_have_their_own_statistics(small) -> None:
    stats = []
    for level in range(3):
        small.switch(level)
        stats.append([bn.running_mean.clone() for bn in _bns(small)])
    # the first conv's BatchNorm sees other resolutions per level -> other statistics
    assert not torch.equal(stats[0][0], stats[2][0])
    # switching back brings the same tensors back (by identity: no copy)
    small.switch(0)
    ids0 = [id(bn.running_mean) for bn in _bns(small)]
    small.switch(2)
    small.switch(0)
    assert ids0 == [id(bn.running_mean) for bn in _bns(small)]
    assert all(torch.equal(a, bn.running_mean) for a, bn in zip(stats[0], _bns(small)))


def test_output_follows_switch_and_equals_static_subnet(small) -> None:
    x = torch.randn(3, 3, 32, 32)
    outs = []
    with torch.no_grad():
        for level in (2, 0, 1, 2):
            small.switch(level)
            y = small(x)
            static = small.static_subnet().eval()
            ref = static(small.prepare(x))
            assert torch.allclose(y, ref, atol=1e-5), level
            outs.append(y)
    assert torch.equal(outs[0], outs[3])
    assert not torch.allclose(outs[0], outs[1])


def test_calibrated_statistics_are_batch_statistics(small) -> None:
    g = torch.Generator().manual_seed(5)
    batches = [torch.randn(8, 3, 24, 24, generator=g) for _ in range(3)]
    small.calibrate(batches, levels=[1])
    small.switch(1)
    first_bn = small.supernet.first_conv.bn
    with torch.no_grad():
        feats = torch.cat([small.supernet.first_conv.conv(small.prepare(b)) for b in batches])
    assert torch.allclose(first_bn.running_mean, feats.mean(dim=(0, 2, 3)), atol=1e-5)
    var = torch.stack([f.var(dim=(0, 2, 3), unbiased=False) for f in feats.split(8)]).mean(0)
    assert torch.allclose(first_bn.running_var, var, atol=1e-5)


def test_static_subnet_of_other_level_keeps_current(small) -> None:
    small.switch(1)
    static0 = small.static_subnet(0)
    assert small.level == 1
    small.switch(0)
    assert torch.equal(static0.first_conv.bn.running_mean, small.supernet.first_conv.bn.running_mean)


def test_bn_stats_save_load_round_trip(small, tmp_path) -> None:
    small.save_pretrained(tmp_path / "m")
    again = DynamicOFA.from_pretrained(tmp_path / "m")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        for level in range(3):
            small.switch(level)
            again.switch(level)
            assert torch.equal(small(x), again(x))
    # stored statistics cover only the channels each level uses (as Dynamic-OFA stores them)
    state = small.bn_stats_state()
    key = "level0.blocks.1.conv.inverted_bottleneck.bn.bn.running_mean"
    assert state[key].numel() == 24  # 8 input channels x expand 3
    assert "level0.blocks.4.conv.point_linear.bn.bn.running_mean" not in state  # depth 2: block 4 idle


def test_bad_bn_stats_are_input_errors(small) -> None:
    with pytest.raises(InputError) as exc:
        small.load_bn_stats({"level9.first_conv.bn.running_mean": torch.zeros(8)}, "s.safetensors")
    assert exc.value.field == "level9.first_conv.bn.running_mean"
    with pytest.raises(InputError):
        small.load_bn_stats({"level0.first_conv.bn.running_var": torch.full((8,), -1.0)})
    with pytest.raises(InputError):
        small.load_bn_stats({"level0.first_conv.bn.running_mean": torch.zeros(99)})


def test_library_must_match_supernet() -> None:
    with pytest.raises(InputError) as exc:
        DynamicOFA(OFAMobileNetV3(width_mult=1.0), load_library("dynamic-ofa-6"))
    assert exc.value.field == "supernet"


def test_switch_reloads_nothing_and_is_fast(monkeypatch) -> None:
    """The real-size w1.2 supernet: switching touches no file and no weight."""
    torch.manual_seed(0)
    model = DynamicOFA(OFAMobileNetV3(width_mult=1.2, dropout_rate=0), load_library("dynamic-ofa-6")).eval()
    model.calibrate([torch.randn(1, 3, 32, 32)])
    params = {n: (p.data_ptr(), p.clone()) for n, p in model.named_parameters()}

    def forbidden(*_a, **_k):
        raise AssertionError("switch() must not load anything")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(checkpoint, "read_tensors", forbidden)
    monkeypatch.setattr(builtins, "open", forbidden)
    times = []
    for i in range(600):
        t0 = time.perf_counter()
        model.switch(i % 6)
        times.append(time.perf_counter() - t0)
    monkeypatch.undo()
    for n, p in model.named_parameters():
        ptr, value = params[n]
        assert p.data_ptr() == ptr and torch.equal(p, value), n
    # target is <= 1 ms (experiments/bench_switch.py measures ~0.02 ms); generous bound for busy CI
    assert statistics.median(times) < 5e-3


def test_switch_rejects_unknown_level(small) -> None:
    with pytest.raises(ValueError):
        small.switch(3)
