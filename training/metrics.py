"""Image-quality scores for colorization results, on float RGB arrays (H, W, 3) in [0, 1]."""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

# Identical images have an infinite PSNR, which neither averages nor serialises to JSON. The mean
# squared error is floored at 1e-10 instead, so with data_range 1 the score tops out at 100 dB.
PSNR_MSE_FLOOR = 1e-10
PSNR_CAP_DB = 100.0


def _check_pair(image: np.ndarray, target: np.ndarray) -> None:
    if image.shape != target.shape:
        raise ValueError(f"images differ in shape: {image.shape} vs {target.shape}")


def _check_rgb(image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"expected an RGB array shaped (H, W, 3), got {image.shape}")


def psnr(image: np.ndarray, target: np.ndarray, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, capped at ``PSNR_CAP_DB`` for (near-)identical images."""
    _check_pair(image, target)
    diff = np.asarray(image, dtype=np.float64) - np.asarray(target, dtype=np.float64)
    mse = max(float(np.mean(diff * diff)), PSNR_MSE_FLOOR * data_range**2)
    return float(10.0 * np.log10(data_range**2 / mse))


def ssim(image: np.ndarray, target: np.ndarray, data_range: float = 1.0) -> float:
    """Mean structural similarity over the three RGB channels (skimage defaults, 7x7 window)."""
    _check_pair(image, target)
    _check_rgb(image)
    value = structural_similarity(
        np.asarray(image, dtype=np.float64),
        np.asarray(target, dtype=np.float64),
        channel_axis=-1,
        data_range=data_range,
    )
    return float(value)


def colorfulness(image: np.ndarray) -> float:
    """Hasler and Suesstrunk (2003) colourfulness M of sRGB in [0, 1], in 0..255 units.

    With the opponent channels rg = R - G and yb = (R + G) / 2 - B,
    M = sqrt(std(rg)^2 + std(yb)^2) + 0.3 * sqrt(mean(rg)^2 + mean(yb)^2). Grey images score 0;
    the paper calls about 33 "moderately" and 59 "quite" colourful.
    """
    _check_rgb(image)
    rgb = np.asarray(image, dtype=np.float64) * 255.0
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg = red - green
    yb = 0.5 * (red + green) - blue
    spread = np.hypot(rg.std(), yb.std())
    offset = np.hypot(rg.mean(), yb.mean())
    return float(spread + 0.3 * offset)
