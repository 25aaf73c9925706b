"""Multiply-accumulates and parameters of a sub-network, counted from its shape (no torch).

Counts as once-for-all's ``count_net_flops`` / ``ofa.utils.flops_counter.profile`` do on the
static sub-network: every convolution contributes
``in_channels * out_elements * k * k / groups`` MACs (squeeze-and-excitation 1x1 convs
included, biases not), the classifier ``in_features * out_features``; BatchNorm,
activations, pooling and residual additions count nothing. Parameters are all learnable
tensors of the static sub-network (convolution and linear weights and biases, BatchNorm
weight and bias; running statistics are buffers, not parameters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from rlrm.dnn.arch import SupernetArch, conv_out_size, final_feature_size, se_channels, walk_blocks


@dataclass(frozen=True)
class Cost:
    """Size of one sub-network.

    :param macs: multiply-accumulates for one image
    :param params: learnable parameters
    """

    macs: int
    params: int

    @property
    def mflops(self) -> float:
        """MACs in millions (once-for-all and Dynamic-OFA call these MFLOPs)."""
        return self.macs / 1e6

    @property
    def mparams(self) -> float:
        return self.params / 1e6


def _conv(out_size: int, cin: int, cout: int, k: int, groups: int = 1, bias: bool = False, bn: bool = True) -> tuple[int, int]:
    macs = cin * cout * k * k * out_size * out_size // groups
    params = cout * (cin // groups) * k * k + (cout if bias else 0) + (2 * cout if bn else 0)
    return macs, params


def count_subnet(
    arch: SupernetArch,
    resolution: int,
    kernel: Sequence[int],
    expand: Sequence[float],
    depth: Sequence[int],
) -> Cost:
    """MACs and parameters of a sub-network of ``arch`` at ``resolution``.

    :param arch: the supernet skeleton
    :param resolution: input side in pixels
    :param kernel: kernel size per elastic block
    :param expand: expand ratio per elastic block
    :param depth: depth per stage
    """
    parts: list[tuple[int, int]] = []
    size = conv_out_size(resolution, 2)
    parts.append(_conv(size, 3, arch.first_conv_channels, 3))
    for b in walk_blocks(arch, resolution, kernel, expand, depth):
        if b.expand_ratio != 1:
            parts.append(_conv(b.in_size, b.in_channels, b.mid_channels, 1))
        parts.append(_conv(b.out_size, b.mid_channels, b.mid_channels, b.kernel_size, groups=b.mid_channels))
        if b.use_se:
            se = se_channels(b.mid_channels)
            parts.append(_conv(1, b.mid_channels, se, 1, bias=True, bn=False))
            parts.append(_conv(1, se, b.mid_channels, 1, bias=True, bn=False))
        parts.append(_conv(b.out_size, b.mid_channels, b.out_channels, 1))
    last = arch.stage_widths[-1]
    parts.append(_conv(final_feature_size(resolution), last, arch.final_expand_channels, 1))
    parts.append(_conv(1, arch.final_expand_channels, arch.last_channels, 1, bn=False))
    parts.append(_conv(1, arch.last_channels, arch.n_classes, 1, bias=True, bn=False))
    return Cost(macs=sum(p[0] for p in parts), params=sum(p[1] for p in parts))
