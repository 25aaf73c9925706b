"""The OFA MobileNetV3 architecture as plain numbers (no torch).

Everything that needs the *shape* of a subnetwork, not its weights, walks it here: the
supernet builder (channel widths), the FLOPs counter and the latency look-up table. The
constants follow once-for-all's ``OFAMobileNetV3``: base widths
``[16, 16, 24, 40, 80, 112, 160, 960, 1280]`` scaled by ``width_mult`` and made divisible
by 8, strides ``[1, 2, 2, 2, 1, 2]``, activations relu/relu/relu/h_swish/h_swish/h_swish and
squeeze-and-excitation on stages 2, 4 and 5 (counting the first block as stage 0).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator, Optional, Sequence

#: Channel multiple every width is rounded to (once-for-all's ``MyNetwork.CHANNEL_DIVISIBLE``).
CHANNEL_DIVISIBLE = 8
#: Squeeze-and-excitation reduction (once-for-all's ``SEModule.REDUCTION``).
SE_REDUCTION = 4
BASE_STAGE_WIDTH = (16, 16, 24, 40, 80, 112, 160, 960, 1280)
#: Per stage, the first block (stage 0) included.
STRIDE_STAGES = (1, 2, 2, 2, 1, 2)
ACT_STAGES = ("relu", "relu", "relu", "h_swish", "h_swish", "h_swish")
SE_STAGES = (False, False, True, False, True, True)
#: Number of elastic stages (the first block is fixed).
N_STAGES = 5


def make_divisible(v: float, divisor: int = CHANNEL_DIVISIBLE, min_val: Optional[int] = None) -> int:
    """Round ``v`` to a multiple of ``divisor`` (TensorFlow MobileNet rule, as once-for-all)."""
    if min_val is None:
        min_val = divisor
    new_v = max(min_val, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:  # round down by no more than 10 %
        new_v += divisor
    return int(new_v)


def middle_channels(in_channels: int, expand_ratio: float) -> int:
    """Channels inside an inverted-residual block, as ``DynamicMBConvLayer`` computes them."""
    return make_divisible(round(in_channels * expand_ratio), CHANNEL_DIVISIBLE)


def se_channels(channels: int) -> int:
    """Hidden width of the squeeze-and-excitation module of a ``channels``-wide block."""
    return make_divisible(channels // SE_REDUCTION, CHANNEL_DIVISIBLE)


def conv_out_size(size: int, stride: int) -> int:
    """Output side of a 'same'-padded odd-kernel convolution."""
    return (size - 1) // stride + 1


@dataclass(frozen=True)
class SupernetArch:
    """The fixed skeleton of an OFA MobileNetV3 supernet.

    :param width_mult: width multiplier (1.0 and 1.2 are the published supernets)
    :param n_classes: classifier outputs
    :param ks_list: kernel sizes a block may use
    :param expand_ratio_list: expand ratios a block may use
    :param depth_list: number of blocks a stage may run
    """

    width_mult: float = 1.0
    n_classes: int = 1000
    ks_list: tuple[int, ...] = (3, 5, 7)
    expand_ratio_list: tuple[int, ...] = (3, 4, 6)
    depth_list: tuple[int, ...] = (2, 3, 4)
    widths: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ks_list", tuple(sorted(int(k) for k in self.ks_list)))
        object.__setattr__(
            self, "expand_ratio_list", tuple(sorted(self.expand_ratio_list))
        )
        object.__setattr__(self, "depth_list", tuple(sorted(int(d) for d in self.depth_list)))
        widths = tuple(make_divisible(w * self.width_mult) for w in BASE_STAGE_WIDTH)
        object.__setattr__(self, "widths", widths)

    @property
    def first_conv_channels(self) -> int:
        return self.widths[0]

    @property
    def first_block_channels(self) -> int:
        return self.widths[1]

    @property
    def stage_widths(self) -> tuple[int, ...]:
        """Output channels of the 5 elastic stages."""
        return self.widths[2:7]

    @property
    def final_expand_channels(self) -> int:
        return self.widths[7]

    @property
    def last_channels(self) -> int:
        return self.widths[8]

    @property
    def max_depth(self) -> int:
        return max(self.depth_list)

    @property
    def n_blocks(self) -> int:
        """Elastic blocks (the first, fixed block not counted): 5 stages x max depth."""
        return N_STAGES * self.max_depth

    @property
    def name(self) -> str:
        """once-for-all's checkpoint name, e.g. ``ofa_mbv3_d234_e346_k357_w1.2``."""
        d = "".join(str(x) for x in self.depth_list)
        e = "".join(_num(int(x)) if float(x).is_integer() else _num(x) for x in self.expand_ratio_list)
        k = "".join(str(x) for x in self.ks_list)
        return f"ofa_mbv3_d{d}_e{e}_k{k}_w{_num(float(self.width_mult))}"

    @classmethod
    def from_name(cls, name: str, n_classes: int = 1000) -> "SupernetArch":
        """Parse ``ofa_mbv3_d234_e346_k357_w1.2`` (single-digit depth/expand/kernel values)."""
        m = re.fullmatch(r"ofa_mbv3_d(\d+)_e(\d+)_k(\d+)_w(\d+(?:\.\d+)?)", name)
        if not m:
            raise ValueError(f"not an OFA MobileNetV3 supernet name: {name!r}")
        return cls(
            width_mult=float(m.group(4)),
            n_classes=n_classes,
            ks_list=tuple(int(c) for c in m.group(3)),
            expand_ratio_list=tuple(int(c) for c in m.group(2)),
            depth_list=tuple(int(c) for c in m.group(1)),
        )


