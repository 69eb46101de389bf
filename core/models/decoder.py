"""The transfer sub-net's decoder, built from an encoder's tap specification.

Deepest tap first: each stage upsamples, concatenates the (AdaIN-aligned) encoder skip of that
resolution, and refines; after each stage the decoder-side features can be aligned to a reference's
decoder statistics too (the paper's AdaIN "at every scale, encoder and decoder side"). The head
returns RGB at the input resolution.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from core.models.encoder import Tap

StageHook = Callable[[int, torch.Tensor], torch.Tensor]


def _conv(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, padding=1, padding_mode="reflect"), nn.ReLU(inplace=True))


class TransferDecoder(nn.Module):
    def __init__(self, taps: Sequence[Tap], min_channels: int = 32) -> None:
        super().__init__()
        if not taps:
            raise ValueError("the decoder needs at least one encoder tap")
        self.taps = tuple(sorted(taps, key=lambda t: t.stride, reverse=True))  # deep -> shallow
        widths = [max(t.channels, min_channels) for t in self.taps]
        self.widths = tuple(widths)
        self.entry = _conv(self.taps[0].channels, widths[0])
        stages = []
        for i, tap in enumerate(self.taps[1:], start=1):
            stages.append(nn.Sequential(_conv(widths[i - 1] + tap.channels, widths[i]), _conv(widths[i], widths[i])))
        self.stages = nn.ModuleList(stages)
        self.final_stride = self.taps[-1].stride
        head: list[nn.Module] = []
        if self.final_stride > 1:
            head += [_conv(widths[-1], widths[-1])]
        head += [nn.Conv2d(widths[-1], 3, 3, padding=1, padding_mode="reflect")]
        self.head = nn.Sequential(*head)

    @property
    def num_stages(self) -> int:
        """Points where decoder-side statistics are read or aligned: after entry and each stage."""
        return len(self.taps)

    def forward(
        self,
        features: dict[str, torch.Tensor],
        size: tuple[int, int] | None = None,
        stage_hook: StageHook | None = None,
    ) -> torch.Tensor:
        """Features keyed by tap name -> RGB (N, 3, H, W); ``size`` is the output size (H, W).

        ``stage_hook(stage_index, x)`` sees (and may replace) the decoder features after each stage.
        """
        x = self.entry(features[self.taps[0].name])
        if stage_hook is not None:
            x = stage_hook(0, x)
        for i, (tap, stage) in enumerate(zip(self.taps[1:], self.stages), start=1):
            skip = features[tap.name]
            x = F.interpolate(x, size=skip.shape[2:], mode="nearest")
            x = stage(torch.cat((x, skip), dim=1))
            if stage_hook is not None:
                x = stage_hook(i, x)
        if size is None:
            size = (x.shape[2] * self.final_stride, x.shape[3] * self.final_stride)
        if tuple(x.shape[2:]) != tuple(size):
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return self.head(x)
