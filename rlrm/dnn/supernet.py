"""The elastic OFA MobileNetV3 supernet (once-for-all compatible)."""

from __future__ import annotations

import copy
import random
from typing import Any, Optional, Sequence, Union

import torch
import torch.nn as nn

from rlrm.dnn.arch import ACT_STAGES, N_STAGES, SE_STAGES, STRIDE_STAGES, SupernetArch
from rlrm.dnn.dynamic_layers import DynamicMBConvLayer
from rlrm.dnn.layers import (
    ConvLayer,
    LinearLayer,
    MBConvLayer,
    ResidualBlock,
    get_bn_param,
    init_weights,
    set_bn_param,
)
from rlrm.dnn.static import MobileNetV3

IntOrList = Union[int, float, Sequence[Optional[Union[int, float]]], None]


def _val2list(val: IntOrList, n: int) -> list[Any]:
    if isinstance(val, (list, tuple)):
        if len(val) != n:
            raise ValueError(f"expected {n} values, got {len(val)}")
        return list(val)
    return [val] * n


class Identity(nn.Module):
    """The identity shortcut of a residual block (once-for-all's ``IdentityLayer``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class OFAMobileNetV3(MobileNetV3):
    """Elastic MobileNetV3 with once-for-all's search space and state-dict layout.

    Elastic dimensions: kernel size and expand ratio per block (20 blocks for depth up to
    4), depth per stage (5 stages), any input resolution. The state dict has exactly the
    keys and shapes of once-for-all's ``OFAMobileNetV3``, so a published checkpoint loads
    with ``strict=True`` (see :mod:`rlrm.dnn.checkpoint`).

    :param n_classes: classifier outputs
    :param bn_param: BatchNorm ``(momentum, eps)``
    :param dropout_rate: dropout before the classifier
    :param width_mult: width multiplier (1.0 and 1.2 are the published supernets)
    :param ks_list: kernel sizes a block may use
    :param expand_ratio_list: expand ratios a block may use
    :param depth_list: blocks a stage may run
    """

    def __init__(
        self,
        n_classes: int = 1000,
        bn_param: tuple[float, float] = (0.1, 1e-5),
        dropout_rate: float = 0.1,
        width_mult: float = 1.0,
        ks_list: Sequence[int] = (3, 5, 7),
        expand_ratio_list: Sequence[float] = (3, 4, 6),
        depth_list: Sequence[int] = (2, 3, 4),
    ) -> None:
        arch = SupernetArch(
            width_mult=width_mult, n_classes=n_classes, ks_list=tuple(ks_list),
            expand_ratio_list=tuple(expand_ratio_list), depth_list=tuple(depth_list),
        )
        self.width_mult = width_mult
        self.ks_list = list(arch.ks_list)
        self.expand_ratio_list = list(arch.expand_ratio_list)
        self.depth_list = list(arch.depth_list)
        self.dropout_rate = dropout_rate

        c0, c1 = arch.first_conv_channels, arch.first_block_channels
        first_conv = ConvLayer(3, c0, kernel_size=3, stride=2, act_func="h_swish")
        first_block = ResidualBlock(
            MBConvLayer(c0, c1, 3, STRIDE_STAGES[0], 1, act_func=ACT_STAGES[0], use_se=SE_STAGES[0]),
            Identity() if c0 == c1 else None,
        )
        blocks: list[ResidualBlock] = [first_block]
        block_group_info: list[list[int]] = []
        feature_dim = c1
        for s in range(N_STAGES):
            width = arch.stage_widths[s]
            start = len(blocks)
            block_group_info.append(list(range(start, start + arch.max_depth)))
            for i in range(arch.max_depth):
                stride = STRIDE_STAGES[s + 1] if i == 0 else 1
                conv = DynamicMBConvLayer(
                    [feature_dim], [width], self.ks_list, self.expand_ratio_list, stride,
                    ACT_STAGES[s + 1], SE_STAGES[s + 1],
                )
                shortcut = Identity() if stride == 1 and feature_dim == width else None
                blocks.append(ResidualBlock(conv, shortcut))
                feature_dim = width
        final_expand = ConvLayer(feature_dim, arch.final_expand_channels, kernel_size=1, act_func="h_swish")
        feature_mix = ConvLayer(
            arch.final_expand_channels, arch.last_channels, kernel_size=1, bias=False,
            use_bn=False, act_func="h_swish",
        )
        classifier = LinearLayer(arch.last_channels, n_classes, dropout_rate=dropout_rate)
        super().__init__(first_conv, blocks, final_expand, feature_mix, classifier)
        self.arch = arch
        self.block_group_info = block_group_info
        self.runtime_depth = [len(g) for g in block_group_info]
        init_weights(self)
        set_bn_param(self, momentum=bn_param[0], eps=bn_param[1])

    # ----------------------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.first_conv(x)
        x = self.blocks[0](x)
        for group, depth in zip(self.block_group_info, self.runtime_depth):
            for idx in group[:depth]:
                x = self.blocks[idx](x)
        return self.head(x)

    # ------------------------------------------------------------------ active sub-network
    @property
    def elastic_blocks(self) -> list[DynamicMBConvLayer]:
        return [b.conv for b in self.blocks[1:]]  # type: ignore[misc]

    def set_active_subnet(self, ks: IntOrList = None, e: IntOrList = None, d: IntOrList = None, **_: Any) -> None:
        """Select a sub-network; ``None`` (or a ``None`` list entry) leaves a value as it is.

        :param ks: kernel size, one for all or one per elastic block
        :param e: expand ratio, one for all or one per elastic block
        :param d: depth, one for all or one per stage
        """
        n = len(self.blocks) - 1
        ks_l, e_l, d_l = _val2list(ks, n), _val2list(e, n), _val2list(d, len(self.block_group_info))
        for k in ks_l:
            if k is not None and k not in self.ks_list:
                raise ValueError(f"kernel size {k} not in {self.ks_list}")
        for x in e_l:
            if x is not None and x not in self.expand_ratio_list:
                raise ValueError(f"expand ratio {x} not in {self.expand_ratio_list}")
        for x in d_l:
            if x is not None and x not in self.depth_list:
                raise ValueError(f"depth {x} not in {self.depth_list}")
        for block, k, x in zip(self.blocks[1:], ks_l, e_l):
            if k is not None:
                block.conv.active_kernel_size = k
            if x is not None:
                block.conv.active_expand_ratio = x
        for i, x in enumerate(d_l):
            if x is not None:
                self.runtime_depth[i] = min(len(self.block_group_info[i]), x)

    def set_max_net(self) -> None:
        self.set_active_subnet(ks=max(self.ks_list), e=max(self.expand_ratio_list), d=max(self.depth_list))

    def set_min_net(self) -> None:
        self.set_active_subnet(ks=min(self.ks_list), e=min(self.expand_ratio_list), d=min(self.depth_list))

    def sample_active_subnet(self, rng: Optional[random.Random] = None) -> dict[str, list[Any]]:
        """Activate a uniformly random sub-network and return its ``{"ks", "e", "d"}``."""
        r = rng or random
        n = len(self.blocks) - 1
        cfg = {
            "ks": [r.choice(self.ks_list) for _ in range(n)],
            "e": [r.choice(self.expand_ratio_list) for _ in range(n)],
            "d": [r.choice(self.depth_list) for _ in range(len(self.block_group_info))],
        }
        self.set_active_subnet(cfg["ks"], cfg["e"], cfg["d"])
        return cfg

    @property
    def active_config(self) -> dict[str, list[Any]]:
        """The current ``{"ks", "e", "d"}``."""
        return {
            "ks": [b.active_kernel_size for b in self.elastic_blocks],
            "e": [b.active_expand_ratio for b in self.elastic_blocks],
            "d": list(self.runtime_depth),
        }

    def get_active_subnet(self, preserve_weight: bool = True) -> MobileNetV3:
        """A static :class:`MobileNetV3` equal to the active sub-network (weights copied)."""
        blocks = [copy.deepcopy(self.blocks[0])]
        in_channel = self.blocks[0].conv.out_channels
        for group, depth in zip(self.block_group_info, self.runtime_depth):
            for idx in group[:depth]:
                block = self.blocks[idx]
                blocks.append(
                    ResidualBlock(
                        block.conv.get_active_subnet(in_channel, preserve_weight),
                        copy.deepcopy(block.shortcut),
                    )
                )
                in_channel = block.conv.active_out_channel
        net = MobileNetV3(
            copy.deepcopy(self.first_conv), blocks, copy.deepcopy(self.final_expand_layer),
            copy.deepcopy(self.feature_mix_layer), copy.deepcopy(self.classifier),
        )
        set_bn_param(net, **get_bn_param(self))
        return net.train(self.training)

    def re_organize_middle_weights(self, expand_ratio_stage: int = 0) -> None:
        """Importance-sort every block's middle channels (before training elastic width)."""
        for block in self.elastic_blocks:
            block.re_organize_middle_weights(expand_ratio_stage)
