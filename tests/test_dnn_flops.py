"""FLOPs (multiply-accumulates) and parameters per sub-network, as once-for-all counts them."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn as nn

from rlrm.dnn.arch import SupernetArch
from rlrm.dnn.flops import count_subnet
from rlrm.dnn.library import load_library
from rlrm.dnn.supernet import OFAMobileNetV3
from rlrm.paths import PROJECT_ROOT



REFERENCE = PROJECT_ROOT.parent / "shared" / "reference" / "dynamic_ofa_subnets.json"


def _levels() -> list[dict]:
    if REFERENCE.is_file():
        libs = json.loads(REFERENCE.read_text())["libraries"]
        return libs["six_levels"] + libs["seven_levels"]
    return [s.to_json() for name in ("dynamic-ofa-6", "dynamic-ofa-7") for s in load_library(name).levels]


@pytest.mark.parametrize("level", _levels(), ids=lambda l: f"r{l['resolution']}-{l['mflops']}")
def test_counts_within_one_percent_of_published(level: dict) -> None:
    cost = count_subnet(SupernetArch(1.2), level["resolution"], level["kernel"], level["expand"], level["depth"])
    assert cost.mflops == pytest.approx(level["mflops"], rel=0.01)
    assert cost.mparams == pytest.approx(level["mparams"], rel=0.01)
    # in fact they agree to the published rounding
    assert abs(cost.mflops - level["mflops"]) < 0.05
    assert abs(cost.mparams - level["mparams"]) < 0.0005


def _hook_count(model: nn.Module, resolution: int) -> tuple[int, int]:
    """once-for-all's flops_counter.profile: conv/linear MACs via forward hooks on leaves."""
    total = [0]

    def conv_hook(m: nn.Conv2d, _inp, out) -> None:
        total[0] += m.in_channels * out.numel() * m.weight.shape[2] * m.weight.shape[3] // m.groups

    def linear_hook(m: nn.Linear, _inp, _out) -> None:
        total[0] += m.in_features * m.out_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, resolution, resolution))
    for h in handles:
        h.remove()
    return total[0], sum(p.numel() for p in model.parameters())


def test_analytic_count_equals_hook_count_on_static_subnet() -> None:
    lib = load_library("dynamic-ofa-6")
    net = OFAMobileNetV3(width_mult=1.2, dropout_rate=0)
    for level in (0, 5):
        spec = lib[level]
        net.set_active_subnet(**spec.ofa_config)
        macs, params = _hook_count(net.get_active_subnet(), spec.resolution)
        cost = lib.cost(level)
        assert (cost.macs, cost.params) == (macs, params)


def test_small_supernet_counts_match_hooks() -> None:
    net = OFAMobileNetV3(width_mult=0.35, n_classes=10)
    net.set_active_subnet(ks=[3, 5, 7, 5] * 5, e=[3, 4, 6, 3] * 5, d=[2, 3, 4, 3, 2])
    macs, params = _hook_count(net.get_active_subnet(), 28)
    cost = count_subnet(net.arch, 28, [3, 5, 7, 5] * 5, [3, 4, 6, 3] * 5, [2, 3, 4, 3, 2])
    assert (cost.macs, cost.params) == (macs, params)
