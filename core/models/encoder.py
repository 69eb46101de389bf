"""The interface every frozen ImageNet encoder offers the transfer sub-net."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.color import IMAGENET_MEAN, IMAGENET_STD
from core.models.precision import reduced_precision


@dataclass(frozen=True)
class Tap:
    """A named feature map the encoder exposes: its channels and its stride w.r.t. the input."""

    name: str
    channels: int
    stride: int


class Encoder(nn.Module):
    """Frozen feature extractor. Subclasses set ``name``, ``taps`` (shallow to deep) and implement
    ``_features(x)`` on ImageNet-normalised input, returning a dict keyed by tap name."""

    name: str = ""
    taps: tuple[Tap, ...] = ()
    global_dim: int = 0
    inference_dtype: tuple[str, torch.dtype] | None = None  # core.models.precision: set for inference

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def freeze(self) -> "Encoder":
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        return self

    def fuse_batchnorm(self) -> "Encoder":
        """For inference: fold BatchNorm layers into the convolutions before them (the same features,
        fewer passes over memory). The fused encoder no longer loads its checkpoint's state dict."""
        return self

    def train(self, mode: bool = True) -> "Encoder":
        # Frozen: BatchNorm statistics never move, whatever the enclosing module's mode.
        return super().train(False)

    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        if rgb.dim() != 4 or rgb.shape[1] != 3:
            raise ValueError(f"encoder input must be RGB shaped (N, 3, H, W), got {tuple(rgb.shape)}")
        return (rgb - self._mean) / self._std

    @reduced_precision
    def forward(self, rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        """RGB in [0, 1] -> {tap name: features}."""
        return self._features(self.normalize(rgb))

    def _features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def global_features(self, rgb: torch.Tensor) -> torch.Tensor:
        """A pooled image descriptor (N, global_dim) for global-prior fusion."""
        raise NotImplementedError(f"{self.name} offers no global descriptor")

    @property
    def max_stride(self) -> int:
        return max(t.stride for t in self.taps)
