"""Elastic operators of the OFA supernet: weight-sharing convolutions, BatchNorm and SE.

Each operator owns the largest weight and computes with a slice of it, as once-for-all's
``elastic_nn/modules/dynamic_op.py`` and ``dynamic_layers.py`` do:

- channels: the first ``n`` output/input channels (weights are stored importance-sorted);
- kernel size: the centre crop of the largest kernel, passed through the learned
  ``7to5_matrix`` / ``5to3_matrix`` kernel transforms (one step per size);
- BatchNorm: the first ``n`` entries of weight, bias and running statistics.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from rlrm.dnn.arch import middle_channels, se_channels
from rlrm.dnn.layers import MBConvLayer, SEModule, build_activation


def sub_filter_start_end(kernel_size: int, sub_kernel_size: int) -> tuple[int, int]:
    """Start and end index of the centred ``sub_kernel_size`` window of a kernel."""
    center = kernel_size // 2
    dev = sub_kernel_size // 2
    return center - dev, center + dev + 1


class DynamicSeparableConv2d(nn.Module):
    """Depthwise convolution with an elastic kernel size.

    :param max_in_channels: largest channel count (= groups)
    :param kernel_size_list: kernel sizes the layer can run
    :param stride: stride
    """

    def __init__(self, max_in_channels: int, kernel_size_list: Sequence[int], stride: int = 1) -> None:
        super().__init__()
        self.max_in_channels = max_in_channels
        self.kernel_size_list = list(kernel_size_list)
        self.stride = stride
        self._ks_set = sorted(set(self.kernel_size_list))
        # Own parameters first, as once-for-all registers them (state-dict key order).
        for i in range(len(self._ks_set) - 1):
            small, large = self._ks_set[i], self._ks_set[i + 1]
            self.register_parameter(f"{large}to{small}_matrix", nn.Parameter(torch.eye(small**2)))
        self.conv = nn.Conv2d(
            max_in_channels, max_in_channels, max(self._ks_set), stride,
            groups=max_in_channels, bias=False,
        )
        self.active_kernel_size = max(self._ks_set)

    def get_active_filter(self, in_channel: int, kernel_size: int) -> torch.Tensor:
        """Depthwise filters for ``in_channel`` channels at ``kernel_size``."""
        max_ks = max(self._ks_set)
        filters = self.conv.weight[:in_channel, :in_channel]
        if kernel_size == max_ks:
            return filters
        for i in range(len(self._ks_set) - 1, 0, -1):
            src, dst = self._ks_set[i], self._ks_set[i - 1]
            if src <= kernel_size:
                break
            start, end = sub_filter_start_end(src, dst)
            crop = filters[:, :, start:end, start:end].contiguous()
            crop = crop.view(-1, dst * dst)
            crop = F.linear(crop, getattr(self, f"{src}to{dst}_matrix"))
            filters = crop.view(filters.size(0), filters.size(1), dst, dst)
        return filters

    def forward(self, x: torch.Tensor, kernel_size: Optional[int] = None) -> torch.Tensor:
        ks = self.active_kernel_size if kernel_size is None else kernel_size
        c = x.size(1)
        filters = self.get_active_filter(c, ks).contiguous()
        return F.conv2d(x, filters, None, self.stride, ks // 2, 1, c)


class DynamicConv2d(nn.Module):
    """Pointwise (or small) convolution with elastic input and output channels.

    :param max_in_channels: largest input channel count
    :param max_out_channels: largest output channel count
    :param kernel_size: kernel size ('same' padding)
    :param stride: stride
    """

    def __init__(
        self, max_in_channels: int, max_out_channels: int, kernel_size: int = 1, stride: int = 1
    ) -> None:
        super().__init__()
        self.max_in_channels = max_in_channels
        self.max_out_channels = max_out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.conv = nn.Conv2d(max_in_channels, max_out_channels, kernel_size, stride=stride, bias=False)
        self.active_out_channel = max_out_channels

    def get_active_filter(self, out_channel: int, in_channel: int) -> torch.Tensor:
        return self.conv.weight[:out_channel, :in_channel]

    def forward(self, x: torch.Tensor, out_channel: Optional[int] = None) -> torch.Tensor:
        out = self.active_out_channel if out_channel is None else out_channel
        filters = self.get_active_filter(out, x.size(1)).contiguous()
        return F.conv2d(x, filters, None, self.stride, self.kernel_size // 2, 1, 1)


class DynamicBatchNorm2d(nn.Module):
    """BatchNorm over the first ``C`` channels of a ``max_feature_dim``-wide BatchNorm.

    :param max_feature_dim: largest channel count
    """

    def __init__(self, max_feature_dim: int) -> None:
        super().__init__()
        self.max_feature_dim = max_feature_dim
        self.bn = nn.BatchNorm2d(max_feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bn = self.bn
        c = x.size(1)
        if c == bn.num_features or bn.__dict__.get("_rlrm_calibrating", False):
            return bn(x)
        factor = 0.0
        if bn.training and bn.track_running_stats:
            bn.num_batches_tracked += 1
            factor = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
        return F.batch_norm(
            x,
            bn.running_mean[:c],
            bn.running_var[:c],
            bn.weight[:c],
            bn.bias[:c],
            bn.training or not bn.track_running_stats,
            factor,
            bn.eps,
        )


class DynamicSE(SEModule):
    """Squeeze-and-excitation whose widths follow the input's channel count.

    :param max_channel: largest gated channel count
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.size(1)
        mid = se_channels(c)
        y = x.mean(3, keepdim=True).mean(2, keepdim=True)
        reduce, expand = self.fc.reduce, self.fc.expand
        y = F.conv2d(y, reduce.weight[:mid, :c].contiguous(), reduce.bias[:mid])
        y = self.fc.relu(y)
        y = F.conv2d(y, expand.weight[:c, :mid].contiguous(), expand.bias[:c])
        return x * self.fc.h_sigmoid(y)


