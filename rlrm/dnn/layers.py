"""Static building blocks of OFA MobileNetV3 networks.

Module names (``conv``, ``bn``, ``act``, ``inverted_bottleneck``, ``depth_conv``,
``point_linear``, ``se.fc.reduce``/``se.fc.expand``, ``linear``) and the order of operations
follow once-for-all's ``ofa/utils/layers.py`` and ``pytorch_modules.py``, so state-dict keys
and outputs match its networks.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from rlrm.dnn.arch import se_channels


class Hswish(nn.Module):
    """Hard swish, ``x * relu6(x + 3) / 6``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * F.relu6(x + 3.0) / 6.0


class Hsigmoid(nn.Module):
    """Hard sigmoid, ``relu6(x + 3) / 6``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(x + 3.0) / 6.0


def build_activation(act_func: Optional[str]) -> Optional[nn.Module]:
    """``relu``, ``h_swish``, ``h_sigmoid`` or ``None``."""
    if act_func == "relu":
        return nn.ReLU()
    if act_func == "h_swish":
        return Hswish()
    if act_func == "h_sigmoid":
        return Hsigmoid()
    if act_func is None or act_func == "none":
        return None
    raise ValueError(f"unsupported activation: {act_func}")


class SEModule(nn.Module):
    """Squeeze-and-excitation with a hard-sigmoid gate.

    :param channel: channels of the gated feature map; the hidden width is
        ``make_divisible(channel // 4, 8)``
    """

    def __init__(self, channel: int) -> None:
        super().__init__()
        self.channel = channel
        num_mid = se_channels(channel)
        self.fc = nn.Sequential(
            OrderedDict(
                [
                    ("reduce", nn.Conv2d(channel, num_mid, 1, 1, 0, bias=True)),
                    ("relu", nn.ReLU()),
                    ("expand", nn.Conv2d(num_mid, channel, 1, 1, 0, bias=True)),
                    ("h_sigmoid", Hsigmoid()),
                ]
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.mean(3, keepdim=True).mean(2, keepdim=True)
        return x * self.fc(y)


class ConvLayer(nn.Module):
    """Convolution, optional BatchNorm, optional activation (``weight_bn_act`` order).

    :param in_channels: input channels
    :param out_channels: output channels
    :param kernel_size: square kernel side, 'same' padding
    :param stride: stride
    :param bias: convolution bias
    :param use_bn: add a BatchNorm after the convolution
    :param act_func: activation name or ``None``
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        bias: bool = False,
        use_bn: bool = True,
        act_func: Optional[str] = "relu",
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.use_bn = use_bn
        self.act_func = act_func
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=bias
        )
        if use_bn:
            self.bn = nn.BatchNorm2d(out_channels)
        act = build_activation(act_func)
        if act is not None:
            self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self._modules.values():
            x = module(x)
        return x


class LinearLayer(nn.Module):
    """Dropout then a fully connected layer (once-for-all's classifier).

    :param in_features: input features
    :param out_features: output features (classes)
    :param bias: use a bias
    :param dropout_rate: dropout probability before the linear layer (0: none)
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, dropout_rate: float = 0.0
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.dropout_rate = dropout_rate
        if dropout_rate > 0:
            self.dropout = nn.Dropout(dropout_rate)
        self.linear = nn.Linear(in_features, out_features, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self._modules.values():
            x = module(x)
        return x


class MBConvLayer(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk (+ SE), 1x1 project.

    :param in_channels: input channels
    :param out_channels: output channels
    :param kernel_size: depthwise kernel size
    :param stride: depthwise stride
    :param expand_ratio: 1 means no expansion convolution
    :param mid_channels: middle width; ``round(in_channels * expand_ratio)`` if ``None``
    :param act_func: activation of the expansion and depthwise convolutions
    :param use_se: add squeeze-and-excitation after the depthwise convolution
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        expand_ratio: float = 6,
        mid_channels: Optional[int] = None,
        act_func: str = "relu",
        use_se: bool = False,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.expand_ratio = expand_ratio
        self.act_func = act_func
        self.use_se = use_se
        mid = round(in_channels * expand_ratio) if mid_channels is None else mid_channels
        self.mid_channels = mid
        self.inverted_bottleneck: Optional[nn.Sequential]
        if expand_ratio == 1:
            self.inverted_bottleneck = None
        else:
            self.inverted_bottleneck = nn.Sequential(
                OrderedDict(
                    [
                        ("conv", nn.Conv2d(in_channels, mid, 1, 1, 0, bias=False)),
                        ("bn", nn.BatchNorm2d(mid)),
                        ("act", build_activation(act_func)),
                    ]
                )
            )
        depth = [
            ("conv", nn.Conv2d(mid, mid, kernel_size, stride, kernel_size // 2, groups=mid, bias=False)),
            ("bn", nn.BatchNorm2d(mid)),
            ("act", build_activation(act_func)),
        ]
        if use_se:
            depth.append(("se", SEModule(mid)))
        self.depth_conv = nn.Sequential(OrderedDict(depth))
        self.point_linear = nn.Sequential(
            OrderedDict(
                [
                    ("conv", nn.Conv2d(mid, out_channels, 1, 1, 0, bias=False)),
                    ("bn", nn.BatchNorm2d(out_channels)),
                ]
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inverted_bottleneck is not None:
            x = self.inverted_bottleneck(x)
        return self.point_linear(self.depth_conv(x))


class ResidualBlock(nn.Module):
    """``conv(x) + x`` when ``shortcut`` is set, else ``conv(x)``.

    :param conv: the block's main path
    :param shortcut: an identity module, or ``None`` for no residual connection
    """

    def __init__(self, conv: nn.Module, shortcut: Optional[nn.Module]) -> None:
        super().__init__()
        self.conv = conv
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shortcut is None:
            return self.conv(x)
        return self.conv(x) + self.shortcut(x)


def set_bn_param(model: nn.Module, momentum: float, eps: float) -> None:
    """Set momentum and epsilon of every BatchNorm in ``model``."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = momentum
            m.eps = eps


def get_bn_param(model: nn.Module) -> dict[str, float]:
    """Momentum and epsilon of the first BatchNorm in ``model``."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            return {"momentum": m.momentum, "eps": m.eps}
    return {"momentum": 0.1, "eps": 1e-5}


def init_weights(model: nn.Module) -> None:
    """once-for-all's ``he_fout`` initialisation: conv N(0, sqrt(2/(k*k*out))), BN (1, 0),
    linear U(+-1/sqrt(in)) with zero bias."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            nn.init.normal_(m.weight, 0.0, (2.0 / n) ** 0.5)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            bound = 1.0 / m.weight.size(1) ** 0.5
            nn.init.uniform_(m.weight, -bound, bound)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