def _num(x: float) -> str:
    """``6`` -> ``6``, ``1.2`` -> ``1.2``, ``1.0`` -> ``1.0``, ``0.35`` -> ``0.35``."""
    if isinstance(x, int):
        return str(x)
    return f"{x:.1f}" if round(x, 1) == x else f"{x:g}"


@dataclass(frozen=True)
class BlockShape:
    """One inverted-residual block of a subnetwork, with everything that sizes it.

    :param index: block index in the supernet's ``blocks`` list (0 is the fixed first block)
    :param stage: elastic stage (0..4), -1 for the first block
    :param in_size: input feature-map side
    :param out_size: output feature-map side
    :param in_channels: input channels
    :param out_channels: output channels
    :param mid_channels: channels of the depthwise convolution
    :param kernel_size: depthwise kernel size
    :param expand_ratio: expand ratio (1 for the first block: no inverted bottleneck)
    :param stride: depthwise stride
    :param id_skip: identity shortcut present
    :param use_se: squeeze-and-excitation present
    :param act_func: ``relu`` or ``h_swish``
    """

    index: int
    stage: int
    in_size: int
    out_size: int
    in_channels: int
    out_channels: int
    mid_channels: int
    kernel_size: int
    expand_ratio: float
    stride: int
    id_skip: bool
    use_se: bool
    act_func: str


def walk_blocks(
    arch: SupernetArch,
    resolution: int,
    kernel: Sequence[int],
    expand: Sequence[float],
    depth: Sequence[int],
) -> Iterator[BlockShape]:
    """Yield the active blocks of a subnetwork, first block included, in execution order.

    ``kernel`` and ``expand`` have one entry per elastic block (``arch.n_blocks``); block
    ``j`` of stage ``s`` uses entry ``s * max_depth + j``, and only the first ``depth[s]``
    blocks of each stage run (once-for-all's ``set_active_subnet`` convention).
    """
    size = conv_out_size(resolution, 2)
    c = arch.first_conv_channels
    first_out = arch.first_block_channels
    yield BlockShape(
        index=0, stage=-1, in_size=size, out_size=size, in_channels=c,
        out_channels=first_out, mid_channels=c, kernel_size=3, expand_ratio=1,
        stride=STRIDE_STAGES[0], id_skip=c == first_out, use_se=SE_STAGES[0],
        act_func=ACT_STAGES[0],
    )
    c = first_out
    md = arch.max_depth
    for s in range(N_STAGES):
        width = arch.stage_widths[s]
        for j in range(depth[s]):
            i = s * md + j
            stride = STRIDE_STAGES[s + 1] if j == 0 else 1
            out_size = conv_out_size(size, stride)
            yield BlockShape(
                index=1 + i, stage=s, in_size=size, out_size=out_size, in_channels=c,
                out_channels=width, mid_channels=middle_channels(c, expand[i]),
                kernel_size=int(kernel[i]), expand_ratio=expand[i], stride=stride,
                id_skip=stride == 1 and c == width, use_se=SE_STAGES[s + 1],
                act_func=ACT_STAGES[s + 1],
            )
            size, c = out_size, width


def final_feature_size(resolution: int) -> int:
    """Side of the last feature map (before global pooling): five stride-2 steps."""
    size = resolution
    for s in (2,) + STRIDE_STAGES:
        size = conv_out_size(size, s)
    return size