def _copy_bn(target: nn.BatchNorm2d, source: nn.BatchNorm2d) -> None:
    n = target.num_features
    with torch.no_grad():
        target.weight.copy_(source.weight[:n])
        target.bias.copy_(source.bias[:n])
        target.running_mean.copy_(source.running_mean[:n])
        target.running_var.copy_(source.running_var[:n])


class DynamicMBConvLayer(nn.Module):
    """Inverted-residual block with elastic kernel size and expand ratio.

    :param in_channel_list: input channel counts (the largest sizes the weights)
    :param out_channel_list: output channel counts
    :param kernel_size_list: depthwise kernel sizes
    :param expand_ratio_list: expand ratios
    :param stride: depthwise stride
    :param act_func: activation name
    :param use_se: add squeeze-and-excitation
    """

    def __init__(
        self,
        in_channel_list: Sequence[int],
        out_channel_list: Sequence[int],
        kernel_size_list: Sequence[int] = (3,),
        expand_ratio_list: Sequence[float] = (6,),
        stride: int = 1,
        act_func: str = "relu",
        use_se: bool = False,
    ) -> None:
        super().__init__()
        self.in_channel_list = list(in_channel_list)
        self.out_channel_list = list(out_channel_list)
        self.kernel_size_list = list(kernel_size_list)
        self.expand_ratio_list = list(expand_ratio_list)
        self.stride = stride
        self.act_func = act_func
        self.use_se = use_se
        max_mid = middle_channels(max(self.in_channel_list), max(self.expand_ratio_list))
        self.inverted_bottleneck = nn.Sequential(
            OrderedDict(
                [
                    ("conv", DynamicConv2d(max(self.in_channel_list), max_mid)),
                    ("bn", DynamicBatchNorm2d(max_mid)),
                    ("act", build_activation(act_func)),
                ]
            )
        )
        depth = [
            ("conv", DynamicSeparableConv2d(max_mid, self.kernel_size_list, stride)),
            ("bn", DynamicBatchNorm2d(max_mid)),
            ("act", build_activation(act_func)),
        ]
        if use_se:
            depth.append(("se", DynamicSE(max_mid)))
        self.depth_conv = nn.Sequential(OrderedDict(depth))
        self.point_linear = nn.Sequential(
            OrderedDict(
                [
                    ("conv", DynamicConv2d(max_mid, max(self.out_channel_list))),
                    ("bn", DynamicBatchNorm2d(max(self.out_channel_list))),
                ]
            )
        )
        self.active_kernel_size = max(self.kernel_size_list)
        self.active_expand_ratio = max(self.expand_ratio_list)
        self.active_out_channel = max(self.out_channel_list)

    @property
    def in_channels(self) -> int:
        return max(self.in_channel_list)

    @property
    def out_channels(self) -> int:
        return max(self.out_channel_list)

    def active_middle_channel(self, in_channel: int) -> int:
        return middle_channels(in_channel, self.active_expand_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.inverted_bottleneck.conv.active_out_channel = self.active_middle_channel(x.size(1))
        self.depth_conv.conv.active_kernel_size = self.active_kernel_size
        self.point_linear.conv.active_out_channel = self.active_out_channel
        x = self.inverted_bottleneck(x)
        x = self.depth_conv(x)
        return self.point_linear(x)

    def get_active_subnet(self, in_channel: int, preserve_weight: bool = True) -> MBConvLayer:
        """A static :class:`MBConvLayer` computing what this layer computes now."""
        mid = self.active_middle_channel(in_channel)
        sub = MBConvLayer(
            in_channel, self.active_out_channel, self.active_kernel_size, self.stride,
            self.active_expand_ratio, mid, self.act_func, self.use_se,
        ).to(self.point_linear.conv.conv.weight.device)
        if not preserve_weight:
            return sub
        with torch.no_grad():
            ib = sub.inverted_bottleneck
            assert ib is not None
            ib.conv.weight.copy_(self.inverted_bottleneck.conv.get_active_filter(mid, in_channel))
            _copy_bn(ib.bn, self.inverted_bottleneck.bn.bn)
            sub.depth_conv.conv.weight.copy_(
                self.depth_conv.conv.get_active_filter(mid, self.active_kernel_size)
            )
            _copy_bn(sub.depth_conv.bn, self.depth_conv.bn.bn)
            if self.use_se:
                se_mid = se_channels(mid)
                src, dst = self.depth_conv.se.fc, sub.depth_conv.se.fc
                dst.reduce.weight.copy_(src.reduce.weight[:se_mid, :mid])
                dst.reduce.bias.copy_(src.reduce.bias[:se_mid])
                dst.expand.weight.copy_(src.expand.weight[:mid, :se_mid])
                dst.expand.bias.copy_(src.expand.bias[:mid])
            sub.point_linear.conv.weight.copy_(
                self.point_linear.conv.get_active_filter(self.active_out_channel, mid)
            )
            _copy_bn(sub.point_linear.bn, self.point_linear.bn.bn)
        return sub

    @torch.no_grad()
    def re_organize_middle_weights(self, expand_ratio_stage: int = 0) -> None:
        """Sort middle channels by importance (L1 norm of the projection weights), so the
        first channels are the ones a smaller expand ratio keeps (once-for-all's rule).

        :param expand_ratio_stage: 0 sorts all channels; ``k > 0`` keeps the channels of
            the ``k`` largest expand ratios inside their own ranges
        """
        importance = self.point_linear.conv.conv.weight.abs().sum(dim=(0, 2, 3))
        if expand_ratio_stage > 0:
            widths = [middle_channels(self.in_channels, e) for e in sorted(self.expand_ratio_list, reverse=True)]
            right = len(importance)
            base = -len(widths) * 1e5
            for i in range(expand_ratio_stage + 1):
                left = widths[i]
                importance[left:right] += base
                base += 1e5
                right = left
        idx = torch.sort(importance, dim=0, descending=True)[1]
        pl = self.point_linear.conv.conv
        pl.weight.copy_(pl.weight.index_select(1, idx))
        _permute_bn(self.depth_conv.bn.bn, idx)
        dc = self.depth_conv.conv.conv
        dc.weight.copy_(dc.weight.index_select(0, idx))
        if self.use_se:
            fc = self.depth_conv.se.fc
            fc.expand.weight.copy_(fc.expand.weight.index_select(0, idx))
            fc.expand.bias.copy_(fc.expand.bias.index_select(0, idx))
            fc.reduce.weight.copy_(fc.reduce.weight.index_select(1, idx))
            se_idx = torch.sort(fc.expand.weight.abs().sum(dim=(0, 2, 3)), descending=True)[1]
            fc.expand.weight.copy_(fc.expand.weight.index_select(1, se_idx))
            fc.reduce.weight.copy_(fc.reduce.weight.index_select(0, se_idx))
            fc.reduce.bias.copy_(fc.reduce.bias.index_select(0, se_idx))
        _permute_bn(self.inverted_bottleneck.bn.bn, idx)
        ib = self.inverted_bottleneck.conv.conv
        ib.weight.copy_(ib.weight.index_select(0, idx))


def _permute_bn(bn: nn.BatchNorm2d, idx: torch.Tensor) -> None:
    for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var):
        t.copy_(t.index_select(0, idx))


__all__ = [
    "DynamicBatchNorm2d",
    "DynamicConv2d",
    "DynamicMBConvLayer",
    "DynamicSE",
    "DynamicSeparableConv2d",
    "sub_filter_start_end",
]
