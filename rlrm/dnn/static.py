"""A static MobileNetV3: what :meth:`OFAMobileNetV3.get_active_subnet` returns.

Same structure and state-dict keys as once-for-all's
``ofa/imagenet_classification/networks/mobilenet_v3.py::MobileNetV3``.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from rlrm.dnn.layers import ConvLayer, LinearLayer, ResidualBlock


class MobileNetV3(nn.Module):
    """first conv -> blocks -> final expand -> global average pool -> feature mix -> classifier.

    :param first_conv: 3x3 stride-2 stem
    :param blocks: residual blocks, run in order
    :param final_expand_layer: 1x1 convolution with BatchNorm and h-swish
    :param feature_mix_layer: 1x1 convolution (no BatchNorm) with h-swish after pooling
    :param classifier: dropout + linear
    """

    def __init__(
        self,
        first_conv: ConvLayer,
        blocks: Sequence[ResidualBlock],
        final_expand_layer: ConvLayer,
        feature_mix_layer: ConvLayer,
        classifier: LinearLayer,
    ) -> None:
        super().__init__()
        self.first_conv = first_conv
        self.blocks = nn.ModuleList(blocks)
        self.final_expand_layer = final_expand_layer
        self.feature_mix_layer = feature_mix_layer
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.first_conv(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x)

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """Everything after the last block."""
        x = self.final_expand_layer(x)
        x = x.mean(3, keepdim=True).mean(2, keepdim=True)
        x = self.feature_mix_layer(x)
        return self.classifier(x.view(x.size(0), -1))
