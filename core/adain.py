"""Adaptive instance normalisation (Huang & Belongie 2017) as small pure tensor functions.

AdaIN(x, y) = sigma(y) * (x - mu(x)) / sigma(x) + mu(y), per sample and channel, over H and W.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

EPS = 1e-5


@dataclass(frozen=True)
class FeatureStats:
    """Per-channel mean and standard deviation of a feature map, each shaped (N, C, 1, 1)."""

    mean: torch.Tensor
    std: torch.Tensor


def _check_features(feat: torch.Tensor, name: str = "features") -> None:
    if feat.dim() != 4:
        raise ValueError(f"{name} must be shaped (N, C, H, W), got {tuple(feat.shape)}")


def calc_mean_std(feat: torch.Tensor, eps: float = EPS) -> FeatureStats:
    _check_features(feat)
    n, c = feat.shape[:2]
    flat = feat.reshape(n, c, -1)
    var = flat.var(dim=2, unbiased=False) + eps
    return FeatureStats(flat.mean(dim=2).view(n, c, 1, 1), var.sqrt().view(n, c, 1, 1))


def masked_mean_std(feat: torch.Tensor, mask: torch.Tensor, eps: float = EPS) -> FeatureStats:
    """Statistics of ``feat`` over the pixels where ``mask`` (N, 1, H', W', values in [0, 1]) is set.

    The mask is resized to the feature map's size; an empty mask falls back to the whole map.
    """
    _check_features(feat)
    _check_features(mask, "mask")
    if mask.shape[2:] != feat.shape[2:]:
        mask = torch.nn.functional.interpolate(mask.float(), size=feat.shape[2:], mode="bilinear", align_corners=False)
    mask = mask.to(feat.dtype)
    total = mask.sum(dim=(2, 3), keepdim=True)
    empty = total < 1e-6
    mask = torch.where(empty, torch.ones_like(mask), mask)
    total = mask.sum(dim=(2, 3), keepdim=True)
    mean = (feat * mask).sum(dim=(2, 3), keepdim=True) / total
    var = ((feat - mean) ** 2 * mask).sum(dim=(2, 3), keepdim=True) / total
    return FeatureStats(mean, (var + eps).sqrt())


def pool_stats(stats: Sequence[FeatureStats], weights: Sequence[float] | None = None) -> FeatureStats:
    """Statistics of the mixture of several references (weighted), as if their pixels were pooled."""
    if not stats:
        raise ValueError("pool_stats needs at least one set of statistics")
    w = torch.tensor(weights if weights is not None else [1.0] * len(stats), dtype=stats[0].mean.dtype)
    if w.numel() != len(stats) or bool((w < 0).any()) or float(w.sum()) <= 0:
        raise ValueError("weights must be non-negative, one per reference, and not all zero")
    w = (w / w.sum()).to(stats[0].mean.device)
    mean = sum(wi * s.mean for wi, s in zip(w, stats))
    second = sum(wi * (s.std**2 + s.mean**2) for wi, s in zip(w, stats))
    var = (second - mean**2).clamp(min=EPS)
    return FeatureStats(mean, var.sqrt())


def adain_with_stats(content: torch.Tensor, style: FeatureStats, eps: float = EPS) -> torch.Tensor:
    c = calc_mean_std(content, eps)
    return style.std * (content - c.mean) / c.std + style.mean


def adaptive_instance_normalization(content: torch.Tensor, style: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """AdaIN(x, y) for content x (N, C, H, W) and style y (N, C, H', W')."""
    _check_features(content, "content")
    _check_features(style, "style")
    if content.shape[:2] != style.shape[:2]:
        raise ValueError(f"content {tuple(content.shape)} and style {tuple(style.shape)} differ in N or C")
    return adain_with_stats(content, calc_mean_std(style, eps), eps)


def blend(stylised: torch.Tensor, content: torch.Tensor, alpha: float | torch.Tensor) -> torch.Tensor:
    """alpha * AdaIN(x, y) + (1 - alpha) * x; alpha 0 returns the content unchanged.

    ``alpha`` is a number or a strength map (N, 1, h, w) in [0, 1], resized to the features' size
    (so one map serves every scale).
    """
    if isinstance(alpha, torch.Tensor):
        _check_features(alpha, "strength map")
        if alpha.shape[1] != 1:
            raise ValueError(f"strength map must have one channel, got {tuple(alpha.shape)}")
        if alpha.shape[2:] != content.shape[2:]:
            alpha = torch.nn.functional.interpolate(alpha, size=content.shape[2:], mode="bilinear", align_corners=False)
        alpha = alpha.to(content.dtype)
        return stylised * alpha + content * (1 - alpha)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"blend strength must be in [0, 1], got {alpha}")
    if alpha == 0.0:
        return content
    return stylised * alpha + content * (1 - alpha)


def masked_adain(
    content: torch.Tensor,
    style: torch.Tensor,
    content_mask: torch.Tensor,
    style_mask: torch.Tensor,
    eps: float = EPS,
) -> torch.Tensor:
    """AdaIN inside a region: pixels of ``content_mask`` take the statistics of ``style_mask``'s region.

    Outside the content region the features are left as they were; the masks are soft (0..1).
    """
    c = masked_mean_std(content, content_mask, eps)
    s = masked_mean_std(style, style_mask, eps)
    moved = s.std * (content - c.mean) / c.std + s.mean
    m = content_mask
    if m.shape[2:] != content.shape[2:]:
        m = torch.nn.functional.interpolate(m.float(), size=content.shape[2:], mode="bilinear", align_corners=False)
    m = m.to(content.dtype)
    return moved * m + content * (1 - m)
