"""The transfer sub-net: frozen encoder -> AdaIN at every tap and decoder stage -> decoder -> RGB.

Statistics of a reference are computed once (``reference_stats``) and pooled across references, so
the app can change the blend or the set of references without re-encoding anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from core.adain import FeatureStats, adain_with_stats, blend, calc_mean_std, pool_stats
from core.models.decoder import TransferDecoder
from core.models.encoder import Encoder


@dataclass(frozen=True)
class ReferenceStats:
    """Per-tap encoder statistics and per-stage decoder statistics of one (or a pooled set of) reference(s)."""

    encoder: dict[str, FeatureStats]
    decoder: tuple[FeatureStats, ...]

    @staticmethod
    def pooled(stats: Sequence["ReferenceStats"], weights: Sequence[float] | None = None) -> "ReferenceStats":
        if len(stats) == 1 and weights is None:
            return stats[0]
        names = stats[0].encoder.keys()
        encoder = {name: pool_stats([s.encoder[name] for s in stats], weights) for name in names}
        decoder = tuple(pool_stats([s.decoder[i] for s in stats], weights) for i in range(len(stats[0].decoder)))
        return ReferenceStats(encoder, decoder)


class TransferNet(nn.Module):
    def __init__(self, encoder: Encoder, decoder: TransferDecoder | None = None) -> None:
        super().__init__()
        self.encoder = encoder.freeze()
        self.decoder = decoder if decoder is not None else TransferDecoder(encoder.taps)

    def encode(self, rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.encoder(rgb)

    def reference_stats(self, features: dict[str, torch.Tensor]) -> ReferenceStats:
        """Statistics of a reference from its encoder features (its own reconstruction pass gives the
        decoder-side statistics)."""
        decoder_stats: list[FeatureStats] = []

        def record(index: int, x: torch.Tensor) -> torch.Tensor:
            decoder_stats.append(calc_mean_std(x))
            return x

        self.decoder(features, stage_hook=record)
        encoder_stats = {tap.name: calc_mean_std(features[tap.name]) for tap in self.encoder.taps}
        return ReferenceStats(encoder_stats, tuple(decoder_stats))

    def decode(
        self,
        features: dict[str, torch.Tensor],
        size: tuple[int, int],
        reference: ReferenceStats | None = None,
        alpha: float | torch.Tensor = 1.0,
    ) -> torch.Tensor:
        """Decode target features to RGB, aligned to ``reference`` with blend strength ``alpha``
        (a number, or a strength map (N, 1, h, w) that varies over the photo)."""
        if reference is None or (not isinstance(alpha, torch.Tensor) and alpha == 0.0):
            return self.decoder(features, size=size)
        aligned = {
            name: blend(adain_with_stats(feat, reference.encoder[name]), feat, alpha) for name, feat in features.items()
        }

        def align(index: int, x: torch.Tensor) -> torch.Tensor:
            return blend(adain_with_stats(x, reference.decoder[index]), x, alpha)

        return self.decoder(aligned, size=size, stage_hook=align)

    def forward(self, target_rgb: torch.Tensor, reference_rgb: torch.Tensor | None = None, alpha: float = 1.0) -> torch.Tensor:
        size = tuple(target_rgb.shape[2:])
        features = self.encode(target_rgb)
        stats = None
        if reference_rgb is not None:
            stats = self.reference_stats(self.encode(reference_rgb))
        return self.decode(features, size, stats, alpha)
