"""Losses of both sub-nets.

Colorization sub-net: Huber((1 + lambda*M) * pred, (1 + lambda*M) * gt) on normalised ab (hinted
pixels weigh 1 + lambda), optionally plus a cross-entropy over quantised ab bins with class
rebalancing (Zhang et al. 2016) or its focal variant, read from the 529-class side branch.
Decoder: 0.8 * L2 reconstruction + 0.2 * perceptual (content + Gram style on frozen encoder features).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from core.color import normalize_ab

AB_BIN = 10.0
AB_GRID = 23  # 23 x 23 = 529 bins covering a, b in [-110, 110]


def weighted_huber(pred_ab: torch.Tensor, gt_ab: torch.Tensor, mask: torch.Tensor, lam: float = 10.0, delta: float = 1.0) -> torch.Tensor:
    """Huber((1 + lam*M) * pred, (1 + lam*M) * gt) on ab / AB_NORM, averaged over pixels."""
    weight = 1.0 + lam * mask
    return F.huber_loss(weight * normalize_ab(pred_ab), weight * normalize_ab(gt_ab), delta=delta)


def ab_to_class(ab: torch.Tensor) -> torch.Tensor:
    """ab (N, 2, H, W) -> bin index (N, H, W) on the 23 x 23 grid of 10-unit bins."""
    idx = ((ab + AB_BIN * (AB_GRID // 2) + AB_BIN / 2) / AB_BIN).floor().clamp(0, AB_GRID - 1).long()
    return idx[:, 0] * AB_GRID + idx[:, 1]


def class_to_ab(index: torch.Tensor) -> torch.Tensor:
    a = (index // AB_GRID).float() * AB_BIN - AB_BIN * (AB_GRID // 2)
    b = (index % AB_GRID).float() * AB_BIN - AB_BIN * (AB_GRID // 2)
    return torch.stack((a, b), dim=1)


def rebalancing_weights(prior: torch.Tensor, mix: float = 0.5) -> torch.Tensor:
    """Zhang 2016's class weights: w ∝ ((1 - mix) * prior + mix / Q)^-1, normalised so E_prior[w] = 1.

    ``mix`` must be positive: without the uniform share, bins the prior never saw would weigh infinitely.
    """
    if not 0.0 < mix <= 1.0:
        raise ValueError(f"the rebalancing mix must be in (0, 1], got {mix}")
    q = prior.numel()
    smoothed = (1 - mix) * prior + mix / q
    weights = 1.0 / smoothed
    return weights / (prior * weights).sum()


def classification_loss(
    logits: torch.Tensor, gt_ab: torch.Tensor, class_weights: torch.Tensor | None = None, focal_gamma: float = 0.0
) -> torch.Tensor:
    """Cross-entropy over ab bins at the logits' resolution (the side branch runs at 1/4 size)."""
    target_ab = F.adaptive_avg_pool2d(gt_ab, logits.shape[2:])
    target = ab_to_class(target_ab)
    log_p = F.log_softmax(logits, dim=1)
    nll = -log_p.gather(1, target[:, None])[:, 0]
    if focal_gamma > 0:
        nll = nll * (1 - nll.neg().exp()) ** focal_gamma
    if class_weights is not None:
        nll = nll * class_weights.to(nll.device)[target]
    return nll.mean()


def gram(feat: torch.Tensor) -> torch.Tensor:
    n, c, h, w = feat.shape
    flat = feat.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def perceptual_loss(
    output_feats: dict[str, torch.Tensor],
    content_feats: dict[str, torch.Tensor],
    style_feats: dict[str, torch.Tensor],
    level_weights: Sequence[float] | None = None,
    style_weight: float = 1.0,
    relative: bool = False,
) -> torch.Tensor:
    """Content (MSE to the ground truth's features) + Gram style (to the reference's), per level.

    With ``relative`` each level's content error is divided by the mean square of the truth's
    features and its style error by that of the reference's Gram matrix (both held constant), so
    every level counts alike whatever the encoder's feature scale. EfficientNet's block outputs,
    unlike VGG's ReLU maps, are large and unbounded: their raw errors would be ~1000 times the
    pixel MSE they are added to.
    """
    names = list(output_feats)
    weights = list(level_weights) if level_weights is not None else [1.0] * len(names)
    total = output_feats[names[0]].new_zeros(())
    for weight, name in zip(weights, names):
        out, content = output_feats[name], content_feats[name]
        out_gram, style_gram = gram(out), gram(style_feats[name])
        content_term = F.mse_loss(out, content)
        style_term = F.mse_loss(out_gram, style_gram)
        if relative:
            content_term = content_term / content.detach().pow(2).mean().clamp(min=1e-8)
            style_term = style_term / style_gram.detach().pow(2).mean().clamp(min=1e-8)
        total = total + weight * (content_term + style_weight * style_term)
    return total / sum(weights)


def decoder_loss(output_rgb: torch.Tensor, target_rgb: torch.Tensor, perceptual: torch.Tensor) -> torch.Tensor:
    return 0.8 * F.mse_loss(output_rgb, target_rgb) + 0.2 * perceptual
