"""The supernet in a configuration computes what its extracted static sub-network computes."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn as nn

from rlrm.dnn.library import load_library
from rlrm.dnn.static import MobileNetV3
from rlrm.dnn.supernet import OFAMobileNetV3




def _perturb(net: OFAMobileNetV3, seed: int = 0) -> OFAMobileNetV3:
    """Non-trivial kernel transforms and BatchNorm statistics, so every path is exercised."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if "matrix" in name:
                p.add_(0.1 * torch.randn(p.shape, generator=g))
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
    return net.eval()


@pytest.fixture(scope="module")
def net12() -> OFAMobileNetV3:
    torch.manual_seed(0)
    return _perturb(OFAMobileNetV3(width_mult=1.2, dropout_rate=0.1))


def _check(net: OFAMobileNetV3, resolution: int, tol: float = 1e-5) -> MobileNetV3:
    x = torch.randn(2, 3, resolution, resolution)
    static = net.get_active_subnet(preserve_weight=True).eval()
    assert isinstance(static, MobileNetV3)
    with torch.no_grad():
        a, b = net(x), static(x)
    assert a.shape == (2, net.arch.n_classes)
    assert torch.allclose(a, b, atol=tol, rtol=tol), float((a - b).abs().max())
    return static


def test_library_levels_static_equals_supernet(net12) -> None:
    lib = load_library("dynamic-ofa-6")
    for level in (0, 3, 5):
        spec = lib[level]
        net12.set_active_subnet(**spec.ofa_config)
        static = _check(net12, 64)  # any resolution: 64 px keeps the test fast
        n_blocks = 1 + sum(spec.depth)
        assert len(static.blocks) == n_blocks
        assert sum(p.numel() for p in static.parameters()) == lib.cost(level).params


def test_random_subnets_static_equals_supernet(net12) -> None:
    rng = random.Random(1)
    for r in (32, 56, 72):
        cfg = net12.sample_active_subnet(rng)
        assert cfg == net12.active_config
        _check(net12, r)


def test_width_1_0_and_max_min(tmp_path) -> None:
    torch.manual_seed(1)
    net = _perturb(OFAMobileNetV3(width_mult=1.0, n_classes=10), seed=1)
    net.set_max_net()
    _check(net, 40)
    net.set_min_net()
    _check(net, 40)


def test_kernel_transform_is_centre_crop_through_matrices(net12) -> None:
    dw = net12.blocks[1].conv.depth_conv.conv
    w = dw.conv.weight[:8]
    m75 = getattr(dw, "7to5_matrix")
    m53 = getattr(dw, "5to3_matrix")
    k5 = (w[:, :, 1:6, 1:6].reshape(-1, 25) @ m75.t()).view(8, 1, 5, 5)
    k3 = (k5[:, :, 1:4, 1:4].reshape(-1, 9) @ m53.t()).view(8, 1, 3, 3)
    assert torch.allclose(dw.get_active_filter(8, 5), k5)
    assert torch.allclose(dw.get_active_filter(8, 3), k3)
    assert torch.equal(dw.get_active_filter(8, 7), w)


def test_identity_transforms_give_plain_centre_crop() -> None:
    net = OFAMobileNetV3(width_mult=1.0)
    dw = net.blocks[5].conv.depth_conv.conv
    assert torch.equal(dw.get_active_filter(4, 3), dw.conv.weight[:4, :, 2:5, 2:5])


def test_set_active_subnet_validates_and_accepts_partial_lists(net12) -> None:
    with pytest.raises(ValueError):
        net12.set_active_subnet(ks=4)
    with pytest.raises(ValueError):
        net12.set_active_subnet(d=[2, 3])
    net12.set_max_net()
    net12.set_active_subnet(ks=[3] + [None] * 19, d=[None, 2, None, None, None])
    cfg = net12.active_config
    assert cfg["ks"][:2] == [3, 7] and cfg["d"] == [4, 2, 4, 4, 4] and cfg["e"] == [6] * 20


def test_middle_channels_follow_make_divisible() -> None:
    net = OFAMobileNetV3(width_mult=0.35, n_classes=10)
    net.set_active_subnet(e=3, ks=3, d=2)
    static = net.get_active_subnet()
    # stage 1 input is 8 channels: round(8 * 3) = 24; SE hidden width make_divisible(mid // 4, 8)
    first = static.blocks[1].conv
    assert first.inverted_bottleneck[0].out_channels == 24
    se_block = static.blocks[3].conv  # stage 2 (SE), input 8 -> mid 24, SE mid 8
    assert se_block.depth_conv.se.fc.reduce.out_channels == 8
